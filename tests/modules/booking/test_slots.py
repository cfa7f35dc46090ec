"""The slot engine: the sweep gives exactly what checking every candidate gives, DST included."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import recurrence
from hypothesis import given, settings
from hypothesis import strategies as st

from modules.booking.slots import WeeklyRule, Window, expand_rules, free_slots, free_slots_naive

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")


def weekly(days="MO,TU,WE,TH,FR", extra=""):
    return recurrence.deserialize(f"RRULE:FREQ=WEEKLY;BYDAY={days}{extra}")


def local(slots, tz=PARIS):
    return [slot.astimezone(tz).strftime("%Y-%m-%d %H:%M") for slot in slots]


def test_weekly_rule_opens_at_the_same_local_time_across_the_autumn_change():
    # Clocks go back in Paris on Sunday 25 October 2026, 03:00 → 02:00.
    rules = [WeeklyRule(weekly("FR,MO"), time(9), time(10))]
    now = datetime(2026, 10, 20, tzinfo=UTC)
    windows = expand_rules(rules, PARIS, now, now + timedelta(days=10))
    slots = free_slots(windows, duration=timedelta(minutes=30), now=now)
    assert local(slots) == ["2026-10-23 09:00", "2026-10-23 09:30", "2026-10-26 09:00", "2026-10-26 09:30"]
    # ...which is 07:00 UTC in summer time and 08:00 UTC in winter time.
    assert [s.hour for s in slots] == [7, 7, 8, 8]


def test_spring_forward_gap_moves_the_opening_forward():
    # New York skips 02:00-03:00 on Sunday 8 March 2026.
    rules = [WeeklyRule(weekly("SU"), time(2, 30), time(4))]
    now = datetime(2026, 3, 7, tzinfo=UTC)
    windows = expand_rules(rules, NEW_YORK, now, now + timedelta(days=2))
    slots = free_slots(windows, duration=timedelta(minutes=30), now=now)
    assert local(slots, NEW_YORK) == ["2026-03-08 03:30"]


def test_exception_dates_and_until_are_honoured():
    rule = recurrence.deserialize(
        "RRULE:FREQ=WEEKLY;BYDAY=MO;UNTIL=20261116T000000Z\nEXDATE:20261109T000000Z")
    now = datetime(2026, 11, 1, tzinfo=UTC)
    windows = expand_rules([WeeklyRule(rule, time(9), time(10))], PARIS, now, now + timedelta(days=30))
    assert [w.opens.astimezone(PARIS).date() for w in windows] == [date(2026, 11, 2), date(2026, 11, 16)]


def test_every_other_week_keeps_its_phase_from_its_start():
    rule = recurrence.deserialize("RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=WE")
    since = date(2026, 1, 7)  # a Wednesday, far before the query window
    now = datetime(2026, 11, 1, tzinfo=UTC)
    windows = expand_rules([WeeklyRule(rule, time(14), time(15), since=since)], PARIS, now,
                           now + timedelta(days=28))
    days = [w.opens.astimezone(PARIS).date() for w in windows]
    assert days and all((day - since).days % 14 == 0 for day in days)


def test_overnight_window_runs_past_midnight():
    now = datetime(2026, 11, 2, tzinfo=UTC)
    windows = expand_rules([WeeklyRule(weekly("MO"), time(23), time(1))], PARIS, now, now + timedelta(days=1))
    slots = free_slots(windows, duration=timedelta(hours=1), now=now, step=timedelta(hours=1))
    assert local(slots) == ["2026-11-02 23:00", "2026-11-03 00:00"]


def test_appointments_buffer_notice_and_horizon():
    now = datetime(2026, 11, 2, 7, 0, tzinfo=UTC)  # 08:00 in Paris
    windows = expand_rules([WeeklyRule(weekly("MO,TU"), time(9), time(12))], PARIS, now,
                           now + timedelta(days=7))
    taken = (datetime(2026, 11, 2, 9, 0, tzinfo=UTC), datetime(2026, 11, 2, 9, 30, tzinfo=UTC))  # 10:00-10:30
    slots = free_slots(windows, [taken], duration=timedelta(minutes=30), now=now,
                       buffer=timedelta(minutes=15), notice=timedelta(hours=1, minutes=30),
                       horizon=timedelta(days=1, hours=2))
    # Notice: nothing before 09:30; the buffer blocks 09:45-10:45, so 09:30 and 10:30 go;
    # the horizon stops at Tuesday 10:00 local.
    assert local(slots) == [
        "2026-11-02 11:00", "2026-11-02 11:30",
        "2026-11-03 09:00", "2026-11-03 09:30", "2026-11-03 10:00",
    ]


def test_closed_interval_removes_slots_without_buffer():
    now = datetime(2026, 11, 2, tzinfo=UTC)
    windows = [Window.of(datetime(2026, 11, 2, 9, tzinfo=UTC), datetime(2026, 11, 2, 11, tzinfo=UTC))]
    closed = [(datetime(2026, 11, 2, 9, 30, tzinfo=UTC), datetime(2026, 11, 2, 10, tzinfo=UTC))]
    slots = free_slots(windows, duration=timedelta(minutes=30), now=now, buffer=timedelta(hours=5),
                       closed=closed)
    assert [s.strftime("%H:%M") for s in slots] == ["09:00", "10:00", "10:30"]


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        free_slots([], duration=timedelta(0), now=datetime.now(UTC))
    with pytest.raises(ValueError):
        free_slots([], duration=timedelta(minutes=30), now=datetime(2026, 1, 1))


BASE = datetime(2026, 10, 19, tzinfo=UTC)
minutes = st.integers(min_value=0, max_value=14 * 24 * 60)


@st.composite
def scenario(draw):
    windows = []
    # Half of the scenarios on an hourly grid, so that windows often touch end to start.
    coarse = draw(st.booleans())
    for start in draw(st.lists(minutes, max_size=8)):
        length = draw(st.integers(min_value=0, max_value=600))
        if coarse:
            start, length = start - start % 60, length - length % 60
        origin_shift = draw(st.sampled_from([0, 0, 5, 20]))
        w_start = BASE + timedelta(minutes=start)
        windows.append(Window.of(w_start, w_start + timedelta(minutes=length),
                                 w_start - timedelta(minutes=origin_shift)))
    windows.sort()
    busy = []
    for start in draw(st.lists(minutes, max_size=25)):
        s = BASE + timedelta(minutes=start)
        busy.append((s, s + timedelta(minutes=draw(st.integers(min_value=1, max_value=240)))))
    closed = []
    for start in draw(st.lists(minutes, max_size=3)):
        s = BASE + timedelta(minutes=start)
        closed.append((s, s + timedelta(minutes=draw(st.integers(min_value=1, max_value=600)))))
    options = dict(
        duration=timedelta(minutes=draw(st.sampled_from([15, 20, 30, 45, 60, 90]))),
        step=timedelta(minutes=draw(st.sampled_from([5, 15, 30, 60]))),
        buffer=timedelta(minutes=draw(st.sampled_from([0, 5, 10, 30]))),
        notice=timedelta(minutes=draw(st.integers(min_value=0, max_value=3000))),
        horizon=timedelta(minutes=draw(st.integers(min_value=0, max_value=20000))),
        now=BASE + timedelta(minutes=draw(st.integers(min_value=-600, max_value=3000))),
        closed=closed,
        until=draw(st.none() | st.builds(lambda m: BASE + timedelta(minutes=m), minutes)),
    )
    return windows, busy, options


@settings(max_examples=300, deadline=None)
@given(scenario())
def test_sweep_equals_naive_check(case):
    windows, busy, options = case
    assert free_slots(windows, busy, **options) == free_slots_naive(windows, busy, **options)


ZONES = ["Europe/Paris", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu", "America/Sao_Paulo", "UTC"]


@settings(max_examples=200, deadline=None)
@given(zone=st.sampled_from(ZONES), day=st.dates(min_value=date(2024, 1, 1), max_value=date(2028, 12, 31)),
       opens=st.times(), closes=st.times())
def test_windows_are_the_instants_zoneinfo_gives(zone, day, opens, closes):
    """The cheap wall-clock-minus-offset arithmetic gives the instants of aware datetimes."""
    tz = ZoneInfo(zone)
    opens, closes = opens.replace(microsecond=0), closes.replace(microsecond=0)
    rule = WeeklyRule(weekly("MO,TU,WE,TH,FR,SA,SU"), opens, closes)
    start = datetime.combine(day, time(12), tzinfo=UTC)
    windows = expand_rules([rule], tz, start - timedelta(days=1), start + timedelta(days=1))
    end_day = day + timedelta(days=1) if closes <= opens else day
    expected_open = int(datetime.combine(day, opens, tzinfo=tz).timestamp())
    expected_close = int(datetime.combine(end_day, closes, tzinfo=tz).timestamp())
    if expected_close > expected_open:
        assert (expected_open, expected_close, expected_open) in windows


def test_every_other_week_without_a_start_gives_the_same_weeks_to_every_query():
    """No start date: the phase must not follow the first day asked for, or the slots listed
    from one day and the booking checked from another disagree."""
    tz = ZoneInfo("Europe/Paris")
    rule = WeeklyRule(recurrence.deserialize("RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO"), time(9), time(10))
    monday = datetime(2026, 11, 2, 12, tzinfo=UTC)
    listed = {w.start for w in expand_rules([rule], tz, monday - timedelta(days=3), monday + timedelta(days=50))}
    for offset in range(0, 35, 1):
        start = monday + timedelta(days=offset)
        again = {w.start for w in expand_rules([rule], tz, start, start + timedelta(days=10))}
        assert again <= listed, start
    assert len(listed) == 4  # 7 weeks and a bit: every other Monday
