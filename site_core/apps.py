from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _
from wagtail.images import get_image_model_string

from site_core.pages.cache import ShownOnPages


class SiteCoreConfig(AppConfig):
    name = "site_core"
    label = "site_core"
    verbose_name = _("Cabinet")
    default_auto_field = "django.db.models.BigAutoField"

    #: What every page shows of the kernel's rows (site_core.pages.cache): the pages themselves
    #: (titles in menus and cards, links), who may see them (a page made private must
    #: stop being served from the cache to anyone), languages, images, and each site's
    #: practice settings (name, logo, contact email and phone, modules on).
    shown_on_pages = (
        ShownOnPages("wagtailcore.Page", everywhere=True),
        ShownOnPages("wagtailcore.PageViewRestriction", everywhere=True),
        ShownOnPages("wagtailcore.Locale", everywhere=True),
        ShownOnPages("wagtailcore.Site", everywhere=True),
        ShownOnPages(get_image_model_string(), everywhere=True),
        ShownOnPages("site_core.PracticeSettings", site="site"),
    )

    def ready(self):
        from django.db.models.signals import post_migrate

        from site_core import checks, receivers  # noqa: F401  (registers checks, connects receivers)
        from site_core.access.services import setup_all_practices
        from site_core.base.schedules import ensure_schedules
        from site_core.pages import cache  # noqa: F401  (registers checks, connects receivers)

        cache.connect()
        post_migrate.connect(ensure_schedules, sender=self, dispatch_uid="cabinet-schedules")
        # After every app's migrations (and their permissions): a module added since gets its
        # permissions into each practice's administrators group.
        post_migrate.connect(setup_all_practices, dispatch_uid="cabinet-practice-groups")
