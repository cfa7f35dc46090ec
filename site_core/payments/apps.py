from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PaymentsConfig(AppConfig):
    """The payments kernel: orders, payments, refunds, promo codes, the provider registry.

    Part of the kernel (always on); the providers themselves are modules.
    """

    name = "site_core.payments"
    label = "payments"
    verbose_name = _("Payments")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from site_core.base import schedules

        schedules.register("cabinet.payments.retry_refunds", "site_core.payments.tasks.retry_pending_refunds", 10)
