"""`make run`: the web server (uvicorn, HTTP + WebSocket) and the task worker, together.

Ctrl-C (or SIGTERM) stops both; if either dies, the other is stopped too.
"""

import os
import signal
import subprocess
import sys
import time

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serves Cabinet with uvicorn and runs the django-q2 worker until interrupted."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", default="8000")

    def handle(self, *args, host, port, **options):
        env = os.environ.copy()
        python = sys.executable
        processes = [
            subprocess.Popen([python, "-m", "uvicorn", "site_core.asgi:application",
                              "--host", host, "--port", str(port)], env=env),
            subprocess.Popen([python, "manage.py", "qcluster"], env=env),
        ]
        self.stdout.write(f"Cabinet on http://{host}:{port}/ — Ctrl-C stops the server and the worker.")
        stopping = False

        def stop(*_args):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping and all(p.poll() is None for p in processes):
                time.sleep(0.5)
        finally:
            for p in processes:
                if p.poll() is None:
                    p.send_signal(signal.SIGINT)
            deadline = time.monotonic() + 10
            for p in processes:
                try:
                    p.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    p.kill()
        failed = [p.args[2] if len(p.args) > 2 else p.args for p in processes if p.returncode not in (0, -2, None) and not stopping]
        if failed:
            raise SystemExit(f"Stopped because a process exited: {failed}")
