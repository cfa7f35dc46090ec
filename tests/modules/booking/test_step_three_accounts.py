"""Step 3 of the booking: signing up or logging in goes through allauth's own flow.

The same policy as the sign-up page (ACCOUNT_EMAIL_VERIFICATION = "mandatory", by
code): a visitor who signs up at step 3 types the code they were emailed, comes back
to step 3 logged in, and only then can the slot be held. The inline log-in is allauth's
login, so django-axes counts its failures and locks out like the log-in page.
"""

import re
from datetime import UTC, datetime, timedelta

import pytest
from allauth.account.models import EmailAddress
from allauth.account.signals import user_signed_up
from axes.models import AccessAttempt
from django.conf import settings
from django.core import mail
from django.test import Client

from modules.booking import availability, services
from modules.booking.models import Appointment
from site_core.practice.models import User

PASSWORD = "a-long-enough-passphrase-2026"
NOW = datetime(2026, 11, 2, 7, 0, tzinfo=UTC)  # Monday 2 November 2026, 08:00 in Paris


@pytest.fixture
def frozen_now(monkeypatch):
    monkeypatch.setattr("django.utils.timezone.now", lambda: NOW)
    return NOW


@pytest.fixture
def visitor():
    """A browser as Django's CSRF middleware sees it in production: every POST needs the page's token."""
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def signed_up():
    """Every user_signed_up signal sent during the test."""
    received = []

    def receiver(sender, request, user, **kwargs):
        received.append(user.pk)

    user_signed_up.connect(receiver, weak=False)
    yield received
    user_signed_up.disconnect(receiver)


def free_times(expert, minutes=30, now=NOW):
    return availability.free_slots(expert, "chat", minutes, now, now + timedelta(days=8), now)


def token(response):
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.content.decode())
    assert match, "the page has no CSRF token"
    return match.group(1)


def post_form(client, url, data):
    """Opens the page, then posts its form with the page's CSRF token."""
    page = client.get(url)
    assert page.status_code == 200, (url, page.status_code)
    return client.post(url, {"csrfmiddlewaretoken": token(page), **data})


def steps_one_and_two(client, page, slot, prefix="", promo_code=""):
    base = f"{prefix}/booking/{page.pk}"
    assert post_form(client, f"{base}/", {"mode": "chat", "when": "appointment",
                                          "promo_code": promo_code}).status_code == 302
    assert post_form(client, f"{base}/product/", {"product": "long"}).status_code == 302
    assert post_form(client, f"{base}/time/", {"starts_at": slot.isoformat()}).status_code == 302
    return f"{base}/confirm/"


def signup_data(email="lea@example.test", **extra):
    return {"account": "signup", "first_name": "Léa", "last_name": "Petit", "email": email,
            "password1": PASSWORD, "password2": PASSWORD, "idempotency_key": "k1", **extra}


def code_in(message):
    """The verification code, alone on its line in the email."""
    match = re.search(r"^\s*([A-Z0-9]{3,}(?:-[A-Z0-9]{3,})?)\s*$", message.body, re.MULTILINE)
    assert match, message.body
    return match.group(1)


def enter_code(client, code, prefix=""):
    return post_form(client, f"{prefix}/accounts/confirm-email/", {"code": code})


def logged_in(client):
    return client.session.get("_auth_user_id")


class TestSignupAtStepThree:
    def test_the_visitor_confirms_the_code_and_comes_back_to_pay(self, visitor, practice, expert_setup, frozen_now,
                                                                  signed_up):
        expert, page = expert_setup
        confirm = steps_one_and_two(visitor, page, free_times(expert)[0])
        response = post_form(visitor, confirm, signup_data())
        # allauth's next page: type the code sent by email. Not logged in yet, nothing held.
        assert response.status_code == 302 and response["Location"] == "/accounts/confirm-email/"
        user = User.objects.get(email="lea@example.test")
        assert (user.first_name, user.last_name, user.language) == ("Léa", "Petit", "fr")
        assert signed_up == [user.pk]
        assert logged_in(visitor) is None
        assert not EmailAddress.objects.get(user=user).verified
        assert Appointment.objects.count() == 0
        [message] = mail.outbox
        assert message.to == ["lea@example.test"] and message.subject == "Confirmez votre adresse e-mail"
        # Before the code: step 3 holds nothing (the visitor is not logged in).
        response = post_form(visitor, confirm, {"idempotency_key": "k1"})
        assert response.status_code == 400 and Appointment.objects.count() == 0

        response = enter_code(visitor, code_in(message))
        assert response.status_code == 302 and response["Location"] == confirm
        assert logged_in(visitor) == str(user.pk)
        assert EmailAddress.objects.get(user=user).verified
        body = visitor.get(confirm).content.decode()
        assert "Passer au paiement" in body and "Créer mon compte" not in body
        response = post_form(visitor, confirm, {"idempotency_key": "k2"})
        appointment = Appointment.objects.get()
        assert response["Location"] == f"/payments/checkout/{appointment.order.public_id}/"
        assert (appointment.client, appointment.state) == (user, Appointment.State.HELD)
        assert signed_up == [user.pk]  # once, at sign-up, not again at the login after the code

    def test_in_english(self, visitor, practice, expert_setup, frozen_now, signed_up, make_user):
        expert, page = expert_setup
        confirm = steps_one_and_two(visitor, page, free_times(expert)[0], prefix="/en")
        assert confirm.startswith("/en/")
        page_html = visitor.get(confirm).content.decode()
        assert "Create my account" in page_html and "We email you a code" in page_html
        response = post_form(visitor, confirm, signup_data())
        assert response["Location"] == "/en/accounts/confirm-email/"
        assert User.objects.get(email="lea@example.test").language == "en"
        [message] = mail.outbox
        assert message.subject == "Please Confirm Your Email Address"
        assert enter_code(visitor, code_in(message), prefix="/en")["Location"] == confirm
        assert "Go to payment" in visitor.get(confirm).content.decode()
        services.hold(services.BookingRequest(site=practice.site, expert=expert, client=make_user(),
                                              mode="chat", product="long", starts_at=free_times(expert)[0]))
        response = visitor.get(confirm, follow=True)
        assert response.redirect_chain == [(f"/en/booking/{page.pk}/time/", 302)]
        assert "The time you chose is no longer available" in response.content.decode()

    def test_a_wrong_code_keeps_the_visitor_out(self, visitor, practice, expert_setup, frozen_now):
        expert, page = expert_setup
        confirm = steps_one_and_two(visitor, page, free_times(expert)[0])
        post_form(visitor, confirm, signup_data())
        response = enter_code(visitor, "ZZZZZZ")
        assert response.status_code == 200 and logged_in(visitor) is None
        assert not EmailAddress.objects.get(email="lea@example.test").verified
        assert visitor.get(confirm).status_code == 200
        assert Appointment.objects.count() == 0

    def test_bad_input_shows_errors_and_writes_nothing(self, visitor, practice, expert_setup, frozen_now,
                                                       signed_up):
        expert, page = expert_setup
        confirm = steps_one_and_two(visitor, page, free_times(expert)[0])
        response = post_form(visitor, confirm, signup_data(first_name="", password2="something-else-2026"))
        assert response.status_code == 400
        body = response.content.decode()
        assert "Champ requis." in body
        assert 'class="field field--password2 field--error"' in body
        response = post_form(visitor, confirm, signup_data(password1="short", password2="short"))
        assert response.status_code == 400 and "trop court" in response.content.decode()
        assert not User.objects.filter(email="lea@example.test").exists() and Appointment.objects.count() == 0
        assert mail.outbox == [] and signed_up == []

    def test_an_address_with_an_account_creates_nobody_and_reveals_nothing(self, visitor, practice, expert_setup,
                                                                           frozen_now, client_user, signed_up):
        """As on the sign-up page: the same "enter the code" page, and a notice to the address's owner."""
        expert, page = expert_setup
        users = User.objects.count()
        confirm = steps_one_and_two(visitor, page, free_times(expert)[0])
        response = post_form(visitor, confirm, signup_data(email=client_user.email.upper()))
        assert response.status_code == 302 and response["Location"] == "/accounts/confirm-email/"
        assert User.objects.count() == users and signed_up == []
        assert [m.to for m in mail.outbox] == [[client_user.email]]
        assert logged_in(visitor) is None and Appointment.objects.count() == 0

    def test_the_time_taken_while_verifying_sends_back_to_the_times_with_choices_kept(
            self, visitor, practice, expert_setup, frozen_now, make_user):
        from site_core.payments.models import PromoCode

        expert, page = expert_setup
        PromoCode.objects.create(site=practice.site, code="BIENVENUE", kind="percent", percent=10)
        first, second = free_times(expert)[:2]
        confirm = steps_one_and_two(visitor, page, first, promo_code="bienvenue")
        post_form(visitor, confirm, signup_data())
        # Someone else takes that time while Léa reads her email.
        services.hold(services.BookingRequest(site=practice.site, expert=expert, client=make_user(),
                                              mode="chat", product="long", starts_at=first))
        response = enter_code(visitor, code_in(mail.outbox[0]))
        assert response["Location"] == confirm
        response = visitor.get(confirm, follow=True)
        assert response.redirect_chain == [(f"/booking/{page.pk}/time/", 302)]
        assert "Le créneau choisi n’est plus disponible" in response.content.decode()
        state = visitor.session[f"cabinet:booking:{page.pk}"]
        assert (state["mode"], state["product"], state["promo_code"]) == ("chat", "long", "BIENVENUE")
        assert first.isoformat() not in response.content.decode()  # no longer offered
        # Another time, and Léa goes on, logged in.
        assert post_form(visitor, f"/booking/{page.pk}/time/", {"starts_at": second.isoformat()})["Location"] \
            == confirm
        response = post_form(visitor, confirm, {"idempotency_key": "k3"})
        mine = Appointment.objects.get(client__email="lea@example.test")
        assert response["Location"] == f"/payments/checkout/{mine.order.public_id}/"
        assert (mine.starts_at, mine.order.promo_code.code) == (second, "BIENVENUE")

    def test_a_logged_in_client_whose_address_is_not_verified_confirms_it_first(
            self, visitor, practice, expert_setup, frozen_now, make_user):
        """An account made before the policy (or by hand): a code is sent, nothing is held."""
        expert, page = expert_setup
        user = make_user(email="ancien@example.test", verified=False)
        visitor.force_login(user)
        confirm = steps_one_and_two(visitor, page, free_times(expert)[0])
        response = post_form(visitor, confirm, {"idempotency_key": "k1"})
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/confirm-email/?next=")
        assert Appointment.objects.count() == 0
        response = visitor.post(response["Location"], {"code": code_in(mail.outbox[-1]),
                                                       "csrfmiddlewaretoken": token(visitor.get(response["Location"]))})
        assert response["Location"] == confirm
        post_form(visitor, confirm, {"idempotency_key": "k1"})
        assert Appointment.objects.get().client == user


class TestLoginAtStepThree:
    def test_a_client_logs_in_and_goes_to_payment_at_once(self, visitor, practice, expert_setup, frozen_now,
                                                          make_user, signed_up):
        expert, page = expert_setup
        user = make_user(email="camille@example.test", password=PASSWORD)
        confirm = steps_one_and_two(visitor, page, free_times(expert)[0])
        response = post_form(visitor, confirm, {"account": "login", "login": "Camille@Example.test",
                                                "password": PASSWORD, "idempotency_key": "k1"})
        appointment = Appointment.objects.get()
        assert response["Location"] == f"/payments/checkout/{appointment.order.public_id}/"
        assert appointment.client == user and logged_in(visitor) == str(user.pk)
        assert signed_up == []

    def test_an_unverified_account_confirms_its_code_then_comes_back(self, visitor, practice, expert_setup,
                                                                     frozen_now, make_user):
        expert, page = expert_setup
        user = make_user(email="camille@example.test", password=PASSWORD, verified=False)
        confirm = steps_one_and_two(visitor, page, free_times(expert)[0])
        response = post_form(visitor, confirm, {"account": "login", "login": user.email, "password": PASSWORD})
        assert response["Location"] == "/accounts/confirm-email/"
        assert logged_in(visitor) is None and Appointment.objects.count() == 0
        assert enter_code(visitor, code_in(mail.outbox[-1]))["Location"] == confirm
        assert logged_in(visitor) == str(user.pk)

    def test_a_wrong_password_is_refused_and_counts_toward_the_lockout(self, visitor, practice, expert_setup,
                                                                       make_user):
        """On the real clock: django-axes reads it to expire old failures."""
        from django.utils import timezone

        expert, page = expert_setup
        user = make_user(email="camille@example.test", password=PASSWORD)
        confirm = steps_one_and_two(visitor, page, free_times(expert, now=timezone.now())[0])
        wrong = {"account": "login", "login": user.email, "password": "not-the-password"}
        for _ in range(settings.AXES_FAILURE_LIMIT - 1):
            response = post_form(visitor, confirm, wrong)
            assert response.status_code == 400
            assert "L’adresse e-mail ou le mot de passe sont incorrects." \
                in response.content.decode()
        assert AccessAttempt.objects.get().failures_since_start == settings.AXES_FAILURE_LIMIT - 1
        response = post_form(visitor, confirm, wrong)
        assert response.status_code == 429
        assert "Trop de tentatives de connexion" in response.content.decode()
        # Locked out, even with the right password, here and on the log-in page.
        response = post_form(visitor, confirm, {**wrong, "password": PASSWORD})
        assert response.status_code == 429 and logged_in(visitor) is None
        assert Client().post("/accounts/login/", {"login": user.email, "password": PASSWORD}).status_code == 429
        assert Appointment.objects.count() == 0

    def test_missing_fields_are_refused(self, visitor, practice, expert_setup, frozen_now):
        expert, page = expert_setup
        confirm = steps_one_and_two(visitor, page, free_times(expert)[0])
        response = post_form(visitor, confirm, {"account": "login", "login": "", "password": ""})
        assert response.status_code == 400 and Appointment.objects.count() == 0


def test_without_the_csrf_token_nothing_is_created(visitor, practice, expert_setup, frozen_now):
    expert, page = expert_setup
    confirm = steps_one_and_two(visitor, page, free_times(expert)[0])
    response = visitor.post(confirm, signup_data())
    assert response.status_code == 403
    assert not User.objects.filter(email="lea@example.test").exists() and mail.outbox == []
