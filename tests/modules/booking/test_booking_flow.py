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



def choose_chat_package_and_time(client, page, slot):
    """Steps 1 and 2 as a client fills them in: chat, by appointment, the long package, ``slot``."""
    client.post(f"/booking/{page.pk}/", {"mode": "chat", "when": "appointment"})
    client.post(f"/booking/{page.pk}/product/", {"product": "long"})
    client.post(f"/booking/{page.pk}/time/", {"starts_at": slot.isoformat()})

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
    assert ">03:00<" in page_html and "votre fuseau horaire (heure de New York)" in page_html
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
    assert "lundi 2 novembre 2026, 03:00 (heure de New York)" in body


def test_visitor_creates_an_account_at_step_three(client, practice, expert_setup, frozen_now):
    """allauth's sign-up, then the code from the email, then back at step 3 to pay (the full
    story, with CSRF enforced, is in test_step_three_accounts.py)."""
    import re

    expert, page = expert_setup
    client.post(f"/booking/{page.pk}/", {"mode": "chat", "when": "appointment"})
    client.post(f"/booking/{page.pk}/product/", {"product": "per_minute", "budget_minutes": 20})
    client.post(f"/booking/{page.pk}/time/", {"starts_at": first_slot(expert, minutes=20).isoformat()})
    response = client.post(f"/booking/{page.pk}/confirm/", {
        "account": "signup", "first_name": "Léa", "last_name": "Petit", "email": "lea@example.test",
        "password1": "a-long-enough-passphrase", "password2": "a-long-enough-passphrase",
    })
    assert response["Location"] == "/accounts/confirm-email/"
    assert Appointment.objects.count() == 0  # nothing held before the address is confirmed
    [message] = [m for m in mail.outbox if "lea@example.test" in m.to]
    code = re.search(r"^\s*([A-Z0-9-]{6,})\s*$", message.body, re.MULTILINE).group(1)
    assert client.post("/accounts/confirm-email/", {"code": code})["Location"] == f"/booking/{page.pk}/confirm/"
    response = client.post(f"/booking/{page.pk}/confirm/", {"idempotency_key": "abc"})
    appointment = Appointment.objects.get()
    assert appointment.client.email == "lea@example.test"
    assert (appointment.minutes, appointment.order.total, appointment.order.capture_mode) == (20, 5000, "manual")
    assert response["Location"].startswith("/payments/checkout/")


def test_visitor_with_bad_signup_gets_errors_and_nothing_is_written(client, practice, expert_setup, frozen_now,
                                                                   client_user):
    expert, page = expert_setup
    client.post(f"/booking/{page.pk}/", {"mode": "chat", "when": "appointment"})
    client.post(f"/booking/{page.pk}/product/", {"product": "long"})
    client.post(f"/booking/{page.pk}/time/", {"starts_at": first_slot(expert).isoformat()})
    response = client.post(f"/booking/{page.pk}/confirm/", {
        "account": "signup", "first_name": "Léa", "last_name": "Petit",
        "email": client_user.email.upper(), "password1": "short", "password2": "short",
    })
    assert response.status_code == 400
    assert Appointment.objects.count() == 0
    response = client.post(f"/booking/{page.pk}/confirm/", {
        "account": "login", "login": client_user.email, "password": "wrong-password",
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
    choose_chat_package_and_time(client, page, slot)
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


# --- Audit of the web flow ----------------------------------------------------

def book(practice, expert, client_user, *, paid=True, when=None, **overrides):
    """An appointment made through the services: held, and paid unless paid=False."""
    from modules.booking import services

    values = dict(site=practice.site, expert=expert, client=client_user, mode="chat", product="long",
                  starts_at=when or first_slot(expert))
    values.update(overrides)
    appointment = services.hold(services.BookingRequest(**values))
    if paid:
        services.order_paid(appointment.order)
    appointment.refresh_from_db()
    return appointment


@pytest.mark.parametrize("code, fields, message", [
    ("NOPE", None, "Ce code promo n’existe pas."),
    ("ALICE", {"expert": "other"}, "Ce code promo n’est pas valable pour cet expert."),
])
def test_an_unusable_promo_code_is_refused_at_step_one(client, practice, expert_setup, make_expert, code, fields,
                                                       message):
    from site_core.payments.models import PromoCode

    _expert, page = expert_setup
    if fields:
        other, _page, _en = make_expert(practice, "Alice Martin")
        PromoCode.objects.create(site=practice.site, code=code, kind="percent", percent=20, expert=other)
    response = client.post(f"/booking/{page.pk}/", {"mode": "chat", "when": "appointment", "promo_code": code})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert f"cabinet:booking:{page.pk}" not in client.session  # nothing kept for the next steps
    assert client.get(f"/booking/{page.pk}/product/")["Location"] == f"/booking/{page.pk}/"


def test_a_promo_code_with_a_minimum_passes_step_one(client, practice, expert_setup):
    from site_core.payments.models import PromoCode

    _expert, page = expert_setup
    PromoCode.objects.create(site=practice.site, code="GROS", kind="percent", percent=20, minimum_amount=100000)
    response = client.post(f"/booking/{page.pk}/", {"mode": "chat", "when": "appointment", "promo_code": "gros"})
    assert response.status_code == 302 and response["Location"].endswith("/product/")
    assert client.session[f"cabinet:booking:{page.pk}"]["promo_code"] == "GROS"


def test_a_personal_promo_code_waits_for_the_visitor_to_log_in(client, practice, expert_setup, client_user,
                                                                make_user):
    """Not logged in yet: a code issued to one client may be theirs; it is checked once they are."""
    from site_core.payments.models import PromoCode

    _expert, page = expert_setup
    PromoCode.objects.create(site=practice.site, code="POURVOUS", kind="percent", percent=20, client=client_user)
    step = {"mode": "chat", "when": "appointment", "promo_code": "pourvous"}
    assert client.post(f"/booking/{page.pk}/", step).status_code == 302
    client.force_login(make_user())  # someone else, logged in: refused at once
    refused = client.post(f"/booking/{page.pk}/", step)
    assert refused.status_code == 400 and "Ce code promo a été attribué à un autre client." in \
        refused.content.decode().replace("&#x27;", "'")


@pytest.mark.parametrize("theme", ["atelier", "horizon"])
def test_a_message_shows_once_on_booking_pages(client, practice, expert_setup, client_user, make_user, frozen_now,
                                               theme):
    practice.settings.theme = theme
    practice.settings.save()
    expert, page = expert_setup
    slot = first_slot(expert)
    client.force_login(client_user)
    choose_chat_package_and_time(client, page, slot)
    book(practice, expert, make_user(), when=slot, paid=False)  # someone else takes it meanwhile
    response = client.post(f"/booking/{page.pk}/confirm/", {"idempotency_key": "x"}, follow=True)
    body = response.content.decode()
    assert response.redirect_chain[-1][0].endswith("/time/")
    assert f"theme-{theme}" in body
    assert body.count('class="message message--error"') == 1


EMAIL_SENT = "Nous vous avons envoyé un e-mail avec ces informations et un fichier de calendrier."


def test_the_done_page_mentions_an_email_only_when_one_was_sent(client, practice, expert_setup, client_user,
                                                               frozen_now):
    from modules.booking import services

    expert, _page = expert_setup
    client.force_login(client_user)
    confirmed = book(practice, expert, client_user)
    assert confirmed.state == Appointment.State.CONFIRMED
    assert EMAIL_SENT in client.get(f"/booking/done/{confirmed.code}/").content.decode()
    held = book(practice, expert, client_user, paid=False, when=first_slot(expert, now=frozen_now + timedelta(hours=4)))
    assert EMAIL_SENT not in client.get(f"/booking/done/{held.code}/").content.decode()
    services.release_hold(held)
    assert EMAIL_SENT not in client.get(f"/booking/done/{held.code}/").content.decode()  # canceled
    services.available_now(expert)
    instant = book(practice, expert, client_user, product="per_minute", budget_minutes=10, instant=True,
                   starts_at=None)
    assert (instant.state, instant.instant) == (Appointment.State.REQUESTED, True)
    body = client.get(f"/booking/done/{instant.code}/").content.decode()
    assert "quelques minutes pour accepter" in body
    assert EMAIL_SENT not in body


def test_giving_up_a_paid_booking_changes_nothing(client, practice, expert_setup, client_user, frozen_now):
    expert, _page = expert_setup
    appointment = book(practice, expert, client_user)
    order_state = appointment.order.state
    client.force_login(client_user)
    response = client.post(f"/booking/abandon/{appointment.code}/", follow=True)
    assert response.redirect_chain[0][0] == f"/booking/done/{appointment.code}/"
    assert "Votre réservation n’a pas abouti" not in response.content.decode()
    appointment.refresh_from_db()
    assert appointment.state == Appointment.State.CONFIRMED
    assert appointment.order.state == order_state


def test_back_after_paying_leads_to_the_booking_not_to_a_second_one(client, practice, expert_setup, client_user,
                                                                   frozen_now, django_capture_on_commit_callbacks):
    from tests.site_core.payments.drivers.test_card import TestCardDriver

    expert, page = expert_setup
    client.force_login(client_user)
    client.post(f"/booking/{page.pk}/", {"mode": "chat", "when": "appointment"})
    client.post(f"/booking/{page.pk}/product/", {"product": "long"})
    client.post(f"/booking/{page.pk}/time/", {"starts_at": first_slot(expert).isoformat()})
    client.post(f"/booking/{page.pk}/confirm/", {"idempotency_key": "abc"})
    appointment = Appointment.objects.get()
    # Back before paying: to the payment page of the same booking.
    response = client.get(f"/booking/{page.pk}/confirm/")
    assert response["Location"] == f"/payments/checkout/{appointment.order.public_id}/"
    with django_capture_on_commit_callbacks(execute=True):
        TestCardDriver().pay(client, appointment.order)
    # Back after paying, and the form sent again: the reservation, said so.
    response = client.post(f"/booking/{page.pk}/confirm/", {"idempotency_key": "abc"}, follow=True)
    assert response.redirect_chain[0][0] == f"/booking/done/{appointment.code}/"
    assert "Cette réservation est déjà faite." in response.content.decode()
    assert Appointment.objects.count() == 1


def test_another_clients_booking_is_not_shown_from_the_session(client, practice, expert_setup, client_user,
                                                               make_user, frozen_now):
    expert, page = expert_setup
    appointment = book(practice, expert, client_user)
    client.force_login(make_user())
    session = client.session
    session[f"cabinet:booking:last:{page.pk}"] = appointment.code
    session.save()
    assert client.get(f"/booking/{page.pk}/confirm/")["Location"] == f"/booking/{page.pk}/"


def _moved_once(practice, expert, appointment, frozen_now):
    from modules.booking import services

    rules = services.practice_settings(practice.site)
    rules.max_reschedules = 1
    rules.save()
    return services.reschedule(appointment, appointment.starts_at + timedelta(hours=1), by="client")


@pytest.mark.parametrize("case, message", [
    ("moved", "Ce rendez-vous a déjà été déplacé 1 fois, le maximum autorisé."),
    ("late", "Il est trop tard pour déplacer ce rendez-vous ; contactez l’expert."),
    ("canceled", "Ce rendez-vous ne peut pas être déplacé (Annulé)."),
])
def test_the_move_page_says_why_a_move_is_not_possible(client, practice, expert_setup, client_user, frozen_now,
                                                       case, message):
    from modules.booking import services

    expert, _page = expert_setup
    tuesday = frozen_now + timedelta(days=1, hours=2)  # Tuesday 09:00 UTC, past the 24 h cut-off
    appointment = book(practice, expert, client_user, when=frozen_now + timedelta(hours=2) if case == "late"
                       else tuesday)
    if case == "moved":
        appointment = _moved_once(practice, expert, appointment, frozen_now)
    elif case == "canceled":
        appointment = services.cancel(appointment, by="client")
    client.force_login(client_user)
    response = client.get(f"/booking/move/{appointment.code}/")
    body = response.content.decode().replace("\xa0", " ")  # French puts a no-break space before ";"
    assert response.status_code == 200
    assert message in body
    assert 'name="starts_at"' not in body
    done = client.get(f"/booking/done/{appointment.code}/").content.decode()
    assert f"/booking/move/{appointment.code}/" not in done
    starts_at = appointment.starts_at
    response = client.post(f"/booking/move/{appointment.code}/",
                           {"starts_at": (starts_at + timedelta(hours=1)).isoformat()})
    assert response.status_code == 400
    appointment.refresh_from_db()
    assert appointment.starts_at == starts_at


def test_an_instant_session_cannot_be_moved(client, practice, expert_setup, client_user, frozen_now):
    from modules.booking import services

    expert, _page = expert_setup
    services.available_now(expert)
    appointment = book(practice, expert, client_user, product="per_minute", budget_minutes=10, instant=True,
                       starts_at=None)
    client.force_login(client_user)
    body = client.get(f"/booking/move/{appointment.code}/").content.decode()
    assert "Ce rendez-vous ne peut pas être déplacé" in body and 'name="starts_at"' not in body
    assert f"/booking/move/{appointment.code}/" not in client.get(f"/booking/done/{appointment.code}/").content.decode()


def test_a_movable_appointment_offers_times(client, practice, expert_setup, client_user, frozen_now):
    expert, _page = expert_setup
    appointment = book(practice, expert, client_user, when=frozen_now + timedelta(days=1, hours=2))
    client.force_login(client_user)
    assert f"/booking/move/{appointment.code}/" in client.get(f"/booking/done/{appointment.code}/").content.decode()
    assert 'name="starts_at"' in client.get(f"/booking/move/{appointment.code}/").content.decode()


def test_a_time_zone_that_is_a_folder_falls_back_to_the_practice_zone(client, practice, expert_setup, frozen_now):
    _expert, page = expert_setup
    response = client.post(f"/booking/{page.pk}/", {"mode": "chat", "when": "appointment", "time_zone": "Europe"})
    assert response.status_code == 302
    response = client.get(f"/booking/{page.pk}/product/")
    assert response.status_code == 200
    client.post(f"/booking/{page.pk}/product/", {"product": "long"})
    response = client.get(f"/booking/{page.pk}/time/")
    assert response.status_code == 200
    assert "votre fuseau horaire (heure de Paris)" in response.content.decode()
