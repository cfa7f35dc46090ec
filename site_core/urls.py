from django.conf import settings
from django.conf.urls.i18n import i18n_patterns
from django.urls import include, path, re_path
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls
from wagtail.contrib.sitemaps.views import sitemap
from wagtail.documents import urls as wagtaildocs_urls

from site_core import views
from site_core.access import views as access_views
from site_core.api import api
from site_core.modules import all_modules
from site_core.payments.urls import webhook_urlpatterns


def module_urlpatterns():
    """Each module's urls.py under its prefix, namespaced by its label.

    The namespace is what ModuleGateMiddleware reads to answer 404 where the
    module is off.
    """
    return [
        path(module.url_prefix, include((module.urls_module, module.label), namespace=module.label))
        for module in all_modules()
        if module.url_prefix is not None
    ]


urlpatterns = [
    path("admin/", include(wagtailadmin_urls)),
    path("documents/", include(wagtaildocs_urls)),
    path("sitemap.xml", sitemap),
    path("robots.txt", views.robots),
    path("favicon.ico", views.favicon),
    path("healthz", views.health, name="health"),
    *webhook_urlpatterns,
    path("api/v1/", api.urls),
    # Anything else under /api/v1/ is the API's 404, never Wagtail's page (nor the slash redirect,
    # which cannot redirect a POST).
    re_path(r"^api/v1/", views.api_not_found),
]

urlpatterns += i18n_patterns(
    path("accounts/", include("allauth.urls")),
    path("payments/", include("site_core.payments.urls")),
    path("invitation/<str:token>/", access_views.invitation, name="invitation"),
    *module_urlpatterns(),
    path("", include(wagtail_urls)),
    prefix_default_language=False,
)

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns = static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT) + urlpatterns

handler500 = "site_core.views.server_error"
