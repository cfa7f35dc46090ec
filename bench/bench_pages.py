"""Public pages under load, uncached and cached, against a plain Django view.

One throwaway SQLite database gets the migrations and the demo (seed_demo);
then, twice (CABINET_PAGE_CACHE_SECONDS=0, then 300), one uvicorn worker is
started on a free port with bench.settings and each URL is loaded by a
closed-loop generator (asyncio + httpx, CONCURRENCY connections for SECONDS
seconds, after a warm-up). Each page's figures are divided by the plain
view's from the same server run, so the ratios hold from machine to machine
better than the absolute figures do.

Knobs (environment): BENCH_SECONDS (4), BENCH_WARMUP_SECONDS (1),
BENCH_CONCURRENCY (8), BENCH_KEEP=1 keeps the temporary directory.
"""

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

from bench.report import BenchError, Section

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

SECONDS = float(os.environ.get("BENCH_SECONDS", "4"))
WARMUP_SECONDS = float(os.environ.get("BENCH_WARMUP_SECONDS", "1"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "8"))
MAX_REQUESTS = 100_000  # per URL: bounds a run on a very fast machine
STARTUP_TIMEOUT = 60
REQUEST_TIMEOUT = 10

# The demo's default practice, "Cabinet Lumière", is the Wagtail Site on
# 127.0.0.1:8000: naming it in the Host header picks it whatever the port.
HOST = "127.0.0.1:8000"

# (label, path, text the body must contain, served by Wagtail and so cacheable)
TARGETS = [
    ("plain view", "/bench/plain/", "Plain Django view", False),
    ("expert index", "/experts/", "Sophie Laurent", True),
    ("expert page", "/sophie-laurent/", "Sophie Laurent", True),
    # The booking module's free slots for a week (target: p95 <= 3x the plain view's).
    ("slots API (7 days)", "/api/v1/experts/sophie-laurent/slots?mode=chat&product=long&days=7", '"slots"', False),
]
MODES = [("uncached", 0), ("cached", 300)]


def run():
    tmp = Path(tempfile.mkdtemp(prefix="cabinet-bench-"))
    try:
        env = child_env(tmp)
        prepare_database(env)
        rows, notes, errors = [], [], []
        for mode, seconds in MODES:
            mode_rows, mode_notes, mode_errors = measure_mode(env, tmp, mode, seconds)
            rows.extend(mode_rows)
            notes.extend(mode_notes)
            errors.extend(mode_errors)
    finally:
        if os.environ.get("BENCH_KEEP") == "1":
            print(f"(kept {tmp})")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    notes.insert(0, (
        f"one uvicorn worker, {CONCURRENCY} concurrent keep-alive connections, "
        f"{SECONDS:g} s per URL after {WARMUP_SECONDS:g} s warm-up; SQLite, local-memory cache; "
        f"{os.cpu_count()} CPU(s), client and server on the same machine"
    ))
    notes.insert(1, (
        "thru/plain = req/s of the page / req/s of the plain view (1.00 = as fast; lower is slower); "
        "p50/plain, p95/plain = latency of the page / latency of the plain view (higher is slower); "
        "srv ms/req = server CPU time per request"
    ))
    return [Section(title="Pages vs a plain Django view (same server run)", rows=rows,
                    notes=notes, errors=errors)]


# --- Setup -------------------------------------------------------------------

def child_env(tmp):
    env = dict(os.environ)
    # A real Redis or database in the caller's environment must not leak in:
    # the bench measures the embedded default, on data it owns.
    for name in ("REDIS_URL", "CABINET_PAGE_CACHE_SECONDS", "LOG_LEVEL", "DATABASE_CONN_MAX_AGE"):
        env.pop(name, None)
    env.update({
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}",
        "MEDIA_ROOT": str(tmp / "media"),
        "PYTHONUNBUFFERED": "1",
    })
    return env


def manage(env, *args):
    result = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    if result.returncode != 0:
        raise BenchError(
            f"manage.py {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


def prepare_database(env):
    t0 = time.monotonic()
    manage(env, "migrate", "--noinput")
    manage(env, "seed_demo")
    print(f"database migrated and seeded in {time.monotonic() - t0:.1f} s", flush=True)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """One uvicorn worker serving site_core.asgi with bench.settings."""

    def __init__(self, env, tmp, mode, cache_seconds):
        self.env = {**env, "CABINET_PAGE_CACHE_SECONDS": str(cache_seconds)}
        self.stderr_path = tmp / f"server-{mode}.log"
        self.proc = None
        self.port = None

    def start(self):
        for _attempt in range(3):
            self.port = free_port()
            self.stderr_file = open(self.stderr_path, "w")
            self.proc = subprocess.Popen(
                [PYTHON, "-m", "uvicorn", "site_core.asgi:application",
                 "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1",
                 "--log-level", "warning", "--no-access-log", "--lifespan", "off"],
                cwd=ROOT, env=self.env, stdout=self.stderr_file, stderr=subprocess.STDOUT,
            )
            if self.wait_ready():
                return
            log = self.log()
            self.stop()
            if "address already in use" not in log.lower():
                raise BenchError(f"the server did not start; its output:\n{log or '(nothing)'}")
        raise BenchError(f"the server could not bind a port; its output:\n{self.log()}")

    def wait_ready(self):
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                httpx.get(f"http://127.0.0.1:{self.port}/bench/plain/", headers={"Host": HOST}, timeout=2)
                return True
            except httpx.HTTPError:
                time.sleep(0.1)
        return False

    def cpu_seconds(self):
        """User + system CPU the server has used (Linux /proc), or None."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            return None

    def log(self):
        try:
            return self.stderr_path.read_text().strip()
        except OSError:
            return ""

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if getattr(self, "stderr_file", None) is not None:
            self.stderr_file.close()
            self.stderr_file = None


# --- Load --------------------------------------------------------------------

def percentile(sorted_values, pct):
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return None
    rank = max(1, -(-len(sorted_values) * pct // 100))  # ceil
    return sorted_values[int(rank) - 1]


async def load(client, path, seconds, concurrency):
    latencies, statuses = [], Counter()
    headers_seen = Counter()
    issued = 0
    deadline = time.perf_counter() + seconds

    async def worker():
        nonlocal issued
        while issued < MAX_REQUESTS and time.perf_counter() < deadline:
            issued += 1
            t0 = time.perf_counter()
            try:
                response = await client.get(path)
            except httpx.HTTPError as exc:
                statuses[type(exc).__name__] += 1
                continue
            latencies.append(time.perf_counter() - t0)
            statuses[response.status_code] += 1
            headers_seen[response.headers.get("x-cabinet-cache", "none")] += 1

    cpu0 = time.process_time()
    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - t0
    return {
        "latencies": sorted(latencies),
        "statuses": statuses,
        "cache": headers_seen,
        "elapsed": elapsed,
        "client_cpu": time.process_time() - cpu0,
    }


async def check(client, label, path, marker, expect_cache):
    """One request: 200, the expected text, and the cache header the mode implies."""
    response = await client.get(path)
    if response.status_code != 200:
        raise BenchError(f"{label} {path}: HTTP {response.status_code}\n{response.text[:2000]}")
    if marker not in response.text:
        raise BenchError(f"{label} {path}: {marker!r} not in the page (wrong site?)")
    header = response.headers.get("x-cabinet-cache")
    if header != expect_cache:
        raise BenchError(f"{label} {path}: X-Cabinet-Cache is {header!r}, expected {expect_cache!r}")


async def measure_urls(server, mode, cache_seconds):
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{server.port}", headers={"Host": HOST}, limits=limits,
        timeout=REQUEST_TIMEOUT, follow_redirects=False,
    ) as client:
        results = {}
        for label, path, marker, cacheable in TARGETS:
            await load(client, path, WARMUP_SECONDS, CONCURRENCY)
            expect = "hit" if (cache_seconds and cacheable) else None
            await check(client, label, path, marker, expect)
            cpu0 = server.cpu_seconds()
            result = await load(client, path, SECONDS, CONCURRENCY)
            cpu1 = server.cpu_seconds()
            result["server_cpu"] = None if cpu0 is None or cpu1 is None else cpu1 - cpu0
            result["expect_cache"] = expect
            results[label] = result
        return results


def measure_mode(env, tmp, mode, cache_seconds):
    server = Server(env, tmp, mode, cache_seconds)
    try:
        server.start()
        results = asyncio.run(measure_urls(server, mode, cache_seconds))
    finally:
        server.stop()
    log = server.log()

    rows, notes, errors = [], [], []
    plain = summarise(results["plain view"])
    for label, _path, _marker, _cacheable in TARGETS:
        result = results[label]
        figures = summarise(result)
        ok = result["statuses"].get(200, 0)
        bad = sum(count for status, count in result["statuses"].items() if status != 200)
        rows.append({
            "page": label,
            "mode": mode,
            "requests": ok + bad,
            "errors": bad,
            "req/s": figures["rps"],
            "p50 ms": figures["p50"],
            "p95 ms": figures["p95"],
            "srv ms/req": figures["cpu_per_req"],
            "thru/plain": ratio(figures["rps"], plain["rps"]),
            "p50/plain": ratio(figures["p50"], plain["p50"]),
            "p95/plain": ratio(figures["p95"], plain["p95"]),
        })
        if bad:
            detail = ", ".join(f"{status}: {count}" for status, count in result["statuses"].items()
                               if status != 200)
            errors.append(f"{label} ({mode}): {bad} of {ok + bad} requests failed ({detail})")
        expect = result["expect_cache"]
        seen = result["cache"]
        if expect == "hit" and seen.get("hit", 0) != sum(seen.values()):
            errors.append(f"{label} ({mode}): not every response came from the cache ({dict(seen)})")
        if expect is None and seen.get("none", 0) != sum(seen.values()):
            errors.append(f"{label} ({mode}): X-Cabinet-Cache seen with the cache off ({dict(seen)})")
        if label == "plain view" and result["elapsed"]:
            client_share = result["client_cpu"] / result["elapsed"]
            if client_share > 0.8:
                notes.append(
                    f"{mode}: the load generator used {client_share:.0%} of a core on the plain view: "
                    "the plain figure may be client-bound (ratios then flatter the pages)"
                )
    if log:
        (errors if errors else notes).append(f"server output ({mode}):\n{log[-4000:]}")
    return rows, notes, errors


def summarise(result):
    latencies = result["latencies"]
    ok = result["statuses"].get(200, 0)
    cpu = result.get("server_cpu")
    total = sum(result["statuses"].values())
    return {
        "rps": ok / result["elapsed"] if result["elapsed"] else None,
        "p50": ms(percentile(latencies, 50)),
        "p95": ms(percentile(latencies, 95)),
        "cpu_per_req": ms(cpu / total) if cpu is not None and total else None,
    }


def ms(seconds):
    return None if seconds is None else seconds * 1000


def ratio(value, reference):
    if value is None or not reference:
        return None
    return value / reference
