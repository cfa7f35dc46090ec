from wagtail import hooks

from modules.payments_stripe.provider import StripeProvider
from site_core.modules import hooks as cabinet_hooks


@hooks.register(cabinet_hooks.REGISTER_PAYMENT_PROVIDERS)
def stripe_provider():
    return [StripeProvider()]
