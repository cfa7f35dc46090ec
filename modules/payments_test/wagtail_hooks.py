from wagtail import hooks

from modules.payments_test.provider import TestCardProvider
from site_core.modules import hooks as cabinet_hooks


@hooks.register(cabinet_hooks.REGISTER_PAYMENT_PROVIDERS)
def test_provider():
    return [TestCardProvider()]
