from wagtail import hooks

from modules.payments_paypal.provider import PayPalProvider
from site_core.modules import hooks as cabinet_hooks


@hooks.register(cabinet_hooks.REGISTER_PAYMENT_PROVIDERS)
def paypal_provider():
    return [PayPalProvider()]
