"""The appointment's whole life as events (B1): confirmed, rescheduled, canceled, no-show,
ended; several orders per appointment; who may enter its session."""

import re
import threading
from collections import Counter
from datetime import time, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import translation

from modules.booking import services, tasks
from modules.booking.access import session_role
from modules.booking.models import Appointment
from site_core import events
from site_core.access.services import add_practice_admin
from site_core.events.models import Event
from site_core.payments import services as payments
from site_core.payments.models import Order, Payment, Refund
from tests.modules.booking.conftest import MONDAY_10
from tests.modules.booking.test_lifecycle import logged_in, run

pytestmark = pytest.mark.django_db

A = Appointment.State


def names(appointment):
    """The events about ``appointment``, in order."""
    return [e.name for e in Event.objects.order_by("pk") if e.payload.get("appointment_id") == appointment.pk]


@pytest.fixture
def admin_of(make_user):
    def make(practice, email="admin@example.test"):
        user = make_user(email=email)
        add_practice_admin(practice.site, user)
        return user

    return make


def test_a_paid_booking_is_announced_confirmed_once(paid, listen):
    received = listen(events.appointment_confirmed)
    appointment = paid()
    assert appointment.state == A.CONFIRMED
    (fact,) = received
    assert fact["appointment_id"] == appointment.pk and fact["code"] == appointment.code
    assert fact["site_id"] == appointment.site_id and fact["minutes"] == appointment.minutes
    assert fact["starts_at"] == appointment.starts_at.isoformat() and fact["free"] is False
    assert fact["expert_id"] == appointment.expert_id and fact["client_id"] == appointment.client_id


def test_a_request_is_announced_when_the_expert_confirms_it(paid, listen, django_capture_on_commit_callbacks):
    received = listen(events.appointment_confirmed)
    appointment = paid(confirmation=True)
    assert appointment.state == A.REQUESTED and received == []
    run(django_capture_on_commit_callbacks, services.confirm, appointment)
    run(django_capture_on_commit_callbacks, services.confirm, appointment)  # idempotent
    assert [r["appointment_id"] for r in received] == [appointment.pk]


def test_a_move_and_a_cancellation_are_announced(paid, clock, listen, django_capture_on_commit_callbacks):
    moved, canceled = listen(events.appointment_rescheduled), listen(events.appointment_canceled)
    appointment = paid()
    new_start = MONDAY_10 + timedelta(hours=5)
    run(django_capture_on_commit_callbacks, services.reschedule, appointment, new_start, by="client")
    assert [(r["previous_starts_at"], r["starts_at"], r["by"]) for r in moved] == [
        (MONDAY_10.isoformat(), new_start.isoformat(), "client")]
    run(django_capture_on_commit_callbacks, services.cancel, appointment, by="expert", reason="ill")
    assert [(r["by"], r["reason"], r["refund_percent"]) for r in canceled] == [("expert", "ill", 100)]
    assert names(appointment) == ["appointment_confirmed", "appointment_rescheduled", "appointment_canceled"]


def test_an_unpaid_hold_given_up_is_not_a_cancellation(practice, expert_setup, client_user, clock, listen,
                                                       django_capture_on_commit_callbacks):
    from tests.modules.booking.test_lifecycle import hold_monday_10

    canceled = listen(events.appointment_canceled)
    appointment = hold_monday_10(practice, expert_setup[0], client_user)
    run(django_capture_on_commit_callbacks, services.release_hold, appointment)
    assert Appointment.objects.get(pk=appointment.pk).state == A.CANCELED and canceled == []


# --- No-show -------------------------------------------------------------------------------

def test_the_expert_records_that_the_client_did_not_come(paid, clock, listen, django_capture_on_commit_callbacks):
    received = listen(events.appointment_no_show)
    appointment = paid()
    clock.now = appointment.starts_at + timedelta(minutes=10)
    expert_user = appointment.expert.user
    run(django_capture_on_commit_callbacks, services.mark_no_show, appointment, "client", by=expert_user)
    appointment.refresh_from_db()
    assert appointment.state == A.NO_SHOW and appointment.refund_percent == 0
    assert appointment.money_settled_at is not None
    assert not Refund.objects.exists()  # the time was kept for the client: nothing goes back
    assert [(r["who"], r["marked_by_id"]) for r in received] == [("client", expert_user.pk)]
    # Said again: nothing more.
    run(django_capture_on_commit_callbacks, services.mark_no_show, appointment, "client", by=expert_user)
    assert len(received) == 1


def test_an_administrator_records_that_the_expert_did_not_come_and_the_client_is_refunded(
        paid, clock, practice, admin_of, django_capture_on_commit_callbacks):
    appointment = paid()
    clock.now = appointment.starts_at + timedelta(minutes=10)
    run(django_capture_on_commit_callbacks, services.mark_no_show, appointment, "expert", by=admin_of(practice))
    appointment.refresh_from_db()
    assert appointment.state == A.NO_SHOW and appointment.ended_by == "admin"
    (refund,) = Refund.objects.all()
    assert refund.amount == appointment.order.total and refund.state == Refund.State.DONE


def test_no_show_refusals(paid, clock, client_user, practice, make_expert, admin_of, request,
                          django_capture_on_commit_callbacks):
    appointment = paid()
    expert_user = appointment.expert.user
    english = translation.override("en")
    english.__enter__()
    request.addfinalizer(lambda: english.__exit__(None, None, None))
    with pytest.raises(services.BookingError, match="not started yet"):
        services.mark_no_show(appointment, "client", by=expert_user)
    clock.now = appointment.starts_at + timedelta(minutes=10)
    other_expert, _page, _en = make_expert(practice, "Marc Dubois")
    for user, who in ((client_user, "expert"), (client_user, "client"), (expert_user, "expert"),
                      (other_expert.user, "client")):
        with pytest.raises(services.BookingError, match="may not record"):
            services.mark_no_show(appointment, who, by=user)
    with pytest.raises(services.BookingError, match="client or the expert"):
        services.mark_no_show(appointment, "nobody", by=admin_of(practice))
    assert Appointment.objects.get(pk=appointment.pk).state == A.CONFIRMED
    assert "appointment_no_show" not in names(appointment)


def test_the_no_show_button_in_the_admin_with_csrf(paid, clock, django_capture_on_commit_callbacks):
    appointment = paid()
    clock.now = appointment.starts_at + timedelta(minutes=10)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(appointment.expert.user)
    page = browser.get(f"/admin/appointments/inspect/{appointment.pk}/").content.decode()
    assert "The client did not come" in page or "Le client n’est pas venu" in page
    assert "The expert did not come" not in page  # an expert does not record their own absence
    form = re.search(r'<form method="post" action="([^"]+)"[^>]*>.{0,80}?csrfmiddlewaretoken" value="([^"]+)">'
                     r'<input type="hidden" name="action" value="no_show_client">', page, re.S)
    assert form, "no no-show form on the page"
    with django_capture_on_commit_callbacks(execute=True):
        refused = browser.post(form.group(1), {"action": "no_show_client"})
    assert refused.status_code == 403  # no token
    with django_capture_on_commit_callbacks(execute=True):
        answer = browser.post(form.group(1), {"action": "no_show_client", "csrfmiddlewaretoken": form.group(2)})
    assert answer.status_code == 302
    assert Appointment.objects.get(pk=appointment.pk).state == A.NO_SHOW


# --- The end of a session --------------------------------------------------------------------

def test_end_session_completes_and_announces_once(paid, listen, django_capture_on_commit_callbacks):
    received = listen(events.session_ended)
    appointment = paid()
    for _ in range(2):
        run(django_capture_on_commit_callbacks, services.end_session, appointment, source="timer",
            minutes_run=28, free_minutes=2)
    assert Appointment.objects.get(pk=appointment.pk).state == A.COMPLETED
    (fact,) = received
    assert (fact["source"], fact["minutes_bought"], fact["minutes_run"], fact["free_minutes"]) == ("timer", 30, 28, 2)
    assert (fact["amount_due"], fact["currency"]) == (appointment.order.total, "EUR")


def test_only_a_confirmed_appointment_ends_as_held(paid, django_capture_on_commit_callbacks):
    appointment = paid(confirmation=True)
    with pytest.raises(services.BookingError):
        services.end_session(appointment, source="timer", minutes_run=1)
    assert Appointment.objects.get(pk=appointment.pk).state == A.REQUESTED


def test_without_a_module_ending_sessions_the_sweeper_ends_them(paid, clock, listen, monkeypatch,
                                                                 django_capture_on_commit_callbacks):
    received = listen(events.session_ended)
    appointment = paid()
    clock.now = appointment.ends_at + services.AUTO_END_GRACE - timedelta(seconds=1)
    run(django_capture_on_commit_callbacks, tasks.sweep)
    assert Appointment.objects.get(pk=appointment.pk).state == A.CONFIRMED  # not yet
    clock.now += timedelta(seconds=2)
    run(django_capture_on_commit_callbacks, tasks.sweep)
    run(django_capture_on_commit_callbacks, tasks.sweep)
    assert Appointment.objects.get(pk=appointment.pk).state == A.COMPLETED
    (fact,) = received
    assert (fact["source"], fact["minutes_run"], fact["minutes_bought"]) == ("auto", 30, 30)
    assert fact["occurred_at"] == appointment.ends_at


def test_where_a_module_ends_sessions_the_sweeper_leaves_them(paid, clock, monkeypatch,
                                                              django_capture_on_commit_callbacks):
    from django.apps import apps

    monkeypatch.setattr(apps.get_app_config("contact"), "ends_sessions", True)
    appointment = paid()
    clock.now = appointment.ends_at + timedelta(hours=2)
    run(django_capture_on_commit_callbacks, tasks.sweep)
    assert Appointment.objects.get(pk=appointment.pk).state == A.CONFIRMED


# --- Several orders per appointment ---------------------------------------------------------

def _extra_time(appointment, total=1500):
    """A second order for the appointment (extra time), paid with the test card."""
    from tests.site_core.payments.drivers.test_card import TestCardDriver

    order = payments.create_order(site=appointment.site, client=appointment.client, expert=appointment.expert,
                                  purpose="extra_time", currency="EUR", lines=[("10 min", total, 1)],
                                  paid_object=appointment)
    TestCardDriver().pay(logged_in(appointment.client), order)
    order.refresh_from_db()
    assert order.state == Order.State.PAID
    return order


def test_a_cancellation_refunds_every_order_of_the_appointment(paid, clock, django_capture_on_commit_callbacks):
    appointment = paid()
    extra = run(django_capture_on_commit_callbacks, _extra_time, appointment)
    assert [o.pk for o in appointment.orders()] == [appointment.order_id, extra.pk]
    run(django_capture_on_commit_callbacks, services.cancel, appointment, by="expert")
    refunded = {r.payment.order_id: r.amount for r in Refund.objects.filter(state=Refund.State.DONE)}
    assert refunded == {appointment.order_id: appointment.order.total, extra.pk: 1500}
    # Settled once: the sweeper passing again gives nothing more back.
    clock.move(minutes=10)
    run(django_capture_on_commit_callbacks, tasks.sweep)
    assert Refund.objects.count() == 2


def test_the_portal_lists_a_receipt_for_every_paid_order(paid, client_user, django_capture_on_commit_callbacks):
    appointment = paid()
    extra = run(django_capture_on_commit_callbacks, _extra_time, appointment)
    page = logged_in(client_user).get("/portal/").content.decode()
    assert f"/payments/paid/{appointment.order.public_id}/" in page
    assert f"/payments/paid/{extra.public_id}/" in page


# --- Who may enter a session -----------------------------------------------------------------

def test_session_role(paid, practice, client_user, make_user, make_expert, admin_of, django_user_model):
    from tests.conftest import build_practice

    appointment = paid()
    other_practice = build_practice("other.example.test", name="Autre cabinet")
    other_expert, _page, _en = make_expert(practice, "Marc Dubois")
    owner = django_user_model.objects.create_superuser("owner", "owner@example.test", "pw")
    inactive = make_user(email="gone@example.test")
    add_practice_admin(practice.site, inactive)
    inactive.is_active = False
    inactive.save()
    from django.contrib.auth.models import AnonymousUser

    assert session_role(client_user, appointment) == "client"
    assert session_role(appointment.expert.user, appointment) == "expert"
    assert session_role(admin_of(practice), appointment) == "admin"
    assert session_role(owner, appointment) == "admin"
    assert session_role(admin_of(other_practice, "other-admin@example.test"), appointment) is None
    assert session_role(other_expert.user, appointment) is None
    assert session_role(make_user(email="someone@example.test"), appointment) is None
    assert session_role(AnonymousUser(), appointment) is None
    assert session_role(None, appointment) is None
    assert session_role(inactive, appointment) is None


# --- Races (PostgreSQL, real parallel transactions) -----------------------------------------

def at_once(*calls):
    """Run each callable in its own thread, released together; their results or exceptions."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run_one(i, fn):
        try:
            barrier.wait(timeout=30)
            results[i] = fn()
        except Exception as exc:  # noqa: BLE001  (reported by the assertions)
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run_one, args=(i, fn)) for i, fn in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def _race_setup():
    import recurrence

    from modules.booking.models import AvailabilityRule, BookingSettings, Offering
    from site_core.access.services import create_expert
    from site_core.practice.models import User
    from tests.conftest import build_practice

    practice = build_practice()
    expert_user = User.objects.create_user(username="expert", email="expert@example.test")
    expert = create_expert(name="Marc Dubois", user=expert_user, site=practice.site)
    Offering.objects.create(expert=expert, mode="chat", long_minutes=30, long_price=5000)
    AvailabilityRule.objects.create(expert=expert, start_time=time(0), end_time=time(23, 59),
                                    recurrence=recurrence.deserialize("RRULE:FREQ=DAILY"))
    client = User.objects.create_user(username="client", email="client@example.test")
    return practice, expert, client, BookingSettings


def _charged(order):
    """A payment of ``order`` the simulated gateway has charged; returns (payment, webhook):
    calling ``webhook()`` tells Cabinet, as the gateway's notification would."""
    from modules.payments_test import gateway

    payment = payments.start_payment(order, "test")
    charge = gateway.create_charge(idempotency_key=payment.idempotency_key, amount=payment.amount,
                                   currency=payment.currency, manual_capture=False)
    payments.set_reference(payment, charge.id)
    gateway.pay_with_card(charge.id, gateway.SUCCESS)
    return payment, lambda: payments.confirm_capture(payment, amount=payment.amount, currency=payment.currency,
                                                     reference=charge.id)


def _book_and_pay(practice, expert, client, starts_at, *, confirmation=False, pay=True):
    from modules.booking.models import BookingSettings

    rules = BookingSettings.for_site(practice.site)
    rules.requires_confirmation = confirmation
    rules.save()
    appointment = services.hold(services.BookingRequest(site=practice.site, expert=expert, client=client,
                                                        mode="chat", product="long", starts_at=starts_at))
    if pay:
        _payment, webhook = _charged(appointment.order)
        webhook()
    return Appointment.objects.get(pk=appointment.pk)


@pytest.fixture
def race(require_postgres):
    """A transactional test (real commits, threads): the Wagtail tree is put back after it."""
    from tests.conftest import ensure_wagtail_roots

    yield
    ensure_wagtail_roots()


def _in_hours(hours):
    from django.utils import timezone

    return timezone.now().replace(minute=0, second=0, microsecond=0) + timedelta(hours=hours)


@pytest.mark.django_db(transaction=True)
def test_two_confirmations_of_one_request_make_one_outcome(race):
    practice, expert, client, _ = _race_setup()
    appointment = _book_and_pay(practice, expert, client, _in_hours(30), confirmation=True)
    assert appointment.state == A.REQUESTED
    results = at_once(*[lambda: services.confirm(appointment) for _ in range(4)])
    assert all(isinstance(r, Appointment) for r in results), results
    assert Appointment.objects.get(pk=appointment.pk).state == A.CONFIRMED
    assert names(appointment).count("appointment_confirmed") == 1


@pytest.mark.django_db(transaction=True)
def test_giving_up_racing_the_payment_webhook_makes_one_outcome(require_postgres):
    """The client leaves the checkout (the hold is released) while the gateway's webhook says
    the card was charged: either the booking stands, paid once, or it is canceled and nothing
    stays charged."""
    practice, expert, client, _ = _race_setup()
    outcomes = Counter()
    for hour in (30, 32, 34, 36, 38, 40):
        appointment = _book_and_pay(practice, expert, client, _in_hours(hour), pay=False)
        payment, webhook = _charged(appointment.order)
        at_once(lambda a=appointment: services.release_hold(a, reason="left"), webhook)
        # What the outbox and the sweepers do next (a refund after a late capture).
        from site_core.events import outbox

        outbox.sweep()
        tasks.sweep()
        appointment.refresh_from_db()
        payment.refresh_from_db()
        kept = payment.captured_amount - payment.refunded_amount
        confirmed = names(appointment).count("appointment_confirmed")
        if appointment.state == A.CONFIRMED:
            outcomes["booked"] += 1
            assert kept == appointment.order.total and confirmed == 1
        else:
            outcomes["released"] += 1
            assert appointment.state == A.CANCELED and kept == 0 and confirmed == 0
            assert Refund.objects.filter(payment=payment).count() <= 1
        assert Payment.objects.filter(order=appointment.order, state=Payment.State.CAPTURED).count() <= 1
    assert sum(outcomes.values()) == 6, outcomes


@pytest.mark.django_db(transaction=True)
def test_accepting_a_proposal_racing_its_expiry_makes_one_outcome(race):
    """The client accepts the proposed time just as the sweeper finds it unanswered: the
    appointment is moved, or canceled and refunded once, never both."""
    from modules.booking.models import Proposal

    practice, expert, client, _ = _race_setup()
    appointment = _book_and_pay(practice, expert, client, _in_hours(30))
    proposal = services.propose_time(appointment, appointment.starts_at + timedelta(hours=3), expert=expert)
    old_start = appointment.starts_at
    results = at_once(
        lambda: services.accept_proposal(proposal, now=old_start - timedelta(seconds=1)),
        lambda: services.expire_proposals(now=old_start + timedelta(seconds=1)),
    )
    appointment.refresh_from_db()
    said = names(appointment)
    tasks.settle_money(appointment.pk)
    refunds = Refund.objects.filter(payment__order=appointment.order).count()
    if appointment.state == A.CONFIRMED:
        assert appointment.starts_at == old_start + timedelta(hours=3)
        assert said.count("appointment_rescheduled") == 1 and "appointment_canceled" not in said
        assert refunds == 0 and results[1] == 0
    else:
        assert appointment.state == A.CANCELED and isinstance(results[0], services.BookingError)
        assert said.count("appointment_canceled") == 1 and "appointment_rescheduled" not in said
        assert refunds == 1
    assert Proposal.objects.get(pk=proposal.pk).state != Proposal.State.PENDING


@pytest.mark.django_db(transaction=True)
def test_moving_a_request_racing_its_expiry_makes_one_outcome(race):
    """The expert moves a request just as the sweeper finds it unanswered: it expires, once,
    its money released once, and it is never announced as moved."""
    practice, expert, client, _ = _race_setup()
    appointment = _book_and_pay(practice, expert, client, _in_hours(30), confirmation=True)
    deadline = Appointment.objects.get(pk=appointment.pk).confirm_by
    after = deadline + timedelta(seconds=1)
    results = at_once(
        lambda: services.reschedule(appointment, appointment.starts_at + timedelta(hours=2), by="expert", now=after),
        lambda: services.expire_due(now=after),
    )
    appointment.refresh_from_db()
    assert appointment.state == A.EXPIRED and results[1] == 1
    assert isinstance(results[0], services.BookingError) and results[0].code in ("too_late", "not_movable")
    tasks.settle_money(appointment.pk)
    tasks.settle_money(appointment.pk)
    said = names(appointment)
    assert "appointment_rescheduled" not in said and "appointment_confirmed" not in said
    assert Refund.objects.filter(payment__order=appointment.order).count() == 1
