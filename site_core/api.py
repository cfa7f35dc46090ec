"""The JSON API under /api/v1/ (django-ninja), its schema at /api/v1/openapi.json.

The kernel owns the one NinjaAPI; modules add routers through the
REGISTER_API_ROUTERS hook. Errors have one shape: ``{"detail": str, "code": str}``
(and ``field`` when one input is at fault).
"""

from ninja import NinjaAPI
from ninja.errors import HttpError
from wagtail import hooks as wagtail_hooks

from site_core.context import current_site
from site_core.hooks import REGISTER_API_ROUTERS
from site_core.modules import is_enabled

api = NinjaAPI(title="Cabinet API", version="1", urls_namespace="api_v1",
               description="Experts, offerings, free slots and bookings of a Cabinet practice.")


def require_module(request, label):
    """404 where module ``label`` is off for the site being served."""
    site = current_site()
    if site is None or not is_enabled(label, site):
        raise HttpError(404, "Not found")
    return site


def _register_routers():
    for fn in wagtail_hooks.get_hooks(REGISTER_API_ROUTERS):
        prefix, router = fn()
        api.add_router(prefix, router)


_register_routers()
