"""After payment: notices, the expert's answer, deadlines, cancellations, reminders, calendars."""

from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from wagtail import hooks as wagtail_hooks

from modules.booking import notifications, services, tasks
from modules.booking.models import Appointment, BookingSettings, Notice
from site_core.base.sms import LocmemBackend
from site_core.modules import hooks
from site_core.payments.models import Payment
from tests.modules.booking.conftest import BOOKED_AT, MONDAY_10  # noqa: F401  (the fixtures' clock)
from tests.site_core.payments.drivers.test_card import TestCardDriver


def hold_monday_10(practice, expert, client, **overrides):
    """Step 3 done, not paid: the 30-minute chat package on Monday 10:00 Paris."""
    values = dict(site=practice.site, expert=expert, client=client, mode="chat", product="long",
                  starts_at=MONDAY_10)
    return services.hold(services.BookingRequest(**{**values, **overrides}))


def logged_in(user):
    browser = Client()
    browser.force_login(user)
    return browser


def calendar_attachment(message):
    """(iTIP method, iCalendar text) of the one .ics file attached to ``message``."""
    (part,) = message.attachments
    assert part.get_content_type() == "text/calendar" and part.get_filename().endswith(".ics")
    assert str(message.message()).count('charset="utf-8"') >= 1
    assert 'charset="utf-8"; charset' not in str(message.message())
    return part.get_param("method"), part.get_payload(decode=True).decode().replace("\r\n ", "")


def run(django_capture_on_commit_callbacks, fn, *args, **kwargs):
    with django_capture_on_commit_callbacks(execute=True):
        return fn(*args, **kwargs)


def test_confirmed_booking_emails_both_sides_once_with_a_calendar_file(paid, client_user):
    appointment = paid()
    assert appointment.state == Appointment.State.CONFIRMED
    to_client = [m for m in mail.outbox if client_user.email in m.to]
    to_expert = [m for m in mail.outbox if appointment.expert.user.email in m.to]
    assert len(to_client) == 1 and len(to_expert) == 1
    message = to_client[0]
    assert appointment.code in message.body
    assert "10:00" in message.body or "10 a.m." in message.body  # Paris time for a client in Paris
    method, ics = calendar_attachment(message)
    assert method == "REQUEST"
    assert "DTSTART:20261102T090000Z" in ics and f"UID:{appointment.code}@cabinet" in ics
    assert "STATUS:CONFIRMED" in ics and f"mailto:{client_user.email}" in ics and "ORGANIZER" in ics
    tasks.send_notices(appointment.pk, "confirmed")  # a second worker: nothing more
    assert len(mail.outbox) == 2
    assert Notice.objects.filter(appointment=appointment).count() == 2


def test_emails_page_and_calendar_link_the_session_room_when_a_module_serves_it(paid, client_user):
    def room(appointment):
        return f"/room/{appointment.code}/"

    with wagtail_hooks.register_temporarily(hooks.REGISTER_SESSION_ROOM_URL, room):
        appointment = paid()
        buyer = Client()
        buyer.force_login(client_user)
        page = buyer.get(f"/booking/done/{appointment.code}/").content.decode()
        ics = notifications.ics_for([appointment]).decode()
    room_url = f"{appointment.site.root_url}/room/{appointment.code}/"
    to_client = next(m for m in mail.outbox if client_user.email in m.to)
    to_expert = next(m for m in mail.outbox if appointment.expert.user.email in m.to)
    assert f"Join the consultation: {room_url}" in to_client.body  # the client booked in English
    assert f"Rejoindre la consultation: {room_url}" in to_expert.body  # the expert reads French
    assert f'href="/room/{appointment.code}/"' in page
    assert f"/room/{appointment.code}/" in ics.replace("\r\n ", "")


def test_without_a_session_room_the_email_links_the_reservation_page(paid, client_user):
    appointment = paid()
    message = next(m for m in mail.outbox if client_user.email in m.to)
    assert "Join the consultation" not in message.body
    assert f"/booking/done/{appointment.code}/" in message.body


def test_request_is_confirmed_from_the_signed_link(paid, client, client_user, clock,
                                                  django_capture_on_commit_callbacks):
    appointment = paid(confirmation=True)
    assert appointment.state == Appointment.State.REQUESTED
    expert_mail = next(m for m in mail.outbox if appointment.expert.user.email in m.to)
    link = next(line for line in expert_mail.body.splitlines() if "/booking/answer/" in line).split(": ", 1)[1]
    path = link.split("testserver", 1)[-1] if "testserver" in link else link[link.index("/booking/"):]
    assert any("/booking/answer/" in body for _to, body in LocmemBackend.outbox)  # SMS to the expert
    response = client.get(path)
    assert response.status_code == 200 and appointment.code in response.content.decode()
    appointment.refresh_from_db()
    assert appointment.state == Appointment.State.REQUESTED  # GET changes nothing
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(path, {"action": "confirm"})
    assert response.status_code == 302
    appointment.refresh_from_db()
    assert appointment.state == Appointment.State.CONFIRMED
    assert any(client_user.email in m.to for m in mail.outbox)


def test_tampered_or_foreign_answer_link_is_refused(paid, client):
    appointment = paid(confirmation=True)
    token = notifications.answer_token(appointment)
    assert client.post(f"/booking/answer/{token[:-2]}xx/", {"action": "confirm"}).status_code == 404
    appointment.refresh_from_db()
    assert appointment.state == Appointment.State.REQUESTED


def test_declined_request_releases_the_money_and_links_another_time(paid, client_user, clock,
                                                                    django_capture_on_commit_callbacks):
    appointment = paid(product="per_minute", budget_minutes=20, confirmation=True)
    payment = Payment.objects.get(order=appointment.order)
    assert payment.state == Payment.State.AUTHORIZED
    mail.outbox.clear()
    run(django_capture_on_commit_callbacks, services.decline, appointment, reason="away")
    payment.refresh_from_db()
    appointment.refresh_from_db()
    assert appointment.state == Appointment.State.DECLINED
    assert payment.state == Payment.State.CANCELED  # the authorization is released
    message = next(m for m in mail.outbox if client_user.email in m.to)
    assert appointment.expert.user.email not in message.body  # contact rules: never the expert's
    phone = appointment.expert.user.phone  # a PhoneNumber (E.164), shown nationally elsewhere
    assert phone and str(phone) not in message.body and phone.as_national not in message.body
    assert "Choose another time: http" in message.body and "/booking/" in message.body


def test_unanswered_request_expires_after_24_hours(paid, clock, client_user, django_capture_on_commit_callbacks):
    appointment = paid(confirmation=True)
    payment = Payment.objects.get(order=appointment.order)
    clock.move(hours=23, minutes=59)
    assert run(django_capture_on_commit_callbacks, tasks.sweep)[0] == 0
    clock.move(minutes=2)
    mail.outbox.clear()
    assert run(django_capture_on_commit_callbacks, tasks.sweep)[0] == 1
    appointment.refresh_from_db()
    payment.refresh_from_db()
    assert appointment.state == Appointment.State.EXPIRED
    assert payment.refunded_amount == payment.captured_amount == 5500  # paid in full: refunded in full
    assert any(client_user.email in m.to and "expired" in m.subject for m in mail.outbox)
    with pytest.raises(services.BookingError):
        services.confirm(appointment)  # too late
    assert run(django_capture_on_commit_callbacks, tasks.sweep)[0] == 0  # and only once


def test_unpaid_hold_is_released_by_the_sweeper(practice, expert_setup, client_user, clock,
                                                django_capture_on_commit_callbacks):
    expert, _page = expert_setup
    appointment = services.hold(services.BookingRequest(site=practice.site, expert=expert, client=client_user,
                                                        mode="chat", product="long", starts_at=MONDAY_10))
    clock.move(minutes=11)
    run(django_capture_on_commit_callbacks, tasks.sweep)
    appointment.refresh_from_db()
    assert appointment.state == Appointment.State.CANCELED
    assert appointment.order.state == appointment.order.State.CANCELED


def test_payment_arriving_after_the_hold_ran_out_is_refunded(practice, expert_setup, client_user, clock,
                                                             django_capture_on_commit_callbacks):
    expert, _page = expert_setup
    appointment = hold_monday_10(practice, expert, client_user)
    buyer = logged_in(client_user)
    driver = TestCardDriver()
    payment = driver.start_without_completing(buyer, appointment.order)
    clock.move(minutes=11)
    run(django_capture_on_commit_callbacks, tasks.sweep)
    # The client finishes at the gateway after the hold ran out; the notification arrives.
    driver.complete_at_gateway(payment)
    body, headers = driver.signed_success_webhook(payment)
    with django_capture_on_commit_callbacks(execute=True):
        buyer.post("/payments/webhooks/test/", data=body, content_type="application/json", **headers)
    payment.refresh_from_db()
    assert payment.captured_amount == 5500 and payment.refunded_amount == 5500


@pytest.mark.parametrize("hours_before, percent, refunded", [(48, 100, 5500), (2, 50, 2750)])
def test_client_cancels_before_and_after_the_cut_off(paid, clock, client, client_user, hours_before, percent,
                                                     refunded, django_capture_on_commit_callbacks):
    appointment = paid()
    rules = BookingSettings.for_site(appointment.site)
    rules.late_cancel_refund_percent = 50
    rules.save()
    clock.now = appointment.starts_at - timedelta(hours=hours_before)
    client.force_login(client_user)
    page = client.get(f"/booking/cancel/{appointment.code}/").content.decode()
    assert f"{percent}" in page or "in full" in page or "intégralement" in page
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/booking/cancel/{appointment.code}/")
    appointment.refresh_from_db()
    payment = Payment.objects.get(order=appointment.order)
    assert appointment.state == Appointment.State.CANCELED and appointment.refund_percent == percent
    assert payment.refunded_amount == refunded


def test_another_client_cannot_cancel_or_move(paid, client, make_user):
    appointment = paid()
    client.force_login(make_user())
    assert client.post(f"/booking/cancel/{appointment.code}/").status_code == 404
    assert client.get(f"/booking/move/{appointment.code}/").status_code == 404
    assert client.get(f"/booking/ics/{appointment.code}/").status_code == 404
    appointment.refresh_from_db()
    assert appointment.state == Appointment.State.CONFIRMED


def test_expert_cancels_any_time_with_full_refund(paid, clock, django_capture_on_commit_callbacks):
    appointment = paid()
    clock.now = appointment.starts_at - timedelta(minutes=5)
    run(django_capture_on_commit_callbacks, services.cancel, appointment, by="expert")
    payment = Payment.objects.get(order=appointment.order)
    assert payment.refunded_amount == 5500


def test_a_cancellation_removes_the_event_from_the_clients_calendar(paid, clock, client_user,
                                                                     django_capture_on_commit_callbacks):
    appointment = paid()
    mail.outbox.clear()
    run(django_capture_on_commit_callbacks, services.cancel, appointment, by="expert")
    to_client = next(m for m in mail.outbox if client_user.email in m.to)
    method, ics = calendar_attachment(to_client)
    assert method == "CANCEL"
    assert "METHOD:CANCEL" in ics and "STATUS:CANCELLED" in ics and "SEQUENCE:1" in ics
    assert f"UID:{appointment.code}@cabinet" in ics  # the same event the confirmation added
    to_expert = next(m for m in mail.outbox if appointment.expert.user.email in m.to)
    assert not to_expert.attachments


def test_reschedule_moves_within_the_limit(paid, clock, client, client_user):
    appointment = paid()
    client.force_login(client_user)
    new_time = MONDAY_10 + timedelta(hours=1)
    response = client.post(f"/booking/move/{appointment.code}/", {"starts_at": new_time.isoformat()})
    assert response.status_code == 302
    appointment.refresh_from_db()
    assert appointment.starts_at == new_time and appointment.reschedules == 1
    services.reschedule(appointment, MONDAY_10, by="client")
    appointment.refresh_from_db()
    with pytest.raises(services.BookingError) as error:
        services.reschedule(appointment, new_time, by="client")
    assert error.value.code == "too_many"


def test_reminders_go_out_once_each(paid, clock, client_user, django_capture_on_commit_callbacks):
    appointment = paid()
    mail.outbox.clear()
    clock.now = appointment.starts_at - timedelta(hours=23)
    tasks.send_due_reminders()
    tasks.send_due_reminders()
    assert [m.subject for m in mail.outbox if client_user.email in m.to] == [
        "Reminder: consultation with Sophie Laurent tomorrow"]
    clock.now = appointment.starts_at - timedelta(minutes=50)
    tasks.send_due_reminders()
    tasks.send_due_reminders()
    subjects = [m.subject for m in mail.outbox if client_user.email in m.to]
    assert subjects[-1] == "Your consultation with Sophie Laurent starts in one hour" and len(subjects) == 2
    assert Notice.objects.filter(appointment=appointment, kind__startswith="reminder").count() == 4


def test_private_calendar_feed(paid, client):
    appointment = paid()
    token = notifications.feed_token(appointment.expert, services.calendar_feed_key(appointment.expert))
    response = client.get(f"/booking/calendar/{token}.ics")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/calendar")
    assert appointment.code.encode() in response.content
    assert client.get(f"/booking/calendar/{token}x.ics").status_code == 404


def test_instant_session_expert_has_four_minutes_then_client_is_not_charged(
        practice, expert_setup, client_user, clock, django_capture_on_commit_callbacks):
    expert, _page = expert_setup
    expert.user.phone = "+33611111111"
    expert.user.save()
    services.available_now(expert)
    appointment = services.hold(services.BookingRequest(
        site=practice.site, expert=expert, client=client_user, mode="chat", product="per_minute",
        budget_minutes=10, instant=True, language="en"))
    assert appointment.instant and appointment.order.capture_mode == "manual"
    assert appointment.order.total == 10 * 300  # the instant rate
    buyer = Client()
    buyer.force_login(client_user)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        TestCardDriver().pay(buyer, appointment.order)
    appointment.refresh_from_db()
    assert appointment.state == Appointment.State.REQUESTED
    assert appointment.confirm_by == clock.now + timedelta(minutes=4)
    assert any(appointment.expert.user.email in m.to for m in mail.outbox)  # alerted by email
    assert any(to == "+33611111111" for to, _body in LocmemBackend.outbox)  # and by text message
    payment = Payment.objects.get(order=appointment.order)
    assert payment.state == Payment.State.AUTHORIZED
    clock.move(minutes=4, seconds=1)
    run(django_capture_on_commit_callbacks, tasks.sweep)
    appointment.refresh_from_db()
    payment.refresh_from_db()
    assert appointment.state == Appointment.State.EXPIRED
    assert payment.state == Payment.State.CANCELED and payment.captured_amount == 0


def test_instant_session_accepted_in_time_starts_when_the_expert_accepts(
        practice, expert_setup, client_user, clock, django_capture_on_commit_callbacks):
    expert, _page = expert_setup
    services.available_now(expert)
    appointment = services.hold(services.BookingRequest(
        site=practice.site, expert=expert, client=client_user, mode="chat", product="per_minute",
        budget_minutes=10, instant=True))
    services.order_paid(appointment.order)
    clock.move(minutes=3)
    appointment = services.confirm(appointment)
    assert appointment.state == Appointment.State.CONFIRMED
    assert appointment.starts_at == clock.now


def test_instant_session_refused_when_the_expert_is_not_available_now(practice, expert_setup, client_user, clock):
    expert, _page = expert_setup
    with pytest.raises(services.BookingError) as error:
        services.hold(services.BookingRequest(site=practice.site, expert=expert, client=client_user, mode="chat",
                                              product="per_minute", budget_minutes=10, instant=True))
    assert error.value.field == "when"
    services.available_now(expert)
    services.pause(expert)
    with pytest.raises(services.BookingError):
        services.hold(services.BookingRequest(site=practice.site, expert=expert, client=client_user, mode="chat",
                                              product="per_minute", budget_minutes=10, instant=True))
    assert not Appointment.objects.exists()


def test_an_instant_session_cannot_be_accepted_into_the_next_appointment(
        paid, practice, expert_setup, client_user, make_user, clock, django_capture_on_commit_callbacks):
    """The session starts when the expert accepts; by then (the client took 9 minutes to pay)
    a 50-minute budget reaches into the 11:00 appointment."""
    expert, _page = expert_setup
    paid(starts_at=BOOKED_AT + timedelta(hours=1), client=make_user())  # 11:00 Paris, 30 min
    services.available_now(expert)
    appointment = services.hold(services.BookingRequest(
        site=practice.site, expert=expert, client=client_user, mode="chat", product="per_minute",
        budget_minutes=50, instant=True))
    clock.move(minutes=9)
    buyer = Client()
    buyer.force_login(client_user)
    with django_capture_on_commit_callbacks(execute=True):
        TestCardDriver().pay(buyer, appointment.order)
    clock.move(minutes=3)
    with pytest.raises(services.BookingError) as refused:
        services.confirm(appointment)
    assert refused.value.code == "no_room"
    appointment.refresh_from_db()
    assert appointment.state == Appointment.State.REQUESTED  # nothing moved; it expires unanswered
    clock.move(minutes=2)
    run(django_capture_on_commit_callbacks, tasks.sweep)
    appointment.refresh_from_db()
    assert appointment.state == Appointment.State.EXPIRED
    assert Payment.objects.get(order=appointment.order).captured_amount == 0


class BrokenSms:
    def send(self, to, body):
        raise ConnectionError("the SMS gateway is down")


def test_a_failing_text_message_neither_repeats_the_email_nor_stops_the_reminders(
        paid, make_user, clock, settings, django_capture_on_commit_callbacks):
    first = paid()
    second = paid(starts_at=MONDAY_10 + timedelta(hours=1), client=make_user(phone="+33622222222"))
    first.client.phone = "+33633333333"
    first.client.save()
    settings.SMS_BACKEND = "tests.modules.booking.test_lifecycle.BrokenSms"
    mail.outbox.clear()
    clock.now = MONDAY_10 - timedelta(minutes=59)  # the first one's 1 h reminder is due
    for _ in range(3):
        run(django_capture_on_commit_callbacks, tasks.sweep)
    reminders = [m for m in mail.outbox if "starts in one hour" in m.subject and first.client.email in m.to]
    assert len(reminders) == 1
    assert Notice.objects.filter(appointment=first, kind="reminder_1h").count() == 2  # client and expert
    clock.now = second.starts_at - timedelta(minutes=59)
    run(django_capture_on_commit_callbacks, tasks.sweep)
    assert Notice.objects.filter(appointment=second, kind="reminder_1h").count() == 2


def test_a_request_must_be_answered_before_the_consultation_starts(paid, clock,
                                                                  django_capture_on_commit_callbacks):
    appointment = paid(confirmation=True, starts_at=BOOKED_AT + timedelta(hours=4))  # 14:00 Paris today
    assert appointment.confirm_by == appointment.starts_at  # not 24 h from now
    clock.now = appointment.starts_at + timedelta(minutes=1)
    with pytest.raises(services.BookingError):
        services.confirm(appointment)
    run(django_capture_on_commit_callbacks, tasks.sweep)
    appointment.refresh_from_db()
    assert appointment.state == Appointment.State.EXPIRED


def test_a_paid_booking_left_held_is_confirmed_by_the_sweeper(practice, expert_setup, client_user, clock,
                                                              django_capture_on_commit_callbacks):
    expert, _page = expert_setup
    appointment = hold_monday_10(practice, expert, client_user)
    buyer = logged_in(client_user)
    TestCardDriver().pay(buyer, appointment.order)  # paid, but the paid-order handler never ran
    appointment.refresh_from_db()
    assert appointment.state == Appointment.State.HELD
    clock.move(minutes=11)
    run(django_capture_on_commit_callbacks, tasks.sweep)
    appointment.refresh_from_db()
    assert appointment.state == Appointment.State.CONFIRMED


def test_no_24_hour_reminder_for_a_booking_made_less_than_a_day_ahead(paid, clock,
                                                                      django_capture_on_commit_callbacks):
    clock.now = MONDAY_10 - timedelta(hours=23)
    appointment = paid()
    for minutes in (60, 120, 600):
        clock.now = MONDAY_10 - timedelta(hours=23) + timedelta(minutes=minutes)
        run(django_capture_on_commit_callbacks, tasks.sweep)
    assert not Notice.objects.filter(appointment=appointment, kind="reminder_24h").exists()
    clock.now = MONDAY_10 - timedelta(minutes=30)
    run(django_capture_on_commit_callbacks, tasks.sweep)
    assert Notice.objects.filter(appointment=appointment, kind="reminder_1h").count() == 2


def test_a_hold_that_ran_out_frees_its_time_even_before_the_sweeper_passes(
        practice, expert_setup, client_user, make_user, clock):
    """The worker is down: no sweep. Eleven minutes after an unpaid hold, its time is offered
    and booked again; the first client's hold and order end there."""
    from modules.booking import availability

    expert, _page = expert_setup
    first = services.hold(services.BookingRequest(site=practice.site, expert=expert, client=client_user,
                                                  mode="chat", product="long", starts_at=MONDAY_10))
    assert MONDAY_10 not in availability.free_slots(expert, "chat", 30, MONDAY_10, MONDAY_10 + timedelta(hours=1))
    clock.move(minutes=11)
    assert MONDAY_10 in availability.free_slots(expert, "chat", 30, MONDAY_10, MONDAY_10 + timedelta(hours=1))
    second = services.hold(services.BookingRequest(site=practice.site, expert=expert, client=make_user(),
                                                   mode="chat", product="long", starts_at=MONDAY_10))
    first.refresh_from_db()
    assert second.state == Appointment.State.HELD
    assert first.state == Appointment.State.CANCELED and first.order.state == first.order.State.CANCELED
