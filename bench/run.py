"""`make bench`: runs every bench/bench_*.py and prints its tables.

    .venv/bin/python bench/run.py            # all benchmarks
    .venv/bin/python bench/run.py pages      # those whose name contains "pages"
    .venv/bin/python bench/run.py --list

Each benchmark module exposes run() -> list[bench.report.Section]. The exit
status is non-zero when a benchmark raised or reported an error, so a run
with failed requests is never mistaken for a good one. Speed targets live
here, never in timed unit tests.
"""

import argparse
import importlib
import signal
import sys
import time
import traceback
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.report import Section, format_section  # noqa: E402


def discover():
    return sorted(path.stem for path in BENCH_DIR.glob("bench_*.py"))


def _terminate(signum, frame):
    # Turn SIGTERM into SystemExit so the benchmarks' finally blocks stop
    # the servers they started.
    raise SystemExit(128 + signum)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="run only the benchmarks whose name contains one of these")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)

    names = discover()
    if args.names:
        names = [name for name in names if any(part in name for part in args.names)]
    if args.list:
        print("\n".join(names))
        return 0
    if not names:
        print("no benchmark matches", file=sys.stderr)
        return 2

    signal.signal(signal.SIGTERM, _terminate)
    failed = []
    started = time.monotonic()
    for name in names:
        print(f"\n### {name}", flush=True)
        t0 = time.monotonic()
        try:
            module = importlib.import_module(f"bench.{name}")
            sections = module.run()
        except Exception as exc:
            traceback.print_exc()
            print(f"\nFAILED {name}: {exc}", flush=True)
            failed.append(name)
            continue
        if sections and all(isinstance(item, dict) for item in sections):
            sections = [Section(title=name, rows=list(sections))]  # bare rows: one table
        for section in sections:
            print()
            print(format_section(section), flush=True)
            if section.errors:
                failed.append(f"{name}: {section.title}")
        print(f"\n({name}: {time.monotonic() - t0:.1f} s)", flush=True)

    print(f"\nbench: {len(names)} benchmark(s) in {time.monotonic() - started:.1f} s", end="")
    if failed:
        print(f", FAILED: {', '.join(failed)}")
        return 1
    print(", no errors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
