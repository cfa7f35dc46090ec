from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SiteCoreConfig(AppConfig):
    name = "site_core"
    label = "site_core"
    verbose_name = _("Cabinet")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.db.models.signals import post_migrate

        from site_core import checks, receivers  # noqa: F401  (registers checks, connects receivers)
        from site_core.schedules import ensure_schedules

        post_migrate.connect(ensure_schedules, sender=self, dispatch_uid="cabinet-schedules")
