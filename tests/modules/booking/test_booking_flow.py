"""The three-step booking as a client goes through it, and who may not."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail

from modules.booking import availability
from modules.booking.models import Appointment
from site_core.payments.models import Order


@pytest.fixture
def frozen_now(monkeypatch):
    """Monday 2 November 2026, 08:00 in Paris, for the views and services."""
    now = datetime(2026, 11, 2, 7, 0, tzinfo=UTC)
    monkeypatch.setattr("django.utils.timezone.now", lambda: now)
    return now


def first_slot(expert, mode="chat", minutes=30, now=None):
    now = now or datetime(2026, 11, 2, 7, 0, tzinfo=UTC)
    return availability.free_slots(expert, mode, minutes, now, now + timedelta(days=2), now)[0]


def test_expert_page_shows_prices_and_the_book_button(client, practice, expert_setup):
    _expert, page = expert_setup
    body = client.get(page.url).content.decode()
    assert "Consultations et tarifs" in body or "Consultations and prices" in body
    assert f"/booking/{page.pk}/" in body
    assert "2,50" in body  # the per-minute chat price, formatted in French


def test_client_books_a_package_in_three_steps(client, practice, expert_setup, client_user, frozen_now,
                                              django_capture_on_commit_callbacks):
    expert, page = expert_setup
    client.force_login(client_user)
    start = f"/booking/{page.pk}/"
    assert client.get(start).status_code == 200
    response = client.post(start, {"mode": "chat", "when": "appointment", "time_zone": "America/New_York"})
    assert response.status_code == 302 and response["Location"].endswith("/product/")
    response = client.post(f"/booking/{page.pk}/product/", {"product": "long"})
    assert response["Location"].endswith("/time/")
    page_html = client.get(f"/booking/{page.pk}/time/").content.decode()
    slot = first_slot(expert)
    # Shown in the client's zone: 09:00 Paris is 03:00 in New York.
    assert slot.astimezone(ZoneInfo("America/New_York")).strftime("%H:%M") == "03:00"
    assert ">03:00<" in page_html and "America/New_York" in page_html
    response = client.post(f"/booking/{page.pk}/time/", {"starts_at": slot.isoformat()})
    assert response["Location"].endswith("/confirm/")
    assert client.get(f"/booking/{page.pk}/confirm/").status_code == 200
    assert Appointment.objects.count() == 0  # nothing written before step 3
    response = client.post(f"/booking/{page.pk}/confirm/", {"idempotency_key": "abc"})
    appointment = Appointment.objects.get()
    assert response["Location"] == f"/payments/checkout/{appointment.order.public_id}/"
    assert appointment.state == Appointment.State.HELD
    assert appointment.client_time_zone == "America/New_York"
    # Pay with the simulated card; the order's success page is the reservation.
    from tests.site_core.payments.drivers.test_card import TestCardDriver

    with django_capture_on_commit_callbacks(execute=True):
        TestCardDriver().pay(client, appointment.order)
    response = client.get(f"/payments/checkout/{appointment.order.public_id}/", follow=True)
    assert response.redirect_chain[-1][0] == f"/booking/done/{appointment.code}/"
    appointment.refresh_from_db()
    assert appointment.state == Appointment.State.CONFIRMED
    assert Order.objects.get().state == Order.State.PAID
    body = response.content.decode()
    assert appointment.code in body


def test_visitor_creates_an_account_at_step_three(client, practice, expert_setup, frozen_now):
    expert, page = expert_setup
    client.post(f"/booking/{page.pk}/", {"mode": "chat", "when": "appointment"})
    client.post(f"/booking/{page.pk}/product/", {"product": "per_minute", "budget_minutes": 20})
    client.post(f"/booking/{page.pk}/time/", {"starts_at": first_slot(expert, minutes=20).isoformat()})
    response = client.post(f"/booking/{page.pk}/confirm/", {
        "account": "signup", "signup-first_name": "Léa", "signup-last_name": "Petit",
        "signup-email": "lea@example.test", "signup-password": "a-long-enough-passphrase",
    })
    appointment = Appointment.objects.get()
    assert appointment.client.email == "lea@example.test"
    assert (appointment.minutes, appointment.order.total, appointment.order.capture_mode) == (20, 5000, "manual")
    assert response["Location"].startswith("/payments/checkout/")
    assert any("lea@example.test" in m.to for m in mail.outbox)  # address confirmation


def test_visitor_with_bad_signup_gets_errors_and_nothing_is_written(client, practice, expert_setup, frozen_now,
                                                                   client_user):
    expert, page = expert_setup
    client.post(f"/booking/{page.pk}/", {"mode": "chat", "when": "appointment"})
    client.post(f"/booking/{page.pk}/product/", {"product": "long"})
    client.post(f"/booking/{page.pk}/time/", {"starts_at": first_slot(expert).isoformat()})
    response = client.post(f"/booking/{page.pk}/confirm/", {
        "account": "signup", "signup-first_name": "Léa", "signup-last_name": "Petit",
        "signup-email": client_user.email.upper(), "signup-password": "short",
    })
    assert response.status_code == 400
    assert Appointment.objects.count() == 0
    response = client.post(f"/booking/{page.pk}/confirm/", {
        "account": "login", "login-login_email": client_user.email, "login-login_password": "wrong-password",
    })
    assert response.status_code == 400 and Appointment.objects.count() == 0


@pytest.mark.parametrize("post, field", [
    ({"mode": "fax", "when": "appointment"}, "mode"),
    ({"mode": "phone", "when": "appointment", "phone": "not a number"}, "phone"),
    ({"mode": "phone", "when": "appointment"}, "phone"),
    ({"mode": "chat", "when": "now"}, "when"),  # the expert is not available now
])
def test_step_one_refuses_bad_input(client, practice, expert_setup, post, field):
    _expert, page = expert_setup
    response = client.post(f"/booking/{page.pk}/", post)
    assert response.status_code == 400
    assert field in response.context["form"].errors


def test_step_two_refuses_a_budget_below_one_minute(client, practice, expert_setup):
    _expert, page = expert_setup
    client.post(f"/booking/{page.pk}/", {"mode": "chat", "when": "appointment"})
    response = client.post(f"/booking/{page.pk}/product/", {"product": "per_minute", "budget_minutes": 0})
    assert response.status_code == 400 and "budget_minutes" in response.context["form"].errors


def test_a_time_outside_the_free_slots_is_refused(client, practice, expert_setup, frozen_now):
    _expert, page = expert_setup
    client.post(f"/booking/{page.pk}/", {"mode": "chat", "when": "appointment"})
    client.post(f"/booking/{page.pk}/product/", {"product": "long"})
    response = client.post(f"/booking/{page.pk}/time/", {"starts_at": "2026-11-02T12:00:00+00:00"})
    assert response.status_code == 400
    assert Appointment.objects.count() == 0


def test_taken_slot_sends_the_client_back_to_choose(client, practice, expert_setup, client_user, make_user,
                                                    frozen_now):
    expert, page = expert_setup
    slot = first_slot(expert)
    client.force_login(client_user)
    client.post(f"/booking/{page.pk}/", {"mode": "chat", "when": "appointment"})
    client.post(f"/booking/{page.pk}/product/", {"product": "long"})
    client.post(f"/booking/{page.pk}/time/", {"starts_at": slot.isoformat()})
    # Someone else takes it meanwhile.
    from modules.booking import services
    services.hold(services.BookingRequest(site=practice.site, expert=expert, client=make_user(), mode="chat",
                                          product="long", starts_at=slot))
    response = client.post(f"/booking/{page.pk}/confirm/", {"idempotency_key": "x"}, follow=True)
    assert response.redirect_chain[-1][0].endswith("/time/")
    assert Appointment.objects.filter(client=client_user).count() == 0


def test_only_the_client_sees_their_reservation(client, practice, expert_setup, client_user, make_user, frozen_now):
    expert, page = expert_setup
    from modules.booking import services
    appointment = services.hold(services.BookingRequest(site=practice.site, expert=expert, client=client_user,
                                                        mode="chat", product="long", starts_at=first_slot(expert)))
    url = f"/booking/done/{appointment.code}/"
    assert client.get(url).status_code == 302  # anonymous: to the login page
    client.force_login(make_user())
    assert client.get(url).status_code == 404
    assert client.post(f"/booking/abandon/{appointment.code}/").status_code == 404
    client.force_login(client_user)
    assert appointment.code in client.get(url).content.decode()
    # "Cancel and go back" on the payment page is a link: it asks first, and changes nothing.
    assert client.get(f"/booking/abandon/{appointment.code}/").status_code == 200
    appointment.refresh_from_db()
    assert appointment.state == Appointment.State.HELD
    client.post(f"/booking/abandon/{appointment.code}/")
    appointment.refresh_from_db()
    assert appointment.state == Appointment.State.CANCELED


def test_expert_without_hours_lets_clients_propose_times(client, practice, make_expert):
    from modules.booking.models import Offering

    expert, page, _en = make_expert(practice, "Luc Bernard")
    Offering.objects.create(expert=expert, mode="video", long_price=6000)
    body = client.get(f"/booking/{page.pk}/").content.decode()
    assert f"/contact/{page.pk}/" in body


def test_booking_pages_of_another_site_are_not_found(client, practice, expert_setup):
    from tests.conftest import build_practice

    _expert, page = expert_setup
    build_practice("other.test", name="Autre cabinet", default=False, slug="other")
    assert client.get(f"/booking/{page.pk}/", HTTP_HOST="other.test").status_code == 404


def test_booking_from_the_english_page_is_in_english(client, practice, expert_setup):
    _expert, page = expert_setup
    page_en = page.get_translation(practice.home_en.locale)
    body = client.get(page_en.url).content.decode()
    assert f"/en/booking/{page_en.pk}/" in body
    response = client.get(f"/en/booking/{page_en.pk}/")
    assert response.status_code == 200
    assert "How do you want to consult?" in response.content.decode()
