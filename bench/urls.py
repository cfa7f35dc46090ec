"""The site's URLs plus /bench/plain/, the reference every page is compared with.

The plain view goes through the same server and the same middleware stack as
the pages, but touches no database and renders no template, so a page's ratio
to it is what Wagtail, the templates and the queries cost.
"""

from django.http import HttpResponse
from django.urls import path

from site_core.urls import handler500 as handler500  # noqa: F401
from site_core.urls import urlpatterns as site_urlpatterns

PLAIN_BODY = b"<!doctype html><title>plain</title><p>Plain Django view.</p>\n"


def plain(request):
    return HttpResponse(PLAIN_BODY, content_type="text/html; charset=utf-8")


urlpatterns = [
    path("bench/plain/", plain, name="bench_plain"),
    *site_urlpatterns,
]
