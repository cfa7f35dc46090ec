from django.utils.translation import gettext_lazy as _

from site_core import modules


class PaymentsStripeConfig(modules.ModuleConfig):
    name = "modules.payments_stripe"
    label = "payments_stripe"
    verbose_name = _("Card payments (Stripe)")
    description = _("Clients pay by card (and the other methods of your Stripe account) on the site, with "
                    "Stripe's Payment Element. Offered once the Stripe keys are set (STRIPE_SECRET_KEY, "
                    "STRIPE_PUBLISHABLE_KEY).")

    def ready(self):
        from modules.payments_stripe import checks  # noqa: F401  (registers the system checks)
