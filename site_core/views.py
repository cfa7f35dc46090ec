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


@require_GET
def favicon(request):
    """Browsers and crawlers ask for /favicon.ico whatever the page links: send them to the icon."""
    from django.templatetags.static import static

    return HttpResponsePermanentRedirect(static("site_core/favicon.svg"))


def robots(request):
    lines = ["User-agent: *", "Disallow: /admin/", "Disallow: /accounts/", "Disallow: /en/accounts/",
             f"Sitemap: {request.build_absolute_uri('/sitemap.xml')}"]
    return HttpResponse("\n".join(lines) + "\n", content_type="text/plain")
