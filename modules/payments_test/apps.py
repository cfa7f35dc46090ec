from django.utils.translation import gettext_lazy as _

from site_core import modules


class PaymentsTestConfig(modules.ModuleConfig):
    name = "modules.payments_test"
    label = "payments_test"
    verbose_name = _("Test payments")
    description = _("A simulated card for the demo and the tests (only with DEBUG or CABINET_TEST_PAYMENTS=1).")
    url_prefix = "payments-test/"
