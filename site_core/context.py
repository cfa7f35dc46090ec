"""The request being served, for code that is not handed it (template loaders, hooks).

A ContextVar, not a module-level global: each request (thread or asyncio
task) sees its own value, so nothing is shared between requests or processes.
"""

from contextvars import ContextVar

_current_request = ContextVar("cabinet_current_request", default=None)


def get_current_request():
    return _current_request.get()


def set_current_request(request):
    return _current_request.set(request)


def reset_current_request(token):
    _current_request.reset(token)


def current_site():
    """The Wagtail Site of the request being served, or None outside a request."""
    request = get_current_request()
    if request is None:
        return None
    if not hasattr(request, "_cabinet_site"):
        from wagtail.models import Site

        request._cabinet_site = Site.find_for_request(request)
    return request._cabinet_site
