"""Kernel views: errors, health, robots."""

import logging

from django.db import connection
from django.http import (
    HttpResponse,
    HttpResponsePermanentRedirect,
    HttpResponseServerError,
    JsonResponse,
)
from django.template import loader
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)


def server_error(request, *args, **kwargs):
    """The themed 500 page; a plain one if even that cannot render."""
    try:
        template = loader.get_template("500.html")
        return HttpResponseServerError(template.render({"request": request}, request))
    except Exception:  # the error page must never raise
        logger.exception("The 500 page itself failed to render")
        return HttpResponseServerError(
            "<!doctype html><title>Erreur</title><h1>Erreur du serveur</h1>"
            "<p>Une erreur est survenue. Veuillez réessayer plus tard.</p>",
            content_type="text/html",
        )


@never_cache
@require_GET
def health(request):
    """Liveness and database reachability, for a load balancer."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


@csrf_exempt
def api_not_found(request, *args, **kwargs):
    """Any method, any unknown path under /api/v1/: the API's own 404 body."""
    from django.utils.translation import gettext as _

    from site_core.api import error

    return error(request, 404, _("No such API endpoint."))


@require_GET
def favicon(request):
    """Browsers and crawlers ask for /favicon.ico whatever the page links: send them to the icon."""
    from django.templatetags.static import static

    return HttpResponsePermanentRedirect(static("site_core/favicon.svg"))


@require_GET
def robots(request):
    lines = ["User-agent: *", "Disallow: /admin/", "Disallow: /accounts/", "Disallow: /en/accounts/",
             f"Sitemap: {request.build_absolute_uri('/sitemap.xml')}"]
    return HttpResponse("\n".join(lines) + "\n", content_type="text/plain")
