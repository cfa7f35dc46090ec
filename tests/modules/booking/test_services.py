"""Holding a slot, paying for it, and what the database keeps."""

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.utils import translation

from modules.booking import availability, services
from modules.booking.models import Appointment, AvailabilityException, BookingSettings
from site_core.payments import services as payments
from site_core.payments.models import Order


@pytest.fixture(autouse=True)
def _messages_in_english():
    """These tests read the services' messages, which follow the active language: English here."""
    with translation.override("en"):
        yield



def request_for(practice, expert, client, **overrides):
    values = dict(site=practice.site, expert=expert, client=client, mode="chat", product="long",
                  starts_at=datetime(2026, 11, 2, 9, 0, tzinfo=UTC))  # Monday 10:00 Paris
    values.update(overrides)
    return services.BookingRequest(**values)


def test_free_slots_follow_rules_notice_and_appointments(practice, expert_setup, client_user, monday_morning):
    expert, _page = expert_setup
    day_end = monday_morning + timedelta(hours=12)
    slots = availability.free_slots(expert, "chat", 30, monday_morning, day_end, now=monday_morning)
    paris = [s.astimezone(availability.ZoneInfo("Europe/Paris")).strftime("%H:%M") for s in slots]
    # Default notice is 60 minutes: 09:00 Paris is exactly one hour after 08:00.
    assert paris == ["09:00", "09:30", "10:00", "10:30", "11:00", "11:30",
                     "14:00", "14:30", "15:00", "15:30", "16:00", "16:30", "17:00", "17:30"]
    services.hold(request_for(practice, expert, client_user), now=monday_morning)
    slots = availability.free_slots(expert, "chat", 30, monday_morning, day_end, now=monday_morning)
    assert datetime(2026, 11, 2, 9, 0, tzinfo=UTC) not in slots
    assert datetime(2026, 11, 2, 9, 30, tzinfo=UTC) in slots


def test_hold_creates_an_appointment_and_its_order(practice, expert_setup, client_user, monday_morning):
    expert, _page = expert_setup
    appointment = services.hold(request_for(practice, expert, client_user), now=monday_morning)
    appointment.refresh_from_db()
    assert appointment.state == Appointment.State.HELD
    assert appointment.ends_at - appointment.starts_at == timedelta(minutes=30)
    assert appointment.held_until == monday_morning + timedelta(minutes=10)
    assert len(appointment.code) == 8 and set(appointment.code) <= set("ACDEFGHJKMNPQRTUVWXY34679")
    order = appointment.order
    assert (order.total, order.currency, order.capture_mode) == (5500, "EUR", "automatic")
    assert order.paid_object == appointment


def test_per_minute_authorizes_the_budget(practice, expert_setup, client_user, monday_morning):
    expert, _page = expert_setup
    appointment = services.hold(request_for(practice, expert, client_user, product="per_minute",
                                            budget_minutes=20), now=monday_morning)
    assert (appointment.minutes, appointment.order.total, appointment.order.capture_mode) == (20, 5000, "manual")


def test_paid_booking_is_confirmed_or_waits_for_the_expert(practice, expert_setup, client_user, monday_morning):
    expert, _page = expert_setup
    appointment = services.hold(request_for(practice, expert, client_user), now=monday_morning)
    services.order_paid(appointment.order, now=monday_morning)
    appointment.refresh_from_db()
    assert appointment.state == Appointment.State.CONFIRMED

    rules = BookingSettings.for_site(practice.site)
    rules.requires_confirmation = True
    rules.save()
    second = services.hold(request_for(practice, expert, client_user, starts_at=datetime(2026, 11, 4, 13, 0, tzinfo=UTC)),
                           now=monday_morning)  # Wednesday: more than a day ahead
    services.order_paid(second.order, now=monday_morning)
    services.order_paid(second.order, now=monday_morning)  # idempotent
    second.refresh_from_db()
    assert second.state == Appointment.State.REQUESTED
    assert second.confirm_by == monday_morning + timedelta(hours=24)


def test_paying_through_payments_confirms_the_booking(practice, expert_setup, client_user, monday_morning,
                                                     django_capture_on_commit_callbacks):
    expert, _page = expert_setup
    appointment = services.hold(request_for(practice, expert, client_user), now=monday_morning)
    with django_capture_on_commit_callbacks(execute=True):
        payment = payments.start_payment(appointment.order, "test")
        payments.confirm_capture(payment, amount=5500, currency="EUR", reference="sim_1")
    appointment.refresh_from_db()
    assert appointment.state == Appointment.State.CONFIRMED
    assert Order.objects.get(pk=appointment.order_id).state == Order.State.PAID


def test_released_hold_frees_the_slot_and_cancels_the_order(practice, expert_setup, client_user, monday_morning):
    expert, _page = expert_setup
    appointment = services.hold(request_for(practice, expert, client_user), now=monday_morning)
    services.release_hold(appointment)
    appointment.refresh_from_db()
    assert appointment.state == Appointment.State.CANCELED
    assert appointment.order.state == Order.State.CANCELED
    again = services.hold(request_for(practice, expert, client_user), now=monday_morning)
    assert again.pk != appointment.pk


def test_same_idempotency_key_gives_the_same_booking(practice, expert_setup, client_user, monday_morning):
    expert, _page = expert_setup
    first = services.hold(request_for(practice, expert, client_user, idempotency_key="k-1"), now=monday_morning)
    second = services.hold(request_for(practice, expert, client_user, idempotency_key="k-1"), now=monday_morning)
    assert first.pk == second.pk
    assert Appointment.objects.count() == 1 and Order.objects.count() == 1


@pytest.mark.parametrize("overrides, field, message", [
    ({"starts_at": datetime(2026, 11, 1, 9, 0, tzinfo=UTC)}, "starts_at", "already passed"),
    ({"starts_at": datetime(2026, 11, 2, 12, 0, tzinfo=UTC)}, "starts_at", "not available"),  # 13:00 lunch
    ({"starts_at": datetime(2026, 11, 30, 9, 0, tzinfo=UTC)}, "starts_at", "15 days"),
    ({"mode": "video", "product": "short"}, "product", "products on offer"),
    ({"mode": "fax"}, "mode", "chat, video or phone"),
    ({"product": "per_minute", "budget_minutes": 0}, "budget_minutes", "at least one minute"),
    ({"mode": "phone", "product": "per_minute", "budget_minutes": 10, "phone": "12"}, "phone", "valid phone"),
    ({"mode": "phone", "product": "per_minute", "budget_minutes": 10}, "phone", "phone number"),
    ({"promo_code": "NOPE"}, "promo_code", ""),
])
def test_bad_choices_are_refused_and_nothing_is_written(practice, expert_setup, client_user, monday_morning,
                                                        overrides, field, message):
    expert, _page = expert_setup
    with pytest.raises(services.BookingError) as error:
        services.hold(request_for(practice, expert, client_user, **overrides), now=monday_morning)
    assert error.value.field == field
    assert message in error.value.message
    assert Appointment.objects.count() == 0 and Order.objects.count() == 0


def test_phone_number_is_stored_in_international_form(practice, expert_setup, client_user, monday_morning):
    expert, _page = expert_setup
    appointment = services.hold(request_for(practice, expert, client_user, mode="phone", product="per_minute",
                                            budget_minutes=10, phone="06 12 34 56 78"), now=monday_morning)
    assert appointment.phone == "+33612345678"


def test_taken_slot_and_overlapping_lengths_are_refused(practice, expert_setup, client_user, make_user,
                                                        monday_morning):
    expert, _page = expert_setup
    services.hold(request_for(practice, expert, client_user, product="long"), now=monday_morning)  # 10:00-10:30
    other = make_user()
    with pytest.raises(services.SlotTaken):
        services.hold(request_for(practice, expert, other), now=monday_morning)
    with pytest.raises(services.SlotTaken):  # 09:30 for 45 min would run into 10:00
        services.hold(request_for(practice, expert, other, mode="video", product="long",
                                  starts_at=datetime(2026, 11, 2, 8, 30, tzinfo=UTC)), now=monday_morning)
    assert Appointment.objects.count() == 1


def test_switches_now_pause_and_modes_off(practice, expert_setup, client_user, monday_morning):
    expert, _page = expert_setup
    sunday = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)  # no rule on Sundays
    assert availability.free_slots(expert, "chat", 30, sunday, sunday + timedelta(hours=5), now=sunday) == []
    services.available_now(expert, now=sunday)
    assert AvailabilityException.objects.filter(expert=expert, kind="open").count() == 1
    slots = availability.free_slots(expert, "chat", 30, sunday, sunday + timedelta(hours=5), now=sunday)
    assert slots and slots[-1] == sunday + timedelta(hours=2, minutes=30)  # the three hours from now
    services.pause(expert, now=sunday + timedelta(hours=1))
    slots = availability.free_slots(expert, "chat", 30, sunday, sunday + timedelta(hours=5),
                                    now=sunday + timedelta(hours=1))
    assert all(slot >= sunday + timedelta(hours=1, minutes=20) for slot in slots)
    services.set_modes_off(expert, ["chat"])
    with pytest.raises(services.BookingError):
        services.hold(request_for(practice, expert, client_user), now=monday_morning)


@pytest.mark.django_db(transaction=True)
def test_fifty_parallel_bookings_of_one_slot_make_one(require_postgres, django_db_blocker):
    from tests.conftest import build_practice, ensure_wagtail_roots
    try:
        _parallel_bookings(build_practice)
    finally:
        ensure_wagtail_roots()


def _parallel_bookings(build_practice):
    import recurrence

    from modules.booking.models import AvailabilityRule, BookingProfile, Offering
    from site_core.access.services import create_expert
    from site_core.practice.models import User

    practice = build_practice()
    expert = create_expert(name="Marc Dubois")
    BookingProfile.objects.create(expert=expert, slot_minutes=15)  # half the clients ask 15 min later
    Offering.objects.create(expert=expert, mode="chat", short_minutes=15, short_price=2000, long_price=5000)
    AvailabilityRule.objects.create(expert=expert, start_time=datetime.min.time(), end_time=datetime.max.time(),
                                    recurrence=recurrence.deserialize("RRULE:FREQ=DAILY"))
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    starts = now + timedelta(hours=3)
    clients = [User.objects.create_user(username=f"c{i}", email=f"c{i}@example.test") for i in range(50)]
    outcomes = book_at_once(practice, expert, [
        (client, {"product": "long"} if i % 2 else {"product": "short", "starts_at": starts + timedelta(minutes=15)})
        for i, client in enumerate(clients)], starts_at=starts)
    assert outcomes == Counter(ok=1, taken=49), outcomes
    assert Appointment.objects.filter(state__in=Appointment.LIVE_STATES).count() == 1


def book_at_once(practice, expert, calls, **common):
    """Runs ``services.hold`` for each (client, overrides) in its own thread, all released at
    once by a barrier; the outcomes counted: "ok", "taken" (SlotTaken) or the error's repr."""
    barrier = threading.Barrier(len(calls))
    outcomes = []

    def book(client, overrides):
        try:
            barrier.wait(timeout=30)
            services.hold(request_for(practice, expert, client, **{**common, **overrides}))
            outcomes.append("ok")
        except services.SlotTaken:
            outcomes.append("taken")
        except Exception as exc:  # noqa: BLE001  (reported by the assertion)
            outcomes.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=book, args=call) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Counter(outcomes)


@pytest.mark.django_db(transaction=True)
def test_the_same_idempotency_key_sent_ten_times_at_once_makes_one_booking(require_postgres):
    from tests.conftest import build_practice

    _parallel_same_key(build_practice)


def _parallel_same_key(build_practice):
    import recurrence

    from modules.booking.models import AvailabilityRule, Offering
    from site_core.access.services import create_expert
    from site_core.practice.models import User

    practice = build_practice()
    expert = create_expert(name="Marc Dubois")
    Offering.objects.create(expert=expert, mode="chat", long_price=5000)
    AvailabilityRule.objects.create(expert=expert, start_time=datetime.min.time(), end_time=datetime.max.time(),
                                    recurrence=recurrence.deserialize("RRULE:FREQ=DAILY"))
    starts = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=3)
    client = User.objects.create_user(username="same", email="same@example.test")
    barrier = threading.Barrier(10)
    codes = []

    def book():
        try:
            barrier.wait(timeout=30)
            codes.append(services.hold(request_for(practice, expert, client, starts_at=starts,
                                                   idempotency_key="same-key")).code)
        except Exception as exc:  # noqa: BLE001  (reported by the assertion)
            codes.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=book) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(codes)) == 1, Counter(codes)
    assert Appointment.objects.count() == 1 and Order.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_parallel_bookings_keep_the_break_between_appointments(require_postgres):
    """10 clients book 10:00 and 10 book 10:30 at once, 30 minutes each, with a 15-minute break
    required between appointments: only one of them may get a slot (each other one would sit
    in its break). The availability check is repeated under the expert's lock."""
    import recurrence

    from modules.booking.models import AvailabilityRule, BookingProfile, Offering
    from site_core.access.services import create_expert
    from site_core.practice.models import User
    from tests.conftest import build_practice

    practice = build_practice()
    expert = create_expert(name="Marc Dubois")
    BookingProfile.objects.create(expert=expert, buffer_minutes=15, notice_minutes=0)
    Offering.objects.create(expert=expert, mode="chat", long_price=5000)
    AvailabilityRule.objects.create(expert=expert, start_time=datetime.min.time(), end_time=datetime.max.time(),
                                    recurrence=recurrence.deserialize("RRULE:FREQ=DAILY"))
    # 10:00 in the expert's zone, two days on: the 10:30 appointment must not run past midnight
    # (the opening hours end at 23:59), whatever the hour the suite runs at.
    paris = ZoneInfo(expert.time_zone)
    starts = (datetime.now(paris) + timedelta(days=2)).replace(hour=10, minute=0, second=0, microsecond=0)
    clients = [User.objects.create_user(username=f"b{i}", email=f"b{i}@example.test") for i in range(20)]
    outcomes = book_at_once(practice, expert, [
        (client, {"starts_at": starts + timedelta(minutes=30 * (i % 2))}) for i, client in enumerate(clients)])
    assert outcomes == Counter(ok=1, taken=19), outcomes
    assert Appointment.objects.filter(state__in=Appointment.LIVE_STATES).count() == 1
