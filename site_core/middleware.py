"""The kernel's middleware: request context, module gate, anonymous page cache."""

import hashlib

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.utils import timezone, translation
from wagtail.models import Page, Site

from site_core.access import OWNER_ONLY_ADMIN_VIEWS, admin_page_refused, is_install_owner
from site_core.base.context import current_site, reset_current_request, set_current_request
from site_core.modules import enabled_labels, get_module, is_enabled
from site_core.pages import cache as page_cache

CSRF_FIELD = b'name="csrfmiddlewaretoken"'


class RejectNulMiddleware:
    """400 for a path or query string holding a NUL character (``%00``).

    No page, slug or reservation code contains one, and PostgreSQL refuses it in any text
    value, so a lookup with it would end in a server error instead of a clear refusal.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path or "%00" in request.META.get("QUERY_STRING", ""):
            return HttpResponseBadRequest("NUL character in the address.", content_type="text/plain")
        return self.get_response(request)


class ApiLanguageMiddleware:
    """The JSON API answers in the language the client asks for (``Accept-Language``).

    Its URLs are outside ``i18n_patterns``, where ``LocaleMiddleware`` always picks the
    default language; an API client has no URL prefix or cookie to choose with.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/"):
            language = translation.get_language_from_request(request, check_path=False)
            translation.activate(language)
            request.LANGUAGE_CODE = translation.get_language()
        return self.get_response(request)


class SiteContextMiddleware:
    """Makes the request reachable from template loaders and hooks."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = set_current_request(request)
        try:
            return self.get_response(request)
        finally:
            reset_current_request(token)


class ModuleGateMiddleware:
    """A module that is off for this site answers 404 on all its URLs.

    Module URLs are included under the module's label as namespace
    (site_core.urls), so the gate is one check here, not one per view.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        if match is None:
            return None
        site = current_site()
        for namespace in match.namespaces:
            if get_module(namespace) is not None and not is_enabled(namespace, site):
                raise Http404("This module is not enabled on this site.")
        if match.view_name in OWNER_ONLY_ADMIN_VIEWS and not is_install_owner(request.user):
            raise PermissionDenied
        # A practice's staff never open another practice's pages (site_core.access).
        if admin_page_refused(getattr(request, "user", None), match):
            raise PermissionDenied
        return None


class PageCacheMiddleware:
    """Caches the pages Wagtail serves to anonymous visitors.

    Only a GET from a visitor without a session, answered 200 without
    cookies, without a CSRF token and not marked private, is stored. The key
    holds the host, the language and the full path; the entry holds the page
    with the generations of what it shows (site_core.pages.cache), read before it was
    rendered, so a change committed meanwhile makes it stale at once, in every
    process. It is kept ``CABINET_PAGE_CACHE_SECONDS`` at most, less when what it
    shows changes by itself sooner (an "available now" that runs out).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        pending = getattr(request, "_cabinet_page_cache", None)
        if pending and self._storable(response):
            response = response.render() if hasattr(response, "render") and not response.is_rendered else response
            # A form's CSRF token belongs to one visitor. Usually the CSRF cookie
            # set with it already keeps the page out, but not when tokens live
            # in the session (CSRF_USE_SESSIONS): the session cookie is only
            # added after this middleware, so the page itself is the tell.
            if CSRF_FIELD in response.content:
                return response
            key, page, site, tags, generations, started = pending
            # The moments are looked up from when rendering began (what the page shows
            # was true then) and counted down from now, when the cache starts to keep it.
            moment = page_cache.next_change(page, site, tags, started, enabled_labels(site))
            seconds = page_cache.seconds_until(moment, timezone.now(), settings.CABINET_PAGE_CACHE_SECONDS)
            if seconds > 0:
                cache.set(key, {"generations": generations, "content": response.content}, seconds)
            response["X-Cabinet-Cache"] = "miss"
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        seconds = getattr(settings, "CABINET_PAGE_CACHE_SECONDS", 0)
        if not seconds or request.method not in ("GET", "HEAD"):
            return None
        match = request.resolver_match
        if match is None or match.url_name != "wagtail_serve":
            return None
        if settings.SESSION_COOKIE_NAME in request.COOKIES or "messages" in request.COOKIES:
            return None
        raw = "|".join(
            [request.get_host(), getattr(request, "LANGUAGE_CODE", ""), request.get_full_path()]
        )
        key = f"cabinet:page:{hashlib.sha256(raw.encode()).hexdigest()}"
        entry = cache.get(key)
        if isinstance(entry, dict):
            stored = entry["generations"]
            if page_cache.generations(tag for tag, _value in stored) == stored:
                response = HttpResponse(entry["content"])
                response["X-Cabinet-Cache"] = "hit"
                response["Content-Language"] = getattr(request, "LANGUAGE_CODE", "")
                return response
        # Wagtail's serve view routes the same way and reuses this result.
        path = view_args[0] if view_args else view_kwargs.get("path", "")
        route = Page.route_for_request(request, path)
        if route is None:
            return None
        page = route[0]
        site = Site.find_for_request(request)
        tags = page_cache.page_tags(page, site)
        # Read before the page is rendered: a change committed while it renders leaves
        # this copy stale (site_core.pages.cache bumps after commit, never before).
        started = timezone.now()
        request._cabinet_page_cache = (key, page, site, tags, page_cache.generations(tags), started)
        return None

    @staticmethod
    def _storable(response):
        if response.status_code != 200 or response.cookies or response.streaming:
            return False
        if "private" in response.get("Cache-Control", "") or "no-store" in response.get("Cache-Control", ""):
            return False
        vary = response.get("Vary", "")
        return "Cookie" not in vary and "cookie" not in vary
