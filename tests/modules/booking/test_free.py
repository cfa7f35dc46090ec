"""Free consultations: an explicit "free" tick on a package; booked without any order or payment."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import translation

from modules.booking import services, tasks
from modules.booking.models import Appointment, BookingSettings, Notice, Offering
from site_core.payments.models import Order

NOW = datetime(2026, 11, 2, 7, 0, tzinfo=UTC)  # Monday 08:00 in Paris
MONDAY_10 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


class Clock:
    now = NOW


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr("django.utils.timezone.now", lambda: clock.now)
    return clock


@pytest.fixture
def free_video(expert_setup):
    """Sophie's video offering: a free 20-minute first consultation, and a paid long package."""
    expert, page = expert_setup
    offering = Offering.objects.get(expert=expert, mode="video")
    offering.short_minutes, offering.short_price, offering.free_products = 20, 0, ["short"]
    offering.full_clean()
    offering.save()
    return expert, page, offering


def free_request(practice, expert, client, **overrides):
    values = {"site": practice.site, "expert": expert, "client": client, "mode": "video", "product": "short",
              "starts_at": MONDAY_10}
    values.update(overrides)
    return services.BookingRequest(**values)


def test_a_price_of_zero_without_the_tick_is_still_not_offered(expert_setup):
    expert, _page = expert_setup
    video = Offering.objects.get(expert=expert, mode="video")
    assert [p for p, _price, _m in video.products()] == ["long"]
    assert not services.is_free(expert, "video", "short")


def test_the_free_tick_offers_the_package_at_no_price(free_video):
    expert, _page, offering = free_video
    assert ("short", 0, 20) in offering.products()
    assert services.is_free(expert, "video", "short") and not services.is_free(expert, "video", "long")


@pytest.mark.parametrize(("changes", "message"), [
    ({"price_per_minute": 200, "free_products": ["per_minute"]}, "paid by the minute cannot be free"),
    ({"short_price": 3000, "free_products": ["short"]}, "A free package has no price"),
])
def test_a_free_tick_that_means_nothing_is_refused(expert_setup, changes, message):
    expert, _page = expert_setup
    offering = Offering.objects.get(expert=expert, mode="video")
    for name, value in changes.items():
        setattr(offering, name, value)
    with translation.override("en"):
        with pytest.raises(ValidationError) as refused:
            offering.full_clean()
        assert message in str(refused.value.message_dict["free_products"])


def test_a_free_booking_is_confirmed_without_an_order_with_the_same_emails(
        practice, free_video, client_user, clock, django_capture_on_commit_callbacks):
    expert, _page, _offering = free_video
    with django_capture_on_commit_callbacks(execute=True):
        appointment = services.secure_free(free_request(practice, expert, client_user))
    appointment.refresh_from_db()
    assert appointment.state == Appointment.State.CONFIRMED and appointment.order_id is None
    assert (appointment.unit_price, appointment.minutes) == (0, 20)
    assert not Order.objects.exists()
    to_client = [m for m in mail.outbox if client_user.email in m.to]
    to_expert = [m for m in mail.outbox if expert.user.email in m.to]
    assert len(to_client) == 1 and len(to_expert) == 1 and appointment.code in to_client[0].body
    mail.outbox.clear()
    clock.now = MONDAY_10 - timedelta(minutes=50)
    tasks.send_due_reminders()
    reminders = [m for m in mail.outbox if client_user.email in m.to]
    assert len(reminders) == 1 and appointment.code in reminders[0].body
    assert Notice.objects.filter(appointment=appointment, kind="reminder_1h").exists()


def test_a_free_booking_waits_for_the_expert_when_the_practice_says_so(
        practice, free_video, client_user, clock, django_capture_on_commit_callbacks):
    expert, _page, _offering = free_video
    rules = BookingSettings.for_site(practice.site)
    rules.requires_confirmation = True
    rules.save()
    with django_capture_on_commit_callbacks(execute=True):
        appointment = services.secure_free(free_request(practice, expert, client_user))
    assert appointment.state == Appointment.State.REQUESTED and appointment.confirm_by is not None
    assert appointment.order_id is None
    confirmed = services.confirm(appointment)
    assert confirmed.state == Appointment.State.CONFIRMED


def test_secure_free_refuses_a_paid_product_and_writes_nothing(practice, free_video, client_user, clock):
    expert, _page, _offering = free_video
    with pytest.raises(services.BookingError):
        services.secure_free(free_request(practice, expert, client_user, product="long"))
    assert not Appointment.objects.exists() and not Order.objects.exists()


def test_secure_free_twice_with_one_key_books_once(practice, free_video, client_user, clock):
    expert, _page, _offering = free_video
    first = services.secure_free(free_request(practice, expert, client_user, idempotency_key="k1"))
    again = services.secure_free(free_request(practice, expert, client_user, idempotency_key="k1"))
    assert again.pk == first.pk and again.replayed and Appointment.objects.count() == 1


def test_a_free_slot_taken_is_refused(practice, free_video, client_user, make_user, clock):
    expert, _page, _offering = free_video
    services.secure_free(free_request(practice, expert, client_user))
    with pytest.raises(services.SlotTaken):
        services.secure_free(free_request(practice, expert, make_user(email="other@example.test")))
    assert Appointment.objects.count() == 1


def test_a_free_booking_canceled_needs_no_refund(practice, free_video, client_user, clock,
                                               django_capture_on_commit_callbacks):
    expert, _page, _offering = free_video
    appointment = services.secure_free(free_request(practice, expert, client_user))
    with django_capture_on_commit_callbacks(execute=True):
        canceled = services.cancel(appointment, by="client")
    assert canceled.state == Appointment.State.CANCELED and not Order.objects.exists()


# --- Pages ------------------------------------------------------------------

@pytest.mark.parametrize(("prefix", "free_word", "button"), [("", "Gratuit", "Confirmer la réservation"),
                                                            ("/en", "Free", "Confirm the booking")])
def test_a_client_books_a_free_consultation_with_no_payment_step(
        practice, free_video, client_user, clock, prefix, free_word, button, django_capture_on_commit_callbacks):
    expert, page, _offering = free_video
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(client_user)
    section = browser.get(f"{prefix}/sophie-laurent/" if prefix else page.url).content.decode()
    assert ("gratuit" if not prefix else "free") in section
    start = f"{prefix}/booking/{page.pk}/"
    token = lambda: browser.cookies["csrftoken"].value  # noqa: E731
    browser.get(start)
    browser.post(start, {"mode": "video", "when": "appointment", "csrfmiddlewaretoken": token()})
    product_page = browser.get(f"{start}product/").content.decode()
    assert free_word in product_page
    browser.post(f"{start}product/", {"product": "short", "csrfmiddlewaretoken": token()})
    browser.post(f"{start}time/", {"starts_at": MONDAY_10.isoformat(), "csrfmiddlewaretoken": token()})
    confirm = browser.get(f"{start}confirm/").content.decode()
    assert free_word in confirm and button in confirm
    assert "Go to payment" not in confirm and "Aller au paiement" not in confirm
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post(f"{start}confirm/", {"idempotency_key": "abc", "csrfmiddlewaretoken": token()})
    appointment = Appointment.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/booking/done/{appointment.code}/")
    assert appointment.state == Appointment.State.CONFIRMED and not Order.objects.exists()
    done = browser.get(response["Location"]).content.decode()
    assert appointment.code in done and free_word in done
    assert any(client_user.email in m.to for m in mail.outbox)


def test_without_a_token_the_free_booking_is_refused(practice, free_video, client_user, clock):
    _expert, page, _offering = free_video
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(client_user)
    assert browser.post(f"/booking/{page.pk}/confirm/", {"idempotency_key": "x"}).status_code == 403
    assert not Appointment.objects.exists()


# --- API --------------------------------------------------------------------

@pytest.mark.parametrize(("language", "free_shown", "price_shown"), [
    ("fr", "Gratuit", "80,00\u00a0€"), ("en", "Free", "€80.00")])
def test_the_api_lists_a_free_package_and_books_it_without_payment(client, practice, free_video, client_user,
                                                                   clock, language, free_shown, price_shown):
    listed = client.get("/api/v1/experts/sophie-laurent/offerings", HTTP_ACCEPT_LANGUAGE=language).json()
    video = next(o for o in listed if o["mode"] == "video")
    short = next(p for p in video["products"] if p["product"] == "short")
    assert (short["free"], short["price"], short["price_display"]) == (True, 0, free_shown)
    long = next(p for p in video["products"] if p["product"] == "long")
    assert (long["free"], long["price"], long["price_display"]) == (False, 8000, price_shown)
    client.force_login(client_user)
    response = client.post("/api/v1/bookings", {"expert": "sophie-laurent", "mode": "video", "product": "short",
                                                "starts_at": MONDAY_10.isoformat()}, content_type="application/json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["free"] is True and body["total"] == 0 and body["checkout_url"] is None
    assert body["state"] == "confirmed" and not Order.objects.exists()


def test_the_api_refuses_an_unknown_product_and_a_visitor(client, practice, free_video, client_user, clock):
    body = {"expert": "sophie-laurent", "mode": "video", "product": "short", "starts_at": MONDAY_10.isoformat()}
    assert client.post("/api/v1/bookings", body, content_type="application/json").status_code == 401
    client.force_login(client_user)
    refused = client.post("/api/v1/bookings", {**body, "mode": "phone"}, content_type="application/json")
    assert refused.status_code == 400 and not Appointment.objects.exists()
