"""Contact rules (seed 002): a client never gets the expert's email or phone; an unavailable
expert gets the client's phone number, for that appointment only, through "unavailable: call
the client", and the client is told the expert will contact them."""

import re

import pytest
from django.core import mail
from django.test import Client

from modules.booking import notifications, services
from modules.booking.models import Appointment, BookingProfile
from site_core.payments.models import Payment

EXPERT_PHONE = "+33611111111"
ALERT_PHONE = "+33699999999"
CLIENT_PHONE = "+33655555555"


@pytest.fixture
def request_waiting(paid, client_user):  # noqa: F811
    """A paid request waiting for the expert; the client gave a phone number at booking."""
    appointment = paid(confirmation=True)
    BookingProfile.objects.update_or_create(expert=appointment.expert, defaults={"alert_phone": ALERT_PHONE})
    Appointment.objects.filter(pk=appointment.pk).update(phone=CLIENT_PHONE)
    appointment.refresh_from_db()
    return appointment


@pytest.fixture
def colleague(practice, make_expert):
    expert, _page, _en = make_expert(practice, "Marc Dubois")
    return expert


def expert_contact(appointment):
    user = appointment.expert.user
    return [user.email, EXPERT_PHONE, ALERT_PHONE, EXPERT_PHONE.replace("+33", "0")]


def client_mail_text(client_user):
    """Everything the client received: bodies, subjects and attachments."""
    texts = []
    for message in mail.outbox:
        if client_user.email in message.to:
            texts.append(message.subject + "\n" + message.body + "\n" + str(message.message()))
    assert texts
    return texts


def csrf_browser(user):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    return browser


def csrf_of(html):
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def client_pages(appointment, client_user):
    browser = Client()
    browser.force_login(client_user)
    pages = []
    for path in (f"/booking/done/{appointment.code}/", f"/en/booking/done/{appointment.code}/",
                 f"/booking/cancel/{appointment.code}/", f"/booking/move/{appointment.code}/",
                 f"/booking/ics/{appointment.code}/", "/portal/", "/en/portal/"):
        response = browser.get(path, follow=True)
        assert response.status_code == 200, path
        pages.append(response.content.decode())
    return pages


@pytest.mark.parametrize("how", ["decline", "unavailable", "cancel"])
def test_the_client_never_gets_the_experts_email_or_phone(request_waiting, client_user, how,
                                                          django_capture_on_commit_callbacks):
    appointment = request_waiting
    with django_capture_on_commit_callbacks(execute=True):
        if how == "decline":
            services.decline(appointment, reason="away")
        elif how == "unavailable":
            services.unavailable_call_client(appointment, expert=appointment.expert)
        else:
            services.confirm(appointment)
            services.cancel(appointment, by="expert")
    texts = client_mail_text(client_user) + client_pages(appointment, client_user)
    for text in texts:
        for secret in expert_contact(appointment):
            assert secret not in text
    last = [m for m in mail.outbox if client_user.email in m.to][-1]
    if how != "cancel":
        assert "Choose another time: http://" in last.body
        start = re.search(r"Choose another time: (\S+)", last.body).group(1)
        assert Client().get(start.split("localhost", 1)[-1] if "localhost" in start else start).status_code in (
            200, 302)
    if how == "unavailable":
        assert "will contact you to agree on another time" in last.body


def test_the_expert_sees_the_clients_phone_only_through_the_action(request_waiting, client_user, clock,  # noqa: F811
                                                                    django_capture_on_commit_callbacks):
    appointment = request_waiting
    payment = Payment.objects.get(order=appointment.order)
    browser = csrf_browser(appointment.expert.user)
    inspect = f"/admin/appointments/inspect/{appointment.pk}/"
    page = browser.get(inspect).content.decode()
    dashboard = browser.get("/admin/").content.decode()
    answer = Client().get(f"/booking/answer/{notifications.answer_token(appointment)}/").content.decode()
    for html in (page, dashboard, answer):
        assert CLIENT_PHONE not in html and client_user.email not in html
    assert "Unavailable: call the client" in page or "Indisponible : appeler le client" in page
    expert_mail = [m.body for m in mail.outbox if appointment.expert.user.email in m.to]
    assert expert_mail and all(CLIENT_PHONE not in body and client_user.email not in body for body in expert_mail)

    # Without the CSRF token the action is refused and nothing changes.
    assert browser.post(f"/admin/appointments/act/{appointment.pk}/", {"action": "unavailable"}).status_code == 403
    appointment.refresh_from_db()
    assert appointment.state == Appointment.State.REQUESTED and appointment.call_client_at is None

    mail.outbox.clear()
    token = csrf_of(page)
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post(f"/admin/appointments/act/{appointment.pk}/",
                                {"action": "unavailable", "csrfmiddlewaretoken": token})
    assert response.status_code == 302 and response["Location"] == inspect
    appointment.refresh_from_db()
    payment.refresh_from_db()
    assert appointment.state == Appointment.State.DECLINED and appointment.call_client_at is not None
    assert payment.refunded_amount == payment.captured_amount > 0  # nothing charged in the end
    page = browser.get(inspect).content.decode()
    assert f'href="tel:{CLIENT_PHONE}"' in page
    assert CLIENT_PHONE in browser.get("/admin/").content.decode()  # "clients to call back"
    (to_client,) = [m for m in mail.outbox if client_user.email in m.to]
    assert "is not available at the time you asked" in to_client.subject
    # Idempotent: the action again changes nothing and sends nothing more.
    with django_capture_on_commit_callbacks(execute=True):
        browser.post(f"/admin/appointments/act/{appointment.pk}/",
                     {"action": "unavailable", "csrfmiddlewaretoken": token})
    assert len(mail.outbox) == 1


def test_nobody_else_gets_the_clients_phone(request_waiting, client_user, colleague, make_user,
                                            django_capture_on_commit_callbacks):
    appointment = request_waiting
    act = f"/admin/appointments/act/{appointment.pk}/"
    inspect = f"/admin/appointments/inspect/{appointment.pk}/"
    other = Client()
    other.force_login(colleague.user)
    assert other.post(act, {"action": "unavailable"}).status_code == 404
    client = Client()
    client.force_login(client_user)
    assert client.post(act, {"action": "unavailable"}).status_code in (302, 403)
    assert Client().post(act, {"action": "unavailable"}).status_code == 302  # to the login page
    appointment.refresh_from_db()
    assert appointment.state == Appointment.State.REQUESTED and appointment.call_client_at is None
    with pytest.raises(services.BookingError):
        services.unavailable_call_client(appointment, expert=colleague)
    with pytest.raises(services.BookingError):
        services.unavailable_call_client(appointment, expert=None)

    with django_capture_on_commit_callbacks(execute=True):
        services.unavailable_call_client(appointment, expert=appointment.expert)
    colleague_page = other.get(inspect)
    assert colleague_page.status_code in (302, 403, 404) and CLIENT_PHONE not in colleague_page.content.decode()
    assert CLIENT_PHONE not in other.get("/admin/").content.decode()
    admin = Client()
    admin.force_login(make_user(is_superuser=True, is_staff=True))
    admin_page = admin.get(inspect)
    assert admin_page.status_code == 200 and appointment.code in admin_page.content.decode()
    assert CLIENT_PHONE not in admin_page.content.decode()  # not even the practice's administrator
    for path in (inspect, "/admin/"):
        response = client.get(path)
        assert response.status_code in (302, 403) and CLIENT_PHONE not in response.content.decode()
        assert CLIENT_PHONE not in Client().get(path).content.decode()


def test_the_signed_answer_link_offers_unavailable_and_never_shows_the_number(request_waiting, client_user,
                                                                              django_capture_on_commit_callbacks):
    appointment = request_waiting
    path = f"/booking/answer/{notifications.answer_token(appointment)}/"
    browser = Client(enforce_csrf_checks=True)
    html = browser.get(path).content.decode()
    assert "Indisponible : j’appellerai le client" in html
    assert browser.post(path, {"action": "unavailable"}).status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post(path, {"action": "unavailable", "csrfmiddlewaretoken": csrf_of(html)}, follow=True)
    assert response.status_code == 200
    html = response.content.decode()
    assert CLIENT_PHONE not in html and "tableau de bord" in html
    appointment.refresh_from_db()
    assert appointment.state == Appointment.State.DECLINED and appointment.call_client_at is not None


def test_unavailable_only_answers_a_waiting_request(request_waiting, django_capture_on_commit_callbacks):
    appointment = request_waiting
    with django_capture_on_commit_callbacks(execute=True):
        services.confirm(appointment)
    with pytest.raises(services.BookingError) as refused:
        services.unavailable_call_client(appointment, expert=appointment.expert)
    assert refused.value.code == "not_waiting"
    appointment.refresh_from_db()
    assert appointment.state == Appointment.State.CONFIRMED and appointment.call_client_at is None
