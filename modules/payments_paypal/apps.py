from django.utils.translation import gettext_lazy as _

from site_core import modules


class PaymentsPayPalConfig(modules.ModuleConfig):
    name = "modules.payments_paypal"
    label = "payments_paypal"
    verbose_name = _("PayPal payments")
    description = _("Clients pay with their PayPal account (PayPal Checkout). Offered once the PayPal app's "
                    "credentials are set (PAYPAL_CLIENT_ID, PAYPAL_CLIENT_SECRET).")
    url_prefix = "payments-paypal/"

    def ready(self):
        from modules.payments_paypal import checks  # noqa: F401  (registers the system checks)
