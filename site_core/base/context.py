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


#: The practice settings model, named by its label: the layers below it (money, phones, themes,
#: the module registry) read a practice's settings, and the model's fields are built from them
#: (currencies, regions, themes, module choices). They look the model up in Django's app registry
#: at run time, as Django does for AUTH_USER_MODEL, instead of importing it back.
PRACTICE_SETTINGS_MODEL = "site_core.PracticeSettings"


def practice_settings(site=None):
    """The settings of ``site``'s practice (the site being served when left out), or None
    outside a request with no site given. Read once per request for the request's site."""
    from django.apps import apps

    request = get_current_request()
    if site is None:
        site = current_site()
        if site is None:
            return None
    model = apps.get_model(PRACTICE_SETTINGS_MODEL)
    if request is not None and getattr(request, "_cabinet_site", None) == site:
        return model.for_request(request)
    return model.for_site(site)
