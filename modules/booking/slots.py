"""The slot engine: free appointment starts from availability, by a sorted sweep.

Everything here is pure (no database, no clock, no settings): callers load the
rules, exceptions and appointments of one expert and pass ``now``. Two steps:

1. ``expand_rules`` turns weekly rules (django-recurrence objects + local start
   and end times, in the expert's time zone) and one-off openings into UTC
   windows, each keeping its own grid origin (its local start), DST-correct:
   09:00 in Paris is 07:00 UTC in summer and 08:00 UTC in winter, because the
   conversion is done per day by zoneinfo, never with a fixed offset.
2. ``free_slots`` subtracts what is taken (appointments and holds, widened by
   the buffer, and closed exceptions) from the windows with one sorted sweep:
   the blocked intervals are sorted and merged once, each window finds its
   first overlapping blocked interval by bisection and walks forward. Cost:
   O((W + B) log B + S) for W windows, B blocked intervals, S slots, instead
   of the naive O(S * B) check of every candidate against every interval
   (``free_slots_naive``, kept as the reference the tests and benchmark
   compare with).

Time is handled as integer POSIX seconds inside the sweep (cheap to compare
and add); the public functions take and return aware datetimes.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import accumulate, repeat
from operator import add
from typing import NamedTuple
from zoneinfo import ZoneInfo

from recurrence import base as recurrence_base


class Window(NamedTuple):
    """An interval when the expert is open, [start, end) in POSIX seconds, and the grid
    its slots follow: origin + k * step (the window's own local start)."""

    start: int
    end: int
    origin: int

    @classmethod
    def of(cls, start: datetime, end: datetime, origin: datetime | None = None) -> Window:
        return cls(_seconds(start), _seconds(end), _seconds(origin or start))

    @property
    def opens(self) -> datetime:
        return _aware(self.start)

    @property
    def closes(self) -> datetime:
        return _aware(self.end)


EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class WeeklyRule:
    """A recurring opening: on the days ``recurrence`` gives, from ``start`` to ``end`` local time.

    ``end`` at or before ``start`` means the window runs past midnight.
    """

    recurrence: recurrence_base.Recurrence
    start: time
    end: time
    #: The date the rule starts from (phase of "every other week"); None: unbounded.
    since: date | None = None


def _seconds(value: datetime) -> int:
    if value.tzinfo is None:
        raise ValueError("slot engine datetimes must be aware")
    return int(value.timestamp())


def _aware(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _simple_weekly_days(source: recurrence_base.Recurrence) -> frozenset[int] | None:
    """The weekdays (0 = Monday) of a plain "every week on these days" rule, else None."""
    if source.exrules or len(source.rrules) != 1:
        return None
    rule = source.rrules[0]
    if rule.freq != recurrence_base.WEEKLY or (rule.interval or 1) != 1 or rule.count:
        return None
    if any(getattr(rule, name) for name in ("bysetpos", "bymonth", "bymonthday", "byyearday",
                                            "byweekno", "byhour", "byminute", "bysecond")):
        return None
    days = rule.byday or []
    if not days or any(getattr(day, "index", None) for day in days):
        return None
    return frozenset(day.number if hasattr(day, "number") else int(day) for day in days)


#: Where a rule repeating every N weeks (or N times) counts from when it names no start.
PHASE_ANCHOR = date(2000, 1, 3)  # a Monday


def is_phased(source: recurrence_base.Recurrence) -> bool:
    """Whether which days a rule gives depends on where it starts (an interval above 1, a count)."""
    return any((r.interval or 1) > 1 or r.count for r in (*source.rrules, *source.exrules))


def _as_date(value) -> date:
    return value.date() if isinstance(value, datetime) else value


def _occurrence_days(rule: WeeklyRule, first: date, last: date) -> list[date]:
    """The days in [first, last] on which ``rule`` opens.

    The usual rule ("every week on Monday, Tuesday...", with exception dates)
    is read directly, a day at a time; anything else goes through dateutil,
    which replays a rule from its dtstart, so the expansion starts close to the
    query window unless the rule's phase depends on its start (an interval
    above 1 or a count), in which case the rule's own start date is kept.
    """
    source = rule.recurrence
    since = rule.since
    if since and since > first:
        first = since
    if first > last:
        return []
    weekdays = _simple_weekly_days(source)
    if weekdays is not None:
        until = source.rrules[0].until
        if until is not None:
            last = min(last, _as_date(until))
        excluded = {_as_date(value) for value in source.exdates}
        days = []
        day = first
        one = timedelta(days=1)
        while day <= last:
            if day.weekday() in weekdays and day not in excluded:
                days.append(day)
            day += one
        days.extend(d for d in map(_as_date, source.rdates) if first <= d <= last and d not in excluded)
        return sorted(set(days)) if source.rdates else days
    phased = is_phased(source)
    if phased:
        # "Every other week" counts from a start: the rule's own, else a fixed Monday, so that
        # every query (the slots listed, the booking checked) sees the same weeks.
        dtstart_day = rule.since or (_as_date(source.dtstart) if source.dtstart else PHASE_ANCHOR)
    else:
        dtstart_day = first
    recurrence = recurrence_base.Recurrence(
        rrules=source.rrules, exrules=source.exrules, rdates=source.rdates, exdates=source.exdates,
        include_dtstart=False,
    )
    occurrences = recurrence.between(
        datetime.combine(first, time.min),
        datetime.combine(last, time.min),
        dtstart=datetime.combine(dtstart_day, time.min),
        inc=True,
    )
    return [occurrence.date() for occurrence in occurrences]


def expand_rules(rules: Iterable[WeeklyRule], tz: ZoneInfo, start: datetime, end: datetime,
                 extra: Iterable[Window] = ()) -> list[Window]:
    """Windows between ``start`` and ``end`` (aware) from weekly rules in ``tz`` plus
    one-off openings (``extra``), sorted by start.

    A wall-clock time that a spring-forward change skips is moved forward by the
    gap (02:30 on the night clocks jump from 02:00 to 03:00 opens at 03:30), and an
    ambiguous autumn time is its first occurrence (PEP 495's fold=0), as zoneinfo does.
    """
    # A window that starts the local day before can still reach into [start, end).
    first = start.astimezone(tz).date() - timedelta(days=1)
    last = end.astimezone(tz).date()
    low, high = _seconds(start), _seconds(end)
    combine = datetime.combine
    utcoffset = tz.utcoffset
    windows = []
    for rule in rules:
        overnight = rule.end <= rule.start
        start_seconds = rule.start.hour * 3600 + rule.start.minute * 60 + rule.start.second
        end_seconds = rule.end.hour * 3600 + rule.end.minute * 60 + rule.end.second
        for day in _occurrence_days(rule, first, last):
            # Wall-clock time minus that day's UTC offset (zoneinfo reads the offset in
            # force at that local time, fold=0), so a DST change moves nothing by hand.
            # Same instant as combine(day, time, tzinfo=tz).timestamp(), computed cheaper.
            midnight = (day.toordinal() - EPOCH_ORDINAL) * 86400
            opens = midnight + start_seconds - int(utcoffset(combine(day, rule.start)).total_seconds())
            end_day = day + ONE_DAY if overnight else day
            closes = ((end_day.toordinal() - EPOCH_ORDINAL) * 86400 + end_seconds
                      - int(utcoffset(combine(end_day, rule.end)).total_seconds()))
            if closes > low and opens < high and closes > opens:
                windows.append(Window(opens, closes, opens))
    for window in extra:
        if window.end > low and window.start < high and window.end > window.start:
            windows.append(window)
    windows.sort()
    return windows


def _merged(intervals: Iterable[tuple[int, int]]) -> tuple[list[int], list[int]]:
    """Sorted, merged [start, end) intervals as two parallel lists (starts, ends)."""
    starts: list[int] = []
    ends: list[int] = []
    for s, e in sorted(intervals):
        if e <= s:
            continue
        if ends and s <= ends[-1]:
            if e > ends[-1]:
                ends[-1] = e
        else:
            starts.append(s)
            ends.append(e)
    return starts, ends


def _blocked(busy: Iterable[tuple[datetime, datetime]], closed: Iterable[tuple[datetime, datetime]],
             buffer: timedelta) -> list[tuple[int, int]]:
    pad = int(buffer.total_seconds())
    blocked = [(int(s.timestamp()) - pad, int(e.timestamp()) + pad) for s, e in busy]
    blocked.extend((int(s.timestamp()), int(e.timestamp())) for s, e in closed)
    return blocked


def _bounds(now: datetime, notice: timedelta, horizon: timedelta, until: datetime | None = None) -> tuple[int, int]:
    """Earliest and latest allowed slot start (``until`` itself excluded). The earliest is
    rounded up: a start a fraction of a second before ``now + notice`` is not offered."""
    latest = _seconds(now + horizon)
    if until is not None:
        latest = min(latest, math.ceil(until.timestamp()) - 1)
    earliest = now + notice
    if earliest.tzinfo is None:
        raise ValueError("slot engine datetimes must be aware")
    return math.ceil(earliest.timestamp()), latest


def free_slots(
    windows: Sequence[Window],
    busy: Iterable[tuple[datetime, datetime]] = (),
    *,
    duration: timedelta,
    now: datetime,
    step: timedelta = timedelta(minutes=30),
    buffer: timedelta = timedelta(0),
    notice: timedelta = timedelta(0),
    horizon: timedelta = timedelta(days=15),
    closed: Iterable[tuple[datetime, datetime]] = (),
    until: datetime | None = None,
) -> list[datetime]:
    """Every start t (UTC, sorted, unique) such that t lies in a window and is on that window's
    grid (origin + k * step), [t, t + duration) lies in the opening made of that window and
    the ones overlapping or touching it (openings are unioned before slots are cut),
    now + notice <= t <= now + horizon, t < ``until`` (when given: the end of the booking
    horizon's last calendar day), and [t, t + duration) does not meet a busy interval widened
    by ``buffer`` on both sides nor a ``closed`` interval (holidays, breaks)."""
    length = int(duration.total_seconds())
    pace = int(step.total_seconds())
    if length <= 0 or pace <= 0:
        raise ValueError("duration and step must be positive")
    earliest, latest = _bounds(now, notice, horizon, until)
    starts, ends = _merged(_blocked(busy, closed, buffer))
    windows = sorted(windows)
    count = len(windows)
    # Runs of slots (first start, how many): turned into datetimes at the end, by adding
    # the step to the first one, which is cheaper than converting every timestamp.
    runs: list[tuple[int, int]] = []
    # A sentinel interval past every window spares the loop its bounds checks.
    sentinel = max([latest, *(w[1] for w in windows)]) + length + 1
    starts.append(sentinel)
    ends.append(sentinel)
    previous_end = -1
    overlapping = False
    reach = 0
    for index, (w_start, w_end, origin) in enumerate(windows):
        # Openings are unioned: a slot starts on the grid of a window it starts in and may run
        # on into the windows overlapping or touching it (09:00-12:00 and 12:00-14:00 offer
        # 11:30-12:30). ``reach`` is where that union ends, found by its first window.
        # Windows come sorted by start; only overlapping ones can repeat or reorder slots
        # (a slot starts inside its own window, so touching ones cannot).
        if w_start > previous_end:
            previous_end = reach = w_end
            ahead = index + 1
            while ahead < count and windows[ahead][0] <= reach:
                if windows[ahead][1] > reach:
                    reach = windows[ahead][1]
                ahead += 1
        else:
            if w_start < previous_end:
                overlapping = True
            if w_end > previous_end:
                previous_end = w_end
        if reach - length < earliest or w_start > latest:
            continue
        last_start = w_end - 1 if w_end - 1 < latest else latest
        # The merged blocked intervals are disjoint and sorted, so their ends are sorted
        # too: the first one that can touch this window is the first ending after its start.
        i = bisect.bisect_right(ends, w_start)
        cursor = w_start
        while True:
            gap_end = starts[i]
            if gap_end > reach:
                gap_end = reach
            if gap_end - cursor >= length:
                low = cursor if cursor > earliest else earliest
                t = origin - ((origin - low) // pace) * pace  # first grid point >= low
                stop = gap_end - length
                if stop > last_start:
                    stop = last_start
                if t <= stop:
                    runs.append((t, (stop - t) // pace + 1))
            if starts[i] >= reach:
                break
            if ends[i] > cursor:
                cursor = ends[i]
            if cursor >= w_end:
                break
            i += 1
    if overlapping:
        found = sorted({t for first, count in runs for t in range(first, first + count * pace, pace)})
        return list(map(datetime.fromtimestamp, found, repeat(UTC, len(found))))
    gap = timedelta(seconds=pace)
    slots: list[datetime] = []
    for first, count in runs:
        slots.extend(accumulate(repeat(gap, count - 1), add, initial=datetime.fromtimestamp(first, UTC)))
    return slots


def free_slots_naive(
    windows: Sequence[Window],
    busy: Iterable[tuple[datetime, datetime]] = (),
    *,
    duration: timedelta,
    now: datetime,
    step: timedelta = timedelta(minutes=30),
    buffer: timedelta = timedelta(0),
    notice: timedelta = timedelta(0),
    horizon: timedelta = timedelta(days=15),
    closed: Iterable[tuple[datetime, datetime]] = (),
    until: datetime | None = None,
) -> list[datetime]:
    """The same result as ``free_slots``, by checking every candidate against every interval.

    The reference for tests and the benchmark; never used to serve clients.
    """
    length = int(duration.total_seconds())
    pace = int(step.total_seconds())
    earliest, latest = _bounds(now, notice, horizon, until)
    blocked = _blocked(busy, closed, buffer)
    openings = _merged((w_start, w_end) for w_start, w_end, _origin in windows)
    found = set()
    for w_start, w_end, origin in windows:
        t = origin
        while t < w_start:
            t += pace
        while t < w_end:
            inside = any(s <= t and t + length <= e for s, e in zip(*openings, strict=True))
            if inside and earliest <= t <= latest and all(not (t < e and s < t + length) for s, e in blocked):
                found.add(t)
            t += pace
    return [_aware(t) for t in sorted(found)]
