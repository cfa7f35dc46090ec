"""Brute force: django-axes locks a login + client address out after AXES_FAILURE_LIMIT failures.

The client address comes from site_core.base.net.client_ip: the socket's address, or
with CABINET_PROXY_COUNT=N the Nth address from the right of X-Forwarded-For
(what the proxies appended), never one the client wrote itself.
"""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client
from django.utils import translation
from django.utils.translation import gettext

PASSWORD = "the-right-password-2026"
EMAIL = "camille@example.test"


@pytest.fixture
def account(practice, make_user):
    return make_user(email=EMAIL, password=PASSWORD)


def site_login(client, password, **headers):
    return client.post("/accounts/login/", {"login": EMAIL, "password": password}, **headers)


def admin_login(client, password, **headers):
    return client.post("/admin/login/", {"username": EMAIL, "password": password}, **headers)


def fail_until_locked(login, client, **headers):
    """Fails AXES_FAILURE_LIMIT times; returns the responses."""
    return [login(client, "wrong-password", **headers) for _ in range(settings.AXES_FAILURE_LIMIT)]


def is_lockout(response):
    """The themed lockout page, in the visitor's language (French by default)."""
    with translation.override("fr"):
        title = gettext("Too many failed login attempts")
    return response.status_code == 429 and title in response.content.decode()


def test_settings_are_present():
    assert settings.AXES_FAILURE_LIMIT >= 3
    assert settings.AXES_COOLOFF_TIME >= timedelta(minutes=1)
    assert settings.AXES_HTTP_RESPONSE_CODE == 429
    assert settings.AXES_CLIENT_IP_CALLABLE == "site_core.base.net.client_ip"


@pytest.mark.django_db
@pytest.mark.parametrize("login", [site_login, admin_login], ids=["site", "admin"])
class TestLockout:
    def test_locked_out_after_the_limit_even_with_the_right_password(self, account, login):
        client = Client()
        responses = fail_until_locked(login, client)
        assert all(r.status_code == 200 for r in responses[:-1])
        assert is_lockout(responses[-1])
        response = login(client, PASSWORD)
        assert is_lockout(response)
        assert client.session.get("_auth_user_id") is None
        # Another browser from the same address is locked out too.
        assert is_lockout(login(Client(), PASSWORD))

    def test_fewer_failures_do_not_lock_and_success_resets(self, account, login):
        client = Client()
        for _ in range(settings.AXES_FAILURE_LIMIT - 1):
            assert login(client, "wrong-password").status_code == 200
        assert login(client, PASSWORD).status_code == 302
        assert client.session.get("_auth_user_id") == str(account.pk)
        client.logout()
        assert login(client, "wrong-password").status_code == 200  # the counter started again

    def test_the_login_is_case_insensitive_for_the_counter(self, account, login):
        client = Client()
        for n in range(settings.AXES_FAILURE_LIMIT):
            variant = EMAIL.upper() if n % 2 else EMAIL
            if login is site_login:
                response = client.post("/accounts/login/", {"login": variant, "password": "bad"})
            else:
                response = client.post("/admin/login/", {"username": variant, "password": "bad"})
        assert is_lockout(response)

    def test_the_lockout_ends_after_the_cool_off(self, account, login):
        client = Client()
        fail_until_locked(login, client)
        assert is_lockout(login(client, PASSWORD))
        AccessAttempt.objects.update(
            attempt_time=AccessAttempt.objects.first().attempt_time - settings.AXES_COOLOFF_TIME
            - timedelta(seconds=1)
        )
        assert login(client, PASSWORD).status_code == 302
        assert client.session.get("_auth_user_id") == str(account.pk)


@pytest.mark.django_db
class TestClientAddress:
    def test_without_proxies_a_forged_forwarded_for_changes_nothing(self, account, settings):
        settings.CABINET_PROXY_COUNT = 0
        for n in range(settings.AXES_FAILURE_LIMIT):
            site_login(Client(), "wrong", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}",
                       REMOTE_ADDR="192.0.2.10")
        response = site_login(Client(), PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.99",
                              REMOTE_ADDR="192.0.2.10")
        assert is_lockout(response)
        assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"192.0.2.10"}
        # Someone else, from another address, still logs in.
        assert site_login(Client(), PASSWORD, REMOTE_ADDR="192.0.2.20").status_code == 302

    def test_behind_one_proxy_the_right_most_address_is_the_client(self, account, settings):
        settings.CABINET_PROXY_COUNT = 1
        proxy = {"REMOTE_ADDR": "10.0.0.2"}
        for n in range(settings.AXES_FAILURE_LIMIT):
            # The client forges the left part; the proxy appends the address it saw.
            site_login(Client(), "wrong", HTTP_X_FORWARDED_FOR=f"1.2.3.{n}, 203.0.113.7", **proxy)
        assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.7"}
        # Forging a new left-most address does not get the attacker out.
        response = site_login(Client(), PASSWORD, HTTP_X_FORWARDED_FOR="9.9.9.9, 203.0.113.7", **proxy)
        assert is_lockout(response)
        # Another client behind the same proxy is not locked out.
        response = site_login(Client(), PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.8", **proxy)
        assert response.status_code == 302

    def test_behind_one_proxy_the_admin_login_is_keyed_the_same_way(self, account, settings):
        settings.CABINET_PROXY_COUNT = 1
        for n in range(settings.AXES_FAILURE_LIMIT):
            admin_login(Client(), "wrong", HTTP_X_FORWARDED_FOR=f"1.2.3.{n}, 203.0.113.7",
                        REMOTE_ADDR="10.0.0.2")
        assert is_lockout(admin_login(Client(), PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.7",
                                      REMOTE_ADDR="10.0.0.2"))
        assert admin_login(Client(), PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.8",
                           REMOTE_ADDR="10.0.0.2").status_code == 302


@pytest.mark.django_db
class TestAllauthRateLimitsBehindAProxy:
    def test_allauth_reads_the_same_client_address(self, rf, settings):
        from allauth.account.adapter import get_adapter

        settings.CABINET_PROXY_COUNT = 1
        request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7")
        assert get_adapter(request).get_client_ip(request) == "203.0.113.7"
        settings.CABINET_PROXY_COUNT = 0
        assert get_adapter(request).get_client_ip(request) == "10.0.0.2"

    def test_visitors_behind_the_proxy_are_not_limited_together(self, account, make_user, settings):
        """allauth allows 10 failed logins a minute per address: per visitor, not per proxy."""
        settings.CABINET_PROXY_COUNT = 1
        for n in range(12):
            make_user(email=f"visitor{n}@example.test")
            Client().post("/accounts/login/", {"login": f"visitor{n}@example.test", "password": "bad"},
                          REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=f"203.0.113.{n + 10}")
        response = site_login(Client(), PASSWORD, REMOTE_ADDR="10.0.0.2",
                              HTTP_X_FORWARDED_FOR="198.51.100.1")
        assert response.status_code == 302

    def test_one_address_is_still_limited_across_logins(self, account, make_user, settings):
        """Spraying many logins from one address hits allauth's per-address limit."""
        settings.CABINET_PROXY_COUNT = 0
        for n in range(12):
            make_user(email=f"visitor{n}@example.test")
            Client().post("/accounts/login/", {"login": f"visitor{n}@example.test", "password": "bad"},
                          REMOTE_ADDR="192.0.2.50")
        response = site_login(Client(), PASSWORD, REMOTE_ADDR="192.0.2.50")
        assert response.status_code == 200
        assert "Trop de tentatives" in response.content.decode()
