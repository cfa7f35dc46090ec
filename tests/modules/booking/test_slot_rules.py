"""The rules of a free start, end to end: openings that touch are one opening, the booking
horizon is calendar days in the expert's zone (clock changes included), a start listed is a
start accepted and the reverse, and the check under the expert's lock sees what committed
a moment earlier (a pause, another booking)."""

import threading
import time as clock
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import recurrence
from django.db import connection, transaction
from django.utils import translation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modules.booking import availability, services
from modules.booking.models import (
    Appointment,
    AvailabilityException,
    AvailabilityRule,
    BookingProfile,
    Offering,
)
from modules.booking.slots import WeeklyRule, Window, expand_rules, free_slots
from site_core.practice.models import Expert

PARIS = ZoneInfo("Europe/Paris")
MONTREAL = ZoneInfo("America/Montreal")
EVERY_DAY = "RRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR,SA,SU"


@pytest.fixture(autouse=True)
def _messages_in_english():
    with translation.override("en"):
        yield


def local(slots, tz=PARIS):
    return [slot.astimezone(tz).strftime("%Y-%m-%d %H:%M") for slot in slots]


def at(tz, *args):
    return datetime(*args, tzinfo=tz).astimezone(UTC)


def weekly(days=EVERY_DAY):
    return recurrence.deserialize(days)


# --- Touching and overlapping openings (the pure engine) ---------------------------------

def test_touching_openings_offer_a_slot_across_their_seam():
    monday = date(2026, 11, 2)
    rules = [WeeklyRule(weekly(), time(9), time(12)), WeeklyRule(weekly(), time(12), time(14))]
    start = at(PARIS, 2026, 11, 2)
    windows = expand_rules(rules, PARIS, start, start + timedelta(days=1))
    slots = free_slots(windows, duration=timedelta(minutes=60), now=start, step=timedelta(minutes=30))
    assert local(slots) == [f"{monday} {h}" for h in (
        "09:00", "09:30", "10:00", "10:30", "11:00", "11:30", "12:00", "12:30", "13:00")]


def test_overlapping_openings_are_one_opening_each_keeping_its_grid():
    start = at(PARIS, 2026, 11, 2)
    windows = [Window.of(at(PARIS, 2026, 11, 2, 9), at(PARIS, 2026, 11, 2, 11)),
               Window.of(at(PARIS, 2026, 11, 2, 10, 15), at(PARIS, 2026, 11, 2, 12))]
    slots = free_slots(windows, duration=timedelta(minutes=90), now=start, step=timedelta(minutes=60))
    # 09:00 (first grid) and 10:00 run into the second opening; 10:15 is the second one's grid.
    assert local(slots) == ["2026-11-02 09:00", "2026-11-02 10:00", "2026-11-02 10:15"]


def test_a_busy_seam_still_cuts_touching_openings():
    start = at(PARIS, 2026, 11, 2)
    windows = [Window.of(at(PARIS, 2026, 11, 2, 9), at(PARIS, 2026, 11, 2, 12)),
               Window.of(at(PARIS, 2026, 11, 2, 12), at(PARIS, 2026, 11, 2, 14))]
    busy = [(at(PARIS, 2026, 11, 2, 12), at(PARIS, 2026, 11, 2, 12, 30))]
    slots = free_slots(windows, busy, duration=timedelta(minutes=60), now=start, step=timedelta(minutes=30))
    assert local(slots) == [f"2026-11-02 {h}" for h in ("09:00", "09:30", "10:00", "10:30", "11:00",
                                                         "12:30", "13:00")]


def test_openings_touching_at_midnight_offer_a_slot_across_it():
    """An overnight rule (22:00-00:00 Monday) and an early one (00:00-02:00 Tuesday)."""
    rules = [WeeklyRule(weekly("RRULE:FREQ=WEEKLY;BYDAY=MO"), time(22), time(0)),
             WeeklyRule(weekly("RRULE:FREQ=WEEKLY;BYDAY=TU"), time(0), time(2))]
    start = at(PARIS, 2026, 11, 2)
    windows = expand_rules(rules, PARIS, start, start + timedelta(days=2))
    slots = free_slots(windows, duration=timedelta(minutes=60), now=start, step=timedelta(minutes=30))
    assert "2026-11-02 23:30" in local(slots) and local(slots)[-1] == "2026-11-03 01:00"


# --- Touching openings through the database, listed and booked ----------------------------

@pytest.fixture
def split_day_expert(practice, make_expert):
    """Open every day 09:00-12:00 and 12:00-14:00 Paris time, chat 60 minutes, no notice."""
    expert, page, _page_en = make_expert(practice, "Alice Martin")
    BookingProfile.objects.create(expert=expert, notice_minutes=0, slot_minutes=30)
    Offering.objects.create(expert=expert, mode="chat", long_minutes=60, long_price=6000)
    AvailabilityRule.objects.create(expert=expert, recurrence=weekly(), start_time=time(9), end_time=time(12))
    AvailabilityRule.objects.create(expert=expert, recurrence=weekly(), start_time=time(12), end_time=time(14))
    return Expert.objects.get(pk=expert.pk)


def booking(practice, expert, client, starts_at, **extra):
    return services.BookingRequest(site=practice.site, expert=expert, client=client, mode="chat",
                                   product="long", starts_at=starts_at, **extra)


def test_a_slot_across_touching_hours_is_listed_and_booked(practice, split_day_expert, make_user):
    now = at(PARIS, 2026, 11, 2, 8)
    seam = at(PARIS, 2026, 11, 2, 11, 30)
    listed = availability.free_slots(split_day_expert, "chat", 60, now, at(PARIS, 2026, 11, 2, 11, 31), now)
    assert seam in listed  # the list ends at 11:31 yet the slot runs on into the next opening
    appointment = services.hold(booking(practice, split_day_expert, make_user(), seam), now=now)
    assert appointment.ends_at == at(PARIS, 2026, 11, 2, 12, 30)
    assert Appointment.objects.filter(state=Appointment.State.HELD).count() == 1


def test_the_api_lists_the_seam_slot(client, practice, split_day_expert, monkeypatch):
    monkeypatch.setattr("django.utils.timezone.now", lambda: at(PARIS, 2026, 11, 2, 8))
    body = client.get("/api/v1/experts/alice-martin/slots", {"mode": "chat", "product": "long", "days": 1}).json()
    assert "2026-11-02T10:30:00Z" in body["slots"]  # 11:30 in Paris


# --- The horizon: calendar days in the expert's zone --------------------------------------

@pytest.fixture
def daily_expert(practice, make_expert):
    def make(zone, opens=time(8), closes=time(20), horizon_days=15):
        expert, _page, _page_en = make_expert(practice, f"Expert {zone.split('/')[-1]}")
        expert.time_zone = zone
        expert.save()
        BookingProfile.objects.create(expert=expert, notice_minutes=0, slot_minutes=60, horizon_days=horizon_days)
        Offering.objects.create(expert=expert, mode="chat", long_minutes=60, long_price=6000)
        AvailabilityRule.objects.create(expert=expert, recurrence=weekly(), start_time=opens, end_time=closes)
        return Expert.objects.get(pk=expert.pk)
    return make


@pytest.mark.parametrize("zone, now, last_day, last_slot", [
    # Paris springs forward on Sunday 29 March 2026: 15 x 24 h from 20 March 10:00 would reach
    # 4 April 11:00; 15 calendar days end with 3 April.
    ("Europe/Paris", at(PARIS, 2026, 3, 20, 10), date(2026, 4, 3), "2026-04-03 19:00"),
    # Paris falls back on Sunday 25 October 2026, late in the evening.
    ("Europe/Paris", at(PARIS, 2026, 10, 20, 21, 30), date(2026, 11, 3), "2026-11-03 19:00"),
    # Montreal falls back on Sunday 1 November 2026; "today" is the expert's, not Paris's
    # (21:00 in Montreal is already tomorrow in Paris).
    ("America/Montreal", at(MONTREAL, 2026, 10, 25, 21), date(2026, 11, 8), "2026-11-08 19:00"),
    # Montreal springs forward on Sunday 8 March 2026.
    ("America/Montreal", at(MONTREAL, 2026, 3, 1, 7, 30), date(2026, 3, 15), "2026-03-15 19:00"),
])
def test_the_horizon_is_fifteen_calendar_days_in_the_experts_zone(practice, daily_expert, make_user,
                                                                   zone, now, last_day, last_slot):
    expert = daily_expert(zone)
    tz = ZoneInfo(zone)
    end = availability.booking_horizon_end(expert, now)
    assert end.astimezone(tz).replace(tzinfo=None) == datetime.combine(last_day + timedelta(days=1), time())
    listed = availability.free_slots(expert, "chat", 60, now, now + timedelta(days=20), now)
    days = sorted({slot.astimezone(tz).date() for slot in listed})
    today = now.astimezone(tz).date()
    assert last_day == today + timedelta(days=14)  # today and 14 more: 15 calendar days
    assert days[-1] == last_day and days[0] in (today, today + timedelta(days=1))
    assert days == [days[0] + timedelta(days=n) for n in range(len(days))]
    assert local(listed, tz)[-1] == last_slot
    # The same rule decides a booking: the last slot listed is taken, the next morning refused.
    client = make_user()
    assert services.hold(booking(practice, expert, client, listed[-1]), now=now).starts_at == listed[-1]
    next_morning = datetime.combine(last_day + timedelta(days=1), time(8), tzinfo=tz).astimezone(UTC)
    with pytest.raises(services.BookingError, match="15 days ahead"):
        services.hold(booking(practice, expert, make_user(), next_morning), now=now)
    assert Appointment.objects.count() == 1


def test_the_api_lists_up_to_the_horizon_and_no_further(client, practice, daily_expert, monkeypatch):
    monkeypatch.setattr("django.utils.timezone.now", lambda: at(PARIS, 2026, 3, 20, 10))
    daily_expert("Europe/Paris")
    body = client.get("/api/v1/experts/expert-paris/slots", {"mode": "chat", "product": "long", "days": 30}).json()
    assert body["slots"][-1].startswith("2026-04-03T17:00:00")  # 19:00 in Paris (summer time)


def test_the_booking_page_offers_the_last_evening_of_the_horizon(client, practice, make_expert, monkeypatch):
    """From 20 October 00:30 in Paris, 15 x 24 h end at 3 November 23:30 (the clocks go back
    on the 25th); 15 calendar days end at midnight, so 23:30 on the 3rd is offered, and taken."""
    now = at(PARIS, 2026, 10, 20, 0, 30)
    monkeypatch.setattr("django.utils.timezone.now", lambda: now)
    expert, page, _page_en = make_expert(practice, "Nina Night")
    BookingProfile.objects.create(expert=expert, notice_minutes=0)
    Offering.objects.create(expert=expert, mode="chat", long_minutes=30, long_price=5000)
    AvailabilityRule.objects.create(expert=expert, recurrence=weekly(), start_time=time(23), end_time=time(0))
    last = at(PARIS, 2026, 11, 3, 23, 30)
    client.post(f"/booking/{page.pk}/", {"mode": "chat", "when": "appointment"})
    client.post(f"/booking/{page.pk}/product/", {"product": "long"})
    shown = client.get(f"/booking/{page.pk}/time/", {"day": "2026-11-03"})
    assert last.isoformat() in shown.content.decode()
    chosen = client.post(f"/booking/{page.pk}/time/", {"starts_at": last.isoformat()})
    assert chosen.status_code == 302 and chosen["Location"].endswith("/confirm/")


# --- A start listed is a start accepted, and the reverse ----------------------------------

ZONES = ["Europe/Paris", "America/Montreal", "UTC"]
#: Days with a clock change nearby (Paris: 29 March, 25 October; Montreal: 8 March, 1 November).
AROUND = [date(2026, 3, 6), date(2026, 3, 26), date(2026, 10, 22), date(2026, 10, 30), date(2026, 6, 10)]


@st.composite
def schedules(draw):
    """An expert's week: rules (some touching, some overnight), extra and closed times,
    bookings already made (some expired holds), a pause, a buffer, a grid, a length."""
    zone = draw(st.sampled_from(ZONES))
    tz = ZoneInfo(zone)
    day = draw(st.sampled_from(AROUND))
    now = datetime.combine(day, time(draw(st.integers(0, 23)), draw(st.sampled_from([0, 7, 30, 45]))),
                           tzinfo=tz).astimezone(UTC)
    quarter = st.integers(0, 95).map(lambda q: time(q // 4, q % 4 * 15))
    rules = []
    for _ in range(draw(st.integers(1, 3))):
        days = draw(st.sets(st.sampled_from(["MO", "TU", "WE", "TH", "FR", "SA", "SU"]), min_size=1))
        opens = draw(quarter)
        closes = draw(st.one_of(quarter, st.just(opens)))
        rules.append((",".join(sorted(days)), opens, closes))
        if draw(st.booleans()):  # a rule touching this one's end
            rules.append((",".join(sorted(days)), closes, draw(quarter)))
    minute = st.integers(-120, 4 * 24 * 60)
    exceptions = [(draw(st.sampled_from(["open", "closed"])), draw(minute), draw(st.integers(15, 600)))
                  for _ in range(draw(st.integers(0, 3)))]
    bookings = [(draw(minute), draw(st.sampled_from([15, 30, 45, 60, 90])),
                 draw(st.sampled_from(["confirmed", "held", "expired_hold", "requested", "canceled"])))
                for _ in range(draw(st.integers(0, 6)))]
    return dict(
        zone=zone, now=now, rules=rules, exceptions=exceptions, bookings=bookings,
        pause=draw(st.one_of(st.none(), st.integers(1, 180))),
        buffer=draw(st.sampled_from([0, 0, 10, 15])), slot=draw(st.sampled_from([15, 20, 30, 60])),
        notice=draw(st.sampled_from([0, 0, 45, 120])), horizon=draw(st.integers(1, 3)),
        minutes=draw(st.sampled_from([15, 30, 45, 60, 90])),
    )


class _Undo(Exception):
    pass


def _build(practice, expert, client, case):
    """Writes the schedule ``case`` for ``expert``; returns a fresh copy of the expert."""
    now = case["now"]
    expert.time_zone = case["zone"]
    expert.save(update_fields=["time_zone"])
    BookingProfile.objects.update_or_create(expert=expert, defaults=dict(
        slot_minutes=case["slot"], buffer_minutes=case["buffer"], notice_minutes=case["notice"],
        horizon_days=case["horizon"],
        paused_until=now + timedelta(minutes=case["pause"]) if case["pause"] else None))
    Offering.objects.update_or_create(expert=expert, mode="chat",
                                      defaults=dict(long_minutes=case["minutes"], long_price=5000))
    for days, opens, closes in case["rules"]:
        AvailabilityRule.objects.create(expert=expert, recurrence=weekly(f"RRULE:FREQ=WEEKLY;BYDAY={days}"),
                                        start_time=opens, end_time=closes)
    for kind, start, length in case["exceptions"]:
        AvailabilityException.objects.create(expert=expert, kind=kind, starts_at=now + timedelta(minutes=start),
                                             ends_at=now + timedelta(minutes=start + length))
    taken = []
    for start, length, state in case["bookings"]:
        starts_at, ends_at = now + timedelta(minutes=start), now + timedelta(minutes=start + length)
        if any(s < ends_at and starts_at < e for s, e in taken):
            continue  # the database refuses overlapping live appointments
        held_until = now - timedelta(minutes=1) if state == "expired_hold" else now + timedelta(minutes=10)
        Appointment.objects.create(
            site=practice.site, expert=expert, client=client, mode="chat", product="long", starts_at=starts_at,
            ends_at=ends_at, minutes=length, unit_price=5000, currency="EUR",
            state="held" if state == "expired_hold" else state, held_until=held_until)
        if state != "canceled":
            taken.append((starts_at, ends_at))
    return Expert.objects.get(pk=expert.pk)


@pytest.fixture
def people(practice, make_expert, make_user):
    """An expert (made once: each example below changes them inside a transaction it undoes),
    a client with bookings already made, and the client who books."""
    expert, _page, _page_en = make_expert(practice, "Marc Dubois")
    return expert, make_user(), make_user()


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=schedules(), data=st.data())
def test_a_start_listed_is_a_start_accepted_and_the_reverse(practice, people, case, data):
    expert, other, booker = people
    try:
        with transaction.atomic():  # each example starts from the same database
            _check_listed_and_accepted(practice, _build(practice, expert, other, case), booker, case, data)
            raise _Undo
    except _Undo:
        pass


def _check_listed_and_accepted(practice, expert, client, case, data):
    now, minutes = case["now"], case["minutes"]
    end = availability.booking_horizon_end(expert, now)
    listed = availability.free_slots(expert, "chat", minutes, now - timedelta(days=1), end + timedelta(days=2), now)
    assert all(now <= slot < end for slot in listed)
    # The booking page and the API ask for their own ranges: each gives the same starts.
    by_day = availability.free_slots(expert, "chat", minutes, now, now + timedelta(days=1), now)
    assert by_day == [slot for slot in listed if slot < now + timedelta(days=1)]
    picks = set(listed[:1] + listed[-1:])
    if listed:
        picks.update(data.draw(st.lists(st.sampled_from(listed), min_size=min(4, len(listed)), max_size=6)))
    for starts_at in sorted(picks):
        fresh = Expert.objects.get(pk=expert.pk)
        appointment = services.hold(booking(practice, fresh, client, starts_at), now=now)
        assert appointment.starts_at == starts_at and appointment.state == Appointment.State.HELD
        services.release_hold(appointment)
    # Starts not listed, on a 5-minute grid and off it, within the horizon and around it.
    span = int((end - now).total_seconds() // 60) + 120
    # Any minute, quarter hours (where slots usually start), and 5 minutes off a listed start.
    offsets = data.draw(st.lists(st.integers(-30, span), min_size=4, max_size=4))
    offsets += data.draw(st.lists(st.integers(-2, span // 15).map(lambda k: k * 15), min_size=4, max_size=4))
    offsets += [int((slot - now).total_seconds() // 60) + 5 for slot in sorted(picks)[:2]]
    listed_set = set(listed)
    for offset in offsets:
        starts_at = (now + timedelta(minutes=offset)).replace(second=0, microsecond=0)
        if starts_at in listed_set:
            continue
        fresh = Expert.objects.get(pk=expert.pk)
        with pytest.raises(services.BookingError):
            services.hold(booking(practice, fresh, client, starts_at), now=now)
    assert not Appointment.objects.filter(client=client, state__in=Appointment.LIVE_STATES).exists()


# --- The check under the lock sees a pause or a booking committed a moment earlier ---------

@pytest.fixture
def open_expert(practice, make_expert):
    expert, _page, _page_en = make_expert(practice, "Sophie Laurent")
    BookingProfile.objects.create(expert=expert, notice_minutes=0, buffer_minutes=15)
    Offering.objects.create(expert=expert, mode="chat", long_minutes=30, long_price=5500)
    AvailabilityRule.objects.create(expert=expert, recurrence=weekly(), start_time=time(9), end_time=time(18))
    return Expert.objects.get(pk=expert.pk)


def _between_check_and_lock(monkeypatch, action):
    """Runs ``action`` once, after the booking checked the slot and before its transaction
    locks the expert: as if another request committed it in between."""
    original = services._save_with_order
    done = []

    def save(*args, **kwargs):
        if not done:
            done.append(True)
            action()
        return original(*args, **kwargs)

    monkeypatch.setattr(services, "_save_with_order", save)


def test_a_pause_committed_between_the_list_and_the_booking_is_seen(practice, open_expert, make_user,
                                                                    monkeypatch):
    now = at(PARIS, 2026, 11, 2, 9, 50)
    starts_at = at(PARIS, 2026, 11, 2, 10)
    assert starts_at in availability.free_slots(open_expert, "chat", 30, now, now + timedelta(hours=1), now)
    _between_check_and_lock(monkeypatch, lambda: services.pause(Expert.objects.get(pk=open_expert.pk), now=now))
    with pytest.raises(services.ExpertPaused) as refused:
        services.hold(booking(practice, open_expert, make_user(), starts_at), now=now)
    assert refused.value.code == "expert_paused" and "paused" in refused.value.message
    assert not Appointment.objects.exists()


def test_a_booking_committed_in_the_break_between_the_list_and_the_booking_is_seen(
        practice, open_expert, make_user, monkeypatch):
    now = at(PARIS, 2026, 11, 2, 8)
    starts_at = at(PARIS, 2026, 11, 2, 10)
    other = make_user()
    # 10:30-11:00 by someone else: 10:00-10:30 would end inside its 15-minute break.
    _between_check_and_lock(monkeypatch, lambda: services.hold(
        booking(practice, Expert.objects.get(pk=open_expert.pk), other, at(PARIS, 2026, 11, 2, 10, 30)), now=now))
    with pytest.raises(services.SlotTaken) as refused:
        services.hold(booking(practice, open_expert, make_user(), starts_at), now=now)
    assert refused.value.code == "slot_taken"
    assert list(Appointment.objects.values_list("client", flat=True)) == [other.pk]


def test_a_pause_committed_before_the_lock_refuses_an_instant_request(practice, open_expert, make_user,
                                                                       monkeypatch):
    now = at(PARIS, 2026, 11, 2, 9, 50)
    Offering.objects.filter(expert=open_expert).update(price_per_minute=200, instant_rate=300)
    services.available_now(open_expert, now=now)
    expert = Expert.objects.get(pk=open_expert.pk)
    _between_check_and_lock(monkeypatch, lambda: services.pause(Expert.objects.get(pk=expert.pk), now=now))
    with pytest.raises(services.ExpertPaused):
        services.hold(services.BookingRequest(site=practice.site, expert=expert, client=make_user(), mode="chat",
                                              product="per_minute", budget_minutes=10, instant=True), now=now)
    assert not Appointment.objects.exists()


def test_after_a_pause_the_api_answers_409_expert_paused(client, practice, open_expert, make_user, monkeypatch):
    now = at(PARIS, 2026, 11, 2, 9, 50)
    monkeypatch.setattr("django.utils.timezone.now", lambda: now)
    listed = client.get("/api/v1/experts/sophie-laurent/slots", {"mode": "chat", "product": "long", "days": 1})
    assert "2026-11-02T09:00:00Z" in listed.json()["slots"]  # 10:00 in Paris
    services.pause(open_expert, now=now)
    client.force_login(make_user())
    answer = client.post("/api/v1/bookings", {"expert": "sophie-laurent", "mode": "chat", "product": "long",
                                               "starts_at": "2026-11-02T09:00:00Z"}, content_type="application/json")
    assert answer.status_code == 409 and answer.json()["code"] == "expert_paused", answer.content
    assert not Appointment.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_pause_committed_while_the_booking_waits_for_the_lock_is_seen_on_postgresql(require_postgres):
    """Real transactions: the booking checks the slot, then waits for the expert's lock (held
    by another transaction); meanwhile the expert pauses and commits; the lock is released.
    The booking must be refused, not made from what it read before it waited."""
    from site_core.access.services import create_expert
    from site_core.practice.models import User
    from tests.conftest import build_practice, ensure_wagtail_roots

    try:
        practice = build_practice()
        expert = create_expert(name="Marc Dubois")
        BookingProfile.objects.create(expert=expert, notice_minutes=0)
        Offering.objects.create(expert=expert, mode="chat", long_price=5000)
        AvailabilityRule.objects.create(expert=expert, start_time=time.min, end_time=time.max,
                                        recurrence=recurrence.deserialize("RRULE:FREQ=DAILY"))
        client = User.objects.create_user(username="late", email="late@example.test")
        now = datetime.now(UTC)
        starts_at = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        paused_until = starts_at + timedelta(minutes=5)  # the pause covers the chosen time
        locked, release, outcome = threading.Event(), threading.Event(), []

        def hold_the_lock():
            try:
                with transaction.atomic():
                    services._lock_expert(expert.pk)
                    locked.set()
                    release.wait(timeout=30)
            finally:
                connection.close()

        def book():
            try:
                services.hold(booking(practice, Expert.objects.get(pk=expert.pk), client, starts_at))
                outcome.append("booked")
            except services.BookingError as exc:
                outcome.append(exc.code)
            finally:
                connection.close()

        locker = threading.Thread(target=hold_the_lock)
        locker.start()
        assert locked.wait(timeout=30)
        booker = threading.Thread(target=book)
        booker.start()
        _wait_for_a_lock_wait()
        BookingProfile.objects.filter(expert=expert).update(paused_until=paused_until)  # committed
        release.set()
        locker.join(timeout=30)
        booker.join(timeout=30)
        assert outcome == ["expert_paused"]
        assert not Appointment.objects.exists()
    finally:
        ensure_wagtail_roots()


def _wait_for_a_lock_wait(timeout=30):
    """Until another backend of this database waits for a row lock (the booking at the expert's)."""
    deadline = clock.monotonic() + timeout
    with connection.cursor() as cursor:
        while clock.monotonic() < deadline:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                           "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()")
            if cursor.fetchone()[0]:
                return
            clock.sleep(0.01)
    raise AssertionError("the booking never waited for the expert's lock")
