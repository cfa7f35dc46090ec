"""Sign-up with email, verification, login, password reset (django-allauth).

The address is verified with a code sent by email (ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED),
typed on the page the sign-up leads to: the same policy as step 3 of the booking form.
"""

import re

import pytest
from django.core import mail
from django.test import Client

from site_core.practice.models import User

PASSWORD = "un-mot-de-passe-solide-2026"


def signup(client, prefix="", email="camille@example.test", **extra):
    data = {"first_name": "Camille", "last_name": "Martin", "email": email,
            "password1": PASSWORD, "password2": PASSWORD, **extra}
    return client.post(f"{prefix}/accounts/signup/", data)


def link_in(message):
    match = re.search(r"https?://[^\s]+", message.body)
    assert match, message.body
    return re.sub(r"^https?://[^/]+", "", match.group(0))


def code_in(message):
    """The verification code, alone on its line in the email."""
    match = re.search(r"^\s*([A-Z0-9]{3,}(?:-[A-Z0-9]{3,})?)\s*$", message.body, re.MULTILINE)
    assert match, message.body
    return match.group(1)


def logged_in_user_id(client):
    return client.session.get("_auth_user_id")


@pytest.mark.django_db
class TestSignup:
    def test_signup_sends_a_verification_email_in_french(self, client, practice):
        response = signup(client)
        assert response.status_code == 302
        assert response["Location"] == "/accounts/confirm-email/"
        user = User.objects.get(email="camille@example.test")
        assert (user.first_name, user.last_name, user.language) == ("Camille", "Martin", "fr")
        assert logged_in_user_id(client) is None
        assert len(mail.outbox) == 1
        message = mail.outbox[0]
        assert message.to == ["camille@example.test"]
        assert message.subject == "Confirmez votre adresse e-mail"
        assert code_in(message)
        assert "/accounts/confirm-email/" not in message.body  # a code to type, not a link
        page = client.get("/accounts/confirm-email/")
        assert page.status_code == 200 and 'name="code"' in page.content.decode()

    def test_signup_in_english_sends_the_email_in_english(self, client, practice):
        assert signup(client, prefix="/en").status_code == 302
        assert User.objects.get(email="camille@example.test").language == "en"
        message = mail.outbox[0]
        assert message.subject == "Please Confirm Your Email Address"
        assert "Your email verification code is listed below." in message.body
        assert client.post("/en/accounts/confirm-email/", {"code": code_in(message)}).status_code == 302
        assert User.objects.get(email="camille@example.test").emailaddress_set.get().verified

    def test_login_is_refused_until_the_address_is_verified(self, client, practice):
        from django.core.cache import cache

        signup(client)
        visitor = Client()
        # Within minutes of the sign-up's code, allauth sends no other one (its "confirm_email" limit).
        response = visitor.post("/accounts/login/", {"login": "camille@example.test", "password": PASSWORD})
        assert logged_in_user_id(visitor) is None
        assert response.status_code == 200 and "Trop de tentatives" in response.content.decode()
        cache.clear()  # later: the login sends a new code and asks for it
        response = visitor.post("/accounts/login/", {"login": "camille@example.test",
                                                     "password": PASSWORD})
        assert logged_in_user_id(visitor) is None
        assert response.status_code == 302
        assert response["Location"] == "/accounts/confirm-email/"
        portal = visitor.get("/portal/")
        assert portal.status_code == 302 and portal["Location"].startswith("/accounts/login/")

    def test_the_code_verifies_and_logs_in_and_login_with_email_works(self, client, practice):
        from allauth.account.models import EmailAddress

        signup(client)
        code = code_in(mail.outbox[0])
        response = client.post("/accounts/confirm-email/", {"code": "ZZZZZZ"})
        assert response.status_code == 200 and logged_in_user_id(client) is None
        assert not EmailAddress.objects.get(email="camille@example.test").verified
        response = client.post("/accounts/confirm-email/", {"code": code})
        assert response.status_code == 302 and response["Location"] == "/portal/"
        assert EmailAddress.objects.get(email="camille@example.test").verified
        user = User.objects.get(email="camille@example.test")
        assert logged_in_user_id(client) == str(user.pk)

        visitor = Client()
        response = visitor.post("/accounts/login/", {"login": "Camille@Example.test",
                                                     "password": PASSWORD})
        assert response.status_code == 302
        assert response["Location"] == "/portal/"
        assert logged_in_user_id(visitor) == str(user.pk)
        assert visitor.get("/portal/").status_code == 200

    def test_the_code_is_tied_to_the_browser_that_signed_up(self, client, practice):
        signup(client)
        other = Client()
        response = other.post("/accounts/confirm-email/", {"code": code_in(mail.outbox[0])})
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
        assert logged_in_user_id(other) is None

    def test_a_wrong_password_is_refused(self, client, practice, make_user):
        make_user(email="camille@example.test", password=PASSWORD)
        response = client.post("/accounts/login/", {"login": "camille@example.test",
                                                    "password": "not-the-password"})
        assert response.status_code == 200
        assert logged_in_user_id(client) is None

    def test_signup_with_an_address_already_used_creates_nobody(self, client, practice, make_user):
        make_user(email="camille@example.test")
        response = signup(client, email="CAMILLE@example.test")
        assert User.objects.filter(email__iexact="camille@example.test").count() == 1
        # allauth does not say the address exists (no enumeration): it sends a notice instead.
        assert response.status_code in (200, 302)

    def test_signup_requires_names_and_matching_passwords(self, client, practice):
        response = signup(client, first_name="", password2="something-else-2026")
        assert response.status_code == 200
        assert not User.objects.filter(email="camille@example.test").exists()
        assert mail.outbox == []


@pytest.mark.django_db
class TestPasswordReset:
    def test_reset_by_email(self, client, practice, make_user):
        make_user(email="camille@example.test", password="old-password-2026")
        response = client.post("/accounts/password/reset/", {"email": "camille@example.test"})
        assert response.status_code == 302
        assert len(mail.outbox) == 1
        message = mail.outbox[0]
        assert message.to == ["camille@example.test"]
        assert message.subject == "E-mail de réinitialisation de mot de passe"
        link = link_in(message)
        response = client.get(link)
        assert response.status_code == 302  # the key moves into the session
        form_url = response["Location"]
        assert client.get(form_url).status_code == 200
        response = client.post(form_url, {"password1": PASSWORD, "password2": PASSWORD})
        assert response.status_code == 302

        visitor = Client()
        assert visitor.post("/accounts/login/", {"login": "camille@example.test",
                                                 "password": "old-password-2026"}).status_code == 200
        assert logged_in_user_id(visitor) is None
        assert visitor.post("/accounts/login/", {"login": "camille@example.test",
                                                 "password": PASSWORD}).status_code == 302
        assert logged_in_user_id(visitor) is not None
        # The link works once.
        assert "set-password" not in Client().get(link).get("Location", "")

    def test_reset_for_an_unknown_address_sends_nothing_to_anyone(self, client, practice):
        response = client.post("/accounts/password/reset/", {"email": "nobody@example.test"})
        assert response.status_code == 302
        assert all("nobody@example.test" in m.to for m in mail.outbox)
        assert not any("/password/reset/key/" in m.body for m in mail.outbox)
