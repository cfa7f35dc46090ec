"""A WebSocket upgrade to a path no module serves answers 404 (or is refused), never 500."""

import asyncio
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from asgiref.testing import ApplicationCommunicator
from django.conf import settings


def socket_scope(path, extensions=None):
    scope = {
        "type": "websocket",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"testserver"), (b"origin", b"http://testserver")],
        "subprotocols": [],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    if extensions is not None:
        scope["extensions"] = extensions
    return scope


def run(coroutine):
    """In a thread of its own: the browser tests' Playwright keeps an event loop running in this one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


async def first_answer(scope):
    from site_core.asgi import application

    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "websocket.connect"})
    answer = await communicator.receive_output(timeout=5)
    rest = []
    if answer["type"] == "websocket.http.response.start":
        rest.append(await communicator.receive_output(timeout=5))
    await communicator.wait(timeout=5)
    return answer, rest


@pytest.mark.django_db
def test_an_unknown_path_is_a_404_where_the_server_can_say_so():
    answer, rest = run(first_answer(socket_scope("/ws/no-such-thing/", {"websocket.http.response": {}})))
    assert answer["type"] == "websocket.http.response.start" and answer["status"] == 404
    assert rest == [{"type": "websocket.http.response.body", "body": b"Not found"}]


@pytest.mark.django_db
def test_without_the_denial_extension_the_handshake_is_refused():
    answer, _ = run(first_answer(socket_scope("/anything")))
    assert answer == {"type": "websocket.close", "code": 4404}


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def handshake_status(port, path):
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        f"Origin: http://127.0.0.1:{port}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(request.encode())
        return conn.recv(4096).split(b"\r\n", 1)[0].decode()


def test_uvicorn_answers_404_to_an_upgrade_on_an_unknown_path(tmp_path):
    """The real server, as `make run` and production start it (the 500 was seen there)."""
    port = free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "site_core.settings.test", "PYTHONPATH": str(settings.BASE_DIR)}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "site_core.asgi:application", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning"],
        cwd=settings.BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"uvicorn did not start: {server.stdout.read().decode()}") from None
                time.sleep(0.2)  # polling for the port to open, not waiting out a race
        for path in ("/ws/unknown/", "/no-such-socket", "/api/v1/experts"):
            assert handshake_status(port, path) == "HTTP/1.1 404 Not Found", path
    finally:
        server.terminate()
        output = server.communicate(timeout=20)[0].decode()
    assert "Traceback" not in output and "Exception in ASGI application" not in output, output
