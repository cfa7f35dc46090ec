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
from django.urls import re_path  # noqa: E402

from site_core.modules.hooks import REGISTER_WEBSOCKET_ROUTES, all_hooks  # noqa: E402


async def unknown_socket(scope, receive, send):
    """A WebSocket upgrade to a path no module serves: 404, never a server error.

    Where the server offers the ASGI "WebSocket denial response" extension
    (uvicorn does), the handshake is answered ``404 Not Found``; elsewhere the
    connection is closed before it is accepted (the server answers 403).
    """
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    if "websocket.http.response" in scope.get("extensions", {}):
        await send({
            "type": "websocket.http.response.start",
            "status": 404,
            "headers": [(b"content-type", b"text/plain; charset=utf-8")],
        })
        await send({"type": "websocket.http.response.body", "body": b"Not found"})
    else:
        await send({"type": "websocket.close", "code": 4404})


def websocket_routes():
    """Every module's WebSocket routes, then a catch-all that answers 404."""
    routes = []
    for fn in all_hooks(REGISTER_WEBSOCKET_ROUTES):
        routes.extend(fn())
    routes.append(re_path(r"", unknown_socket))
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
