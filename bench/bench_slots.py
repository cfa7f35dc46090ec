"""The slot engine: a sorted sweep against the naive per-slot check, same inputs, same run.

Scenario (issue "Booking", item 3): one expert in Europe/Paris, open Monday to
Saturday 09:00-12:00 and 13:30-19:00, 90 days from 1 October 2026 (the
clocks go back on 25 October, so one week has a DST change), 200 existing
appointments of 15 to 60 minutes with a 10-minute buffer, 1 hour notice,
30-minute appointments on a 15-minute grid. Each measure is the whole
computation: expanding the weekly rules and finding the free slots. Both
functions must give identical output, or the benchmark fails.

Knobs (environment): BENCH_SLOT_RUNS (300).
"""

import os
import random
import statistics
import time as clock
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from recurrence import base as recurrence_base

from bench.report import BenchError, Section

RUNS = int(os.environ.get("BENCH_SLOT_RUNS", "300"))
TARGET_P95_MS = 2.0
TARGET_SPEEDUP = 10.0


def scenario():
    from modules.booking.slots import WeeklyRule

    days = recurrence_base.Recurrence(rrules=[recurrence_base.Rule(
        recurrence_base.WEEKLY, byday=[recurrence_base.Weekday(n) for n in range(6)])])
    rules = [WeeklyRule(days, time(9), time(12)), WeeklyRule(days, time(13, 30), time(19))]
    now = datetime(2026, 10, 1, 6, 0, tzinfo=UTC)
    rng = random.Random(2026)
    busy = []
    while len(busy) < 200:
        start = now + timedelta(minutes=15 * rng.randrange(0, 90 * 96))
        local = start.astimezone(ZoneInfo("Europe/Paris"))
        if local.weekday() == 6 or not (9 <= local.hour < 19):
            continue
        busy.append((start, start + timedelta(minutes=rng.choice([15, 30, 45, 60]))))
    options = dict(duration=timedelta(minutes=30), step=timedelta(minutes=15), buffer=timedelta(minutes=10),
                   notice=timedelta(hours=1), horizon=timedelta(days=90), now=now)
    return rules, ZoneInfo("Europe/Paris"), now, busy, options


def timed(fn, runs):
    samples = []
    result = None
    for _ in range(runs):
        started = clock.perf_counter()
        result = fn()
        samples.append((clock.perf_counter() - started) * 1000)
    samples.sort()
    return result, samples


def pct(samples, p):
    return samples[min(len(samples) - 1, int(round(p / 100 * (len(samples) - 1))))]


def run():
    from modules.booking.slots import expand_rules, free_slots, free_slots_naive

    rules, tz, now, busy, options = scenario()
    end = now + timedelta(days=90)

    def sweep():
        return free_slots(expand_rules(rules, tz, now, end), busy, **options)

    def naive():
        return free_slots_naive(expand_rules(rules, tz, now, end), busy, **options)

    sweep()  # warm-up (imports, zoneinfo cache)
    fast, fast_samples = timed(sweep, RUNS)
    slow, slow_samples = timed(naive, max(10, RUNS // 20))
    errors = []
    if fast != slow:
        errors.append(f"outputs differ: sweep {len(fast)} slots, naive {len(slow)} slots")
    if not fast:
        raise BenchError("the scenario gives no slot")
    p95 = pct(fast_samples, 95)
    speedup = statistics.median(slow_samples) / statistics.median(fast_samples)
    rows = [
        {"function": "sweep (free_slots)", "runs": len(fast_samples), "slots": len(fast),
         "p50 ms": statistics.median(fast_samples), "p95 ms": p95, "vs naive": speedup},
        {"function": "naive (free_slots_naive)", "runs": len(slow_samples), "slots": len(slow),
         "p50 ms": statistics.median(slow_samples), "p95 ms": pct(slow_samples, 95), "vs naive": 1.0},
    ]
    notes = [
        "90 days, 200 appointments, DST change on 25 Oct 2026 inside the range; rule expansion included",
        f"targets: sweep p95 <= {TARGET_P95_MS} ms ({'met' if p95 <= TARGET_P95_MS else 'NOT met'}), "
        f">= {TARGET_SPEEDUP:g}x faster than naive ({'met' if speedup >= TARGET_SPEEDUP else 'NOT met'})",
    ]
    return [Section(title="Slot engine: sorted sweep vs naive check (same run)", rows=rows, notes=notes,
                    errors=errors)]


if __name__ == "__main__":
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "site_core.settings.dev")
    django.setup()
    from bench.report import format_section

    for section in run():
        print(format_section(section))
