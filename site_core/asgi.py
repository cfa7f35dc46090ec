"""ASGI entry point: HTTP through Django, WebSockets through Channels.

Served by uvicorn (`make run`, or several workers in production).
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "site_core.settings.dev")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from wagtail import hooks as wagtail_hooks  # noqa: E402

from site_core.hooks import REGISTER_WEBSOCKET_ROUTES  # noqa: E402


def websocket_routes():
    routes = []
    for fn in wagtail_hooks.get_hooks(REGISTER_WEBSOCKET_ROUTES):
        routes.extend(fn())
    return routes


def site_for_scope(scope):
    """The Wagtail Site a WebSocket connection was opened on (by Host header)."""
    from wagtail.models import Site

    headers = dict(scope.get("headers") or [])
    host = headers.get(b"host", b"").decode("latin-1")
    hostname, _, port = host.partition(":")
    port = int(port) if port.isdigit() else 80
    sites = Site.objects.select_related("root_page")
    return (
        sites.filter(hostname=hostname, port=port).first()
        or sites.filter(hostname=hostname).first()
        or sites.filter(is_default_site=True).first()
    )


application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_routes()))),
    }
)
