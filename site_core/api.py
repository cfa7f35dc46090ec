"""The JSON API under /api/v1/ (django-ninja), its schema at /api/v1/openapi.json.

The kernel owns the one NinjaAPI; modules add routers through the
REGISTER_API_ROUTERS hook. Errors have one shape, whoever raises them:
``{"detail": str, "code": str, "field": str | None}`` (input that does not
validate adds ``errors``, one entry per fault). Input schemas derive from
:class:`InputSchema`. Answers follow the client's ``Accept-Language``.
"""

from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from django.utils.translation import gettext as _
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError
from pydantic import field_validator

from site_core.base.context import current_site
from site_core.modules import is_enabled
from site_core.modules.hooks import REGISTER_API_ROUTERS, all_hooks

api = NinjaAPI(title="Cabinet API", version="1", urls_namespace="api_v1",
               description="Experts, offerings, free slots and bookings of a Cabinet practice.")


class InputSchema(Schema):
    """Base of every API input: text holding a NUL character is refused (422), since
    PostgreSQL cannot store it."""

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value):
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain a NUL character")
        return value


_CODES = {400: "invalid", 401: "not_authenticated", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
          409: "conflict", 413: "too_large", 429: "too_many_requests"}


def error(request, status, detail, *, code=None, field=None, **extra):
    """The API's error response."""
    body = {"detail": str(detail), "code": code or _CODES.get(status, "invalid"), "field": field, **extra}
    return api.create_response(request, body, status=status)


def _validation_error(request, exc):
    faults = []
    for fault in exc.errors:
        location = [str(part) for part in fault.get("loc", ()) if part not in ("body", "query", "path", "header")]
        # The first element after the source is the parameter name ninja gives the schema.
        if len(location) > 1 and fault.get("loc", [None])[0] == "body":
            location = location[1:]
        faults.append({"field": ".".join(location) or None, "detail": fault.get("msg", "")})
    first = faults[0] if faults else {"field": None, "detail": _("The request is not valid.")}
    return error(request, 422, first["detail"], code="invalid", field=first["field"], errors=faults)


def _http_error(request, exc):
    detail = exc.message
    if exc.status_code == 400 and detail == "Cannot parse request body":
        detail = _("The request body is not valid JSON.")
    elif isinstance(exc, AuthenticationError):
        detail = _("Log in first.")
    return error(request, exc.status_code, detail)


def _not_found(request, exc):
    return error(request, 404, _("Not found."))


def _too_big(request, exc):
    return error(request, 413, _("The request is too large."))


api.add_exception_handler(ValidationError, _validation_error)
api.add_exception_handler(RequestDataTooBig, _too_big)
api.add_exception_handler(HttpError, _http_error)
api.add_exception_handler(Http404, _not_found)


def require_module(request, label):
    """404 where module ``label`` is off for the site being served."""
    site = current_site()
    if site is None or not is_enabled(label, site):
        raise HttpError(404, "Not found")
    return site


def _register_routers():
    for fn in all_hooks(REGISTER_API_ROUTERS):
        prefix, router = fn()
        api.add_router(prefix, router)


_register_routers()
