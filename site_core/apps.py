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
        from site_core.services import setup_all_practices

        post_migrate.connect(ensure_schedules, sender=self, dispatch_uid="cabinet-schedules")
        # After every app's migrations (and their permissions): a module added since gets its
        # permissions into each practice's administrators group.
        post_migrate.connect(setup_all_practices, dispatch_uid="cabinet-practice-groups")
