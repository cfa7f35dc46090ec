""""Propose another time" (seed 002): the expert proposes one of their free times; the client
accepts from the email (signed, single use, POST), chooses another time, or cancels with a
full refund; meanwhile both times are held; no answer before the old start ends it."""

import re
import threading
from datetime import UTC, datetime, time, timedelta

import pytest
import recurrence
from django.core import mail
from django.db import connection
from django.test import Client
from django.utils import translation

from modules.booking import availability, notifications, services, tasks
from modules.booking.models import Appointment, AvailabilityRule, BookingProfile, Offering, Proposal
from site_core.payments.models import Payment
from tests.modules.booking.conftest import MONDAY_10  # (clock and paid are fixtures of conftest)

MONDAY_14 = MONDAY_10 + timedelta(hours=4)  # 14:00 in Paris: the expert's afternoon opening
EXPERT_PHONE = "+33611111111"


@pytest.fixture
def colleague(practice, make_expert):
    expert, _page, _en = make_expert(practice, "Marc Dubois")
    return expert


def csrf_of(html):
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def as_expert(appointment):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(appointment.expert.user)
    return browser


def propose(browser, appointment, starts_at, capture):
    url = f"/admin/appointments/propose/{appointment.pk}/"
    token = csrf_of(browser.get(url).content.decode())
    value = starts_at.isoformat() if isinstance(starts_at, datetime) else starts_at
    with capture(execute=True):
        return browser.post(url, {"starts_at": value, "csrfmiddlewaretoken": token})


def link_in(message, label):
    found = re.search(rf"{label}: http://[^/\s]+(/\S+)", message.body)
    assert found, message.body
    return found.group(1)


def proposal_mail(client_user):
    return [m for m in mail.outbox if client_user.email in m.to and "proposes another time" in m.subject]


def test_the_expert_proposes_a_time_and_the_client_accepts_from_the_email(paid, client_user, make_user,  # noqa: F811
                                                                           django_capture_on_commit_callbacks):
    appointment = paid()
    payment = Payment.objects.get(order=appointment.order)
    captured = payment.captured_amount
    expert = as_expert(appointment)
    page = expert.get(f"/admin/appointments/inspect/{appointment.pk}/").content.decode()
    assert f"/admin/appointments/propose/{appointment.pk}/" in page
    form = expert.get(f"/admin/appointments/propose/{appointment.pk}/").content.decode()
    assert f'value="{MONDAY_14.isoformat()}"' in form and f'value="{MONDAY_10.isoformat()}"' not in form
    # CSRF enforced: without the token nothing is proposed.
    assert expert.post(f"/admin/appointments/propose/{appointment.pk}/",
                       {"starts_at": MONDAY_14.isoformat()}).status_code == 403
    assert not Proposal.objects.exists()
    mail.outbox.clear()
    response = propose(expert, appointment, MONDAY_14, django_capture_on_commit_callbacks)
    assert response.status_code == 302
    proposal = Proposal.objects.get()
    assert proposal.state == Proposal.State.PENDING and proposal.starts_at == MONDAY_14
    appointment.refresh_from_db()
    assert appointment.starts_at == MONDAY_10 and appointment.state == Appointment.State.CONFIRMED
    (message,) = proposal_mail(client_user)
    for secret in (appointment.expert.user.email, EXPERT_PHONE):
        assert secret not in message.body
    assert "14:00" in message.body and "10:00" in message.body

    # Both times are held: nobody else can book the proposed one, the client's own move page can.
    other = make_user()
    assert MONDAY_14 not in availability.free_slots(appointment.expert, "chat", 30, MONDAY_10, MONDAY_10 +
                                                    timedelta(hours=8), MONDAY_10 - timedelta(days=1))
    with pytest.raises(services.BookingError):  # "not available" (the list no longer offers it)
        services.hold(services.BookingRequest(site=appointment.site, expert=appointment.expert, client=other,
                                              mode="chat", product="long", starts_at=MONDAY_14))
    with pytest.raises(services.SlotTaken):
        services.hold(services.BookingRequest(site=appointment.site, expert=appointment.expert, client=other,
                                              mode="chat", product="long", starts_at=MONDAY_10))
    assert link_in(message, "Choose another time") == f"/en/booking/move/{appointment.code}/"  # booked in English

    path = link_in(message, r"Accept the new time \(one click\)")
    browser = Client(enforce_csrf_checks=True)
    shown = browser.get(path)  # what a mail scanner does: nothing changes
    assert shown.status_code == 200 and "Accept the new time" in shown.content.decode()
    proposal.refresh_from_db()
    assert proposal.state == Proposal.State.PENDING
    assert browser.post(path, {"action": "accept"}).status_code == 403  # CSRF enforced
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        accepted = browser.post(path, {"action": "accept", "csrfmiddlewaretoken": csrf_of(shown.content.decode())})
    assert accepted.status_code == 302
    appointment.refresh_from_db()
    proposal.refresh_from_db()
    payment.refresh_from_db()
    assert appointment.starts_at == MONDAY_14 and appointment.ends_at == MONDAY_14 + timedelta(minutes=30)
    assert appointment.state == Appointment.State.CONFIRMED and appointment.reschedules == 1
    assert proposal.state == Proposal.State.ACCEPTED
    assert payment.captured_amount == captured and payment.refunded_amount == 0  # the money followed
    assert any(client_user.email in m.to and "has moved" in m.subject for m in mail.outbox)
    assert "You accepted this time" in browser.get(path).content.decode()
    # The old time is free again.
    assert MONDAY_10 in availability.free_slots(appointment.expert, "chat", 30, MONDAY_10, MONDAY_10 +
                                                timedelta(hours=1), MONDAY_10 - timedelta(days=1))

    # Replayed: a clear page, nothing changed.
    replay = browser.post(path, {"action": "accept", "csrfmiddlewaretoken": csrf_of(shown.content.decode())})
    assert replay.status_code == 409 and "already answered" in replay.content.decode()
    appointment.refresh_from_db()
    assert appointment.starts_at == MONDAY_14 and appointment.reschedules == 1


def test_a_request_answered_by_a_proposal_waits_for_the_client_then_is_confirmed(
        paid, client_user, clock, django_capture_on_commit_callbacks):  # noqa: F811
    appointment = paid(confirmation=True)
    assert appointment.state == Appointment.State.REQUESTED
    proposal = services.propose_time(appointment, MONDAY_14, expert=appointment.expert)
    appointment.refresh_from_db()
    assert appointment.confirm_by == MONDAY_10  # no 24-hour expiry while the client decides
    clock.move(hours=25)
    assert tasks.sweep()[0] == 0
    with django_capture_on_commit_callbacks(execute=True):
        services.accept_proposal(proposal)
    appointment.refresh_from_db()
    assert appointment.state == Appointment.State.CONFIRMED and appointment.starts_at == MONDAY_14
    assert appointment.confirm_by is None


NOT_FREE = "You are not free at this time: it is taken or outside your hours."
LIST = "Choose a time from the list."


def french(msgid):
    """The expert reads the admin in French."""
    with translation.override("fr"):
        return translation.gettext(msgid)


@pytest.mark.parametrize(("starts_at", "message"), [
    (MONDAY_10 + timedelta(hours=2, minutes=30), NOT_FREE),  # 12:30 in Paris: the lunch break
    (MONDAY_14 + timedelta(minutes=10), NOT_FREE),  # off the expert's grid
    (datetime(2026, 10, 29, 9, 0, tzinfo=UTC), "This time has already passed."),
    (MONDAY_10, "This is already the time of the consultation."),
    ("tomorrow at ten", LIST),
    ("2026-11-02T13:00:00", LIST),  # no zone
])
def test_a_bad_time_is_refused_with_a_message_and_nothing_changes(paid, client_user, starts_at, message,  # noqa: F811
                                                                  django_capture_on_commit_callbacks):
    appointment = paid()
    mail.outbox.clear()
    response = propose(as_expert(appointment), appointment, starts_at, django_capture_on_commit_callbacks)
    assert response.status_code in (400, 409)
    assert french(message) in response.content.decode()
    assert not Proposal.objects.exists() and not mail.outbox
    appointment.refresh_from_db()
    assert appointment.starts_at == MONDAY_10 and appointment.state == Appointment.State.CONFIRMED


def test_a_taken_time_is_refused(paid, client_user, make_user, django_capture_on_commit_callbacks):  # noqa: F811
    appointment = paid()
    paid(starts_at=MONDAY_14, client=make_user())
    response = propose(as_expert(appointment), appointment, MONDAY_14, django_capture_on_commit_callbacks)
    assert response.status_code == 409 and french(NOT_FREE) in response.content.decode()
    assert not Proposal.objects.exists()


def test_a_time_proposed_to_another_client_is_taken(paid, client_user, make_user):  # noqa: F811
    first = paid()
    second = paid(starts_at=MONDAY_10 + timedelta(hours=1), client=make_user())
    services.propose_time(first, MONDAY_14, expert=first.expert)
    with pytest.raises(services.BookingError) as refused:
        services.propose_time(second, MONDAY_14, expert=second.expert)
    assert refused.value.code == "not_free"
    with pytest.raises(services.BookingError):
        services.reschedule(second, MONDAY_14, by="client")


@pytest.mark.parametrize("when", ["started", "ended", "canceled"])
def test_no_proposal_for_an_appointment_started_ended_or_canceled(paid, clock, when,  # noqa: F811
                                                                  django_capture_on_commit_callbacks):
    appointment = paid()
    if when == "started":
        clock.now = MONDAY_10 + timedelta(minutes=5)
    elif when == "ended":
        clock.now = MONDAY_10 + timedelta(hours=1)
    else:
        with django_capture_on_commit_callbacks(execute=True):
            services.cancel(appointment, by="client")
    url = f"/admin/appointments/propose/{appointment.pk}/"
    browser = Client()
    browser.force_login(appointment.expert.user)
    page = browser.get(url)
    assert page.status_code == 200 and "data-cabinet-error" in page.content.decode()
    assert 'name="starts_at"' not in page.content.decode()  # nothing to choose from
    refused = browser.post(url, {"starts_at": (MONDAY_14 + timedelta(days=1)).isoformat()})
    assert refused.status_code == 400 and "data-cabinet-error" in refused.content.decode()
    assert not Proposal.objects.exists()
    with pytest.raises(services.BookingError):
        services.propose_time(appointment, MONDAY_14 + timedelta(days=1), expert=appointment.expert)


def test_the_client_cancels_from_the_link_and_is_refunded_in_full(paid, client_user, clock,  # noqa: F811
                                                                   django_capture_on_commit_callbacks):
    appointment = paid()
    proposal = services.propose_time(appointment, MONDAY_14, expert=appointment.expert)
    clock.now = MONDAY_10 - timedelta(hours=2)  # past the free-cancellation cut-off: still in full
    path = f"/booking/proposal/{notifications.proposal_token(proposal)}/"
    browser = Client(enforce_csrf_checks=True)
    token = csrf_of(browser.get(path).content.decode())
    with django_capture_on_commit_callbacks(execute=True):
        assert browser.post(path, {"action": "cancel", "csrfmiddlewaretoken": token}).status_code == 302
    appointment.refresh_from_db()
    payment = Payment.objects.get(order=appointment.order)
    assert appointment.state == Appointment.State.CANCELED and appointment.refund_percent == 100
    assert payment.refunded_amount == payment.captured_amount
    assert Proposal.objects.get().state == Proposal.State.DECLINED
    assert browser.post(path, {"action": "accept", "csrfmiddlewaretoken": token}).status_code == 409


@pytest.mark.parametrize("confirmation", [False, True])
def test_no_answer_before_the_old_start_releases_and_refunds(paid, client_user, clock, confirmation,  # noqa: F811
                                                             django_capture_on_commit_callbacks):
    appointment = paid(confirmation=confirmation)
    proposal = services.propose_time(appointment, MONDAY_14, expert=appointment.expert)
    clock.now = MONDAY_10 - timedelta(minutes=1)
    assert run_sweep(django_capture_on_commit_callbacks) == 0
    clock.now = MONDAY_10
    mail.outbox.clear()
    assert run_sweep(django_capture_on_commit_callbacks) == 1
    appointment.refresh_from_db()
    proposal.refresh_from_db()
    payment = Payment.objects.get(order=appointment.order)
    assert appointment.state == (Appointment.State.EXPIRED if confirmation else Appointment.State.CANCELED)
    assert proposal.state == Proposal.State.EXPIRED and appointment.refund_percent == 100
    assert payment.refunded_amount == payment.captured_amount
    assert any(client_user.email in m.to and "did not answer the other time" in m.body for m in mail.outbox)
    assert MONDAY_14 in availability.free_slots(appointment.expert, "chat", 30, MONDAY_14, MONDAY_14 +
                                                timedelta(hours=1), MONDAY_10)  # no longer reserved
    assert run_sweep(django_capture_on_commit_callbacks) == 0
    stale = Client().post(f"/en/booking/proposal/{notifications.proposal_token(proposal)}/", {"action": "accept"})
    assert stale.status_code == 409 and "already answered" in stale.content.decode()


def run_sweep(capture):
    with capture(execute=True):
        return tasks.sweep()[0]


def test_a_stale_replaced_or_forged_link_changes_nothing(paid, client_user, django_capture_on_commit_callbacks):  # noqa: F811
    appointment = paid()
    first = services.propose_time(appointment, MONDAY_14, expert=appointment.expert)
    second = services.propose_time(appointment, MONDAY_14 + timedelta(hours=1), expert=appointment.expert)
    first.refresh_from_db()
    assert first.state == Proposal.State.WITHDRAWN
    old = Client().post(f"/en/booking/proposal/{notifications.proposal_token(first)}/", {"action": "accept"})
    assert old.status_code == 409 and "no longer applies" in old.content.decode()
    token = notifications.proposal_token(second)
    assert Client().get(f"/booking/proposal/{token[:-3]}abc/").status_code == 404
    # The client moves the consultation themselves: the proposal no longer applies.
    with django_capture_on_commit_callbacks(execute=True):
        services.reschedule(appointment, MONDAY_10 + timedelta(days=1), by="client")
    stale = Client().post(f"/en/booking/proposal/{token}/", {"action": "accept"})
    assert stale.status_code == 409 and "no longer applies" in stale.content.decode()
    appointment.refresh_from_db()
    assert appointment.starts_at == MONDAY_10 + timedelta(days=1)
    assert Proposal.objects.get(pk=second.pk).state == Proposal.State.PENDING  # but it reserves nothing
    assert MONDAY_14 + timedelta(hours=1) in availability.free_slots(
        appointment.expert, "chat", 30, MONDAY_14, MONDAY_14 + timedelta(hours=2), MONDAY_10 - timedelta(days=1))


def test_only_the_appointments_expert_proposes(paid, client_user, colleague, make_user):  # noqa: F811
    appointment = paid()
    url = f"/admin/appointments/propose/{appointment.pk}/"
    body = {"starts_at": MONDAY_14.isoformat()}
    other = Client()
    other.force_login(colleague.user)
    assert other.get(url).status_code == 404 and other.post(url, body).status_code == 404
    admin = Client()
    admin.force_login(make_user(is_superuser=True, is_staff=True))
    assert admin.post(url, body).status_code in (302, 403)  # Wagtail answers PermissionDenied so
    buyer = Client()
    buyer.force_login(client_user)
    assert buyer.post(url, body).status_code in (302, 403)
    assert Client().post(url, body).status_code == 302
    assert not Proposal.objects.exists()
    with pytest.raises(services.BookingError):
        services.propose_time(appointment, MONDAY_14, expert=colleague)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("confirmation", [False, True])
def test_accept_racing_the_sweeper_gives_one_outcome_on_postgresql(require_postgres, confirmation):
    """Two connections: the client accepts (a moment before the old start) while the sweeper
    runs (at the old start). Either the appointment moved and nothing was refunded, or it
    ended, refunded, and the accept was refused; never both."""
    from site_core.access.services import create_expert
    from site_core.practice.models import Expert, User
    from tests.conftest import build_practice, ensure_wagtail_roots

    try:
        practice = build_practice()
        expert = create_expert(name="Marc Dubois")
        BookingProfile.objects.create(expert=expert, notice_minutes=0)
        Offering.objects.create(expert=expert, mode="chat", long_price=5000)
        AvailabilityRule.objects.create(expert=expert, start_time=time.min, end_time=time.max,
                                        recurrence=recurrence.deserialize("RRULE:FREQ=DAILY"))
        outcomes = []
        for round_ in range(4):
            client = User.objects.create_user(username=f"race{confirmation}{round_}",
                                              email=f"race{round_}@example.test")
            now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=2 + round_)
            starts_at, proposed = now + timedelta(hours=1), now + timedelta(hours=3)
            before = now
            appointment = services.hold(services.BookingRequest(
                site=practice.site, expert=expert, client=client, mode="chat", product="long",
                starts_at=starts_at), now=before - timedelta(hours=30))
            Appointment.objects.filter(pk=appointment.pk).update(
                state=Appointment.State.REQUESTED if confirmation else Appointment.State.CONFIRMED,
                held_until=None, confirm_by=starts_at if confirmation else None)
            appointment.refresh_from_db()
            proposal = services.propose_time(appointment, proposed, expert=Expert.objects.get(pk=expert.pk),
                                             now=before)
            result = _accept_while_sweeping(proposal.pk, starts_at)
            appointment.refresh_from_db()
            row = Proposal.objects.get(pk=proposal.pk)
            if result["accept"] == "moved":
                assert appointment.starts_at == proposed and appointment.state == Appointment.State.CONFIRMED
                assert row.state == Proposal.State.ACCEPTED and appointment.refund_percent is None
                assert result["sweep"] == 0
            else:
                assert result["accept"] in ("answered", "stale")
                assert appointment.starts_at == starts_at and not appointment.is_live
                assert row.state == Proposal.State.EXPIRED and appointment.refund_percent == 100
                assert result["sweep"] >= 1
            outcomes.append(result["accept"])
        assert len(outcomes) == 4
    finally:
        ensure_wagtail_roots()


def _accept_while_sweeping(proposal_pk, starts_at):
    """On two connections released together: the client accepts one second before the old
    start, the sweeper runs at the old start. {"accept": "moved" or the refusal's code,
    "sweep": how many rows the sweeper changed}."""
    barrier, result = threading.Barrier(2), {}

    def accept():
        try:
            barrier.wait(timeout=30)
            services.accept_proposal(Proposal.objects.get(pk=proposal_pk), now=starts_at - timedelta(seconds=1))
            result["accept"] = "moved"
        except services.BookingError as exc:
            result["accept"] = exc.code
        finally:
            connection.close()

    def sweep():
        try:
            barrier.wait(timeout=30)
            result["sweep"] = services.expire_proposals(starts_at) + services.expire_due(starts_at)
        finally:
            connection.close()

    threads = [threading.Thread(target=accept), threading.Thread(target=sweep)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return result
