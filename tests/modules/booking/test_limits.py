"""One client cannot hold every slot (issue 13, item 3): a cap on live unpaid holds per client,
and rate limits on booking, promo-code checks and the contact form, per address and per account,
answered 429 with Retry-After and a clear message in the pages and the API."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test import Client

from modules.booking import services
from modules.booking.models import Appointment, BookingSettings
from modules.booking.views import SESSION_PREFIX
from site_core.access import ratelimits
from site_core.payments.models import Order, PromoCode

NOW = datetime(2026, 11, 2, 7, 0, tzinfo=UTC)  # Monday 08:00 in Paris
SLOTS = [datetime(2026, 11, 2, 9, 0, tzinfo=UTC) + timedelta(hours=h) for h in (0, 1, 5, 6)]


@pytest.fixture
def frozen(monkeypatch):
    monkeypatch.setattr("django.utils.timezone.now", lambda: NOW)


def request_for(practice, expert, client, starts_at, **extra):
    return services.BookingRequest(site=practice.site, expert=expert, client=client, mode="chat",
                                   product="long", starts_at=starts_at, **extra)


def body(starts_at, **extra):
    return {"expert": "sophie-laurent", "mode": "chat", "product": "long", "starts_at": starts_at.isoformat(),
            **extra}


# --- The cap on holds ------------------------------------------------------------------------

@pytest.mark.django_db
class TestHoldCap:
    def test_a_third_unpaid_hold_is_refused_and_nothing_is_written(self, practice, expert_setup, client_user,
                                                                     frozen):
        expert, _page = expert_setup
        for starts_at in SLOTS[:2]:
            services.hold(request_for(practice, expert, client_user, starts_at))
        with pytest.raises(services.HoldLimit) as refused:
            services.hold(request_for(practice, expert, client_user, SLOTS[2]))
        assert refused.value.code == "hold_limit"
        assert "2 réservations en attente de paiement" in refused.value.message  # French by default
        assert Appointment.objects.count() == 2 and Order.objects.count() == 2

    def test_the_cap_is_a_practice_setting(self, practice, expert_setup, client_user, frozen):
        expert, _page = expert_setup
        rules = BookingSettings.for_site(practice.site)
        rules.max_live_holds = 1
        rules.save()
        services.hold(request_for(practice, expert, client_user, SLOTS[0]))
        with pytest.raises(services.HoldLimit):
            services.hold(request_for(practice, expert, client_user, SLOTS[1]))

    def test_a_hold_given_up_or_run_out_frees_its_place(self, practice, expert_setup, client_user, monkeypatch):
        expert, _page = expert_setup
        monkeypatch.setattr("django.utils.timezone.now", lambda: NOW)
        first = services.hold(request_for(practice, expert, client_user, SLOTS[0]))
        services.hold(request_for(practice, expert, client_user, SLOTS[1]))
        services.release_hold(first, reason="client gave up")
        services.hold(request_for(practice, expert, client_user, SLOTS[2]))  # allowed again
        # Eleven minutes on, the two holds ran out (10 minutes by default), swept or not.
        monkeypatch.setattr("django.utils.timezone.now", lambda: NOW + timedelta(minutes=11))
        services.hold(request_for(practice, expert, client_user, SLOTS[3]))
        assert Appointment.objects.filter(state=Appointment.State.HELD).count() == 3

    def test_a_retry_of_a_hold_is_not_counted_against_it(self, practice, expert_setup, client_user, frozen):
        expert, _page = expert_setup
        first = services.hold(request_for(practice, expert, client_user, SLOTS[0], idempotency_key="a"))
        services.hold(request_for(practice, expert, client_user, SLOTS[1]))
        again = services.hold(request_for(practice, expert, client_user, SLOTS[0], idempotency_key="a"))
        assert again.pk == first.pk and Appointment.objects.count() == 2

    def test_another_client_is_not_affected(self, practice, expert_setup, client_user, make_user, frozen):
        expert, _page = expert_setup
        for starts_at in SLOTS[:2]:
            services.hold(request_for(practice, expert, client_user, starts_at))
        other = make_user(email="other@example.test")
        services.hold(request_for(practice, expert, other, SLOTS[2]))

    def test_the_api_answers_409_hold_limit(self, client, practice, expert_setup, client_user, frozen):
        client.force_login(client_user)
        for starts_at in SLOTS[:2]:
            assert client.post("/api/v1/bookings", body(starts_at), content_type="application/json").status_code == 201
        refused = client.post("/api/v1/bookings", body(SLOTS[2]), content_type="application/json",
                              HTTP_ACCEPT_LANGUAGE="en")
        assert refused.status_code == 409
        assert refused.json()["code"] == "hold_limit" and "waiting for payment" in refused.json()["detail"]
        assert Appointment.objects.count() == 2

    @pytest.mark.parametrize("language, text", [("fr", "réservations en attente de paiement"),
                                                ("en", "bookings waiting for payment")])
    def test_the_booking_pages_say_why(self, practice, expert_setup, client_user, frozen, language, text):
        expert, page = expert_setup
        for starts_at in SLOTS[:2]:
            services.hold(request_for(practice, expert, client_user, starts_at))
        browser = Client(enforce_csrf_checks=True, HTTP_ACCEPT_LANGUAGE=language)
        browser.force_login(client_user)
        prefix = "" if language == "fr" else "/en"
        start = f"{prefix}/booking/{page.pk}/"
        browser.get(start)
        token = browser.cookies["csrftoken"].value
        assert browser.post(start, {"mode": "chat", "when": "appointment", "csrfmiddlewaretoken": token}
                            ).status_code == 302
        assert browser.post(f"{prefix}/booking/{page.pk}/product/",
                            {"product": "long", "csrfmiddlewaretoken": token}).status_code == 302
        assert browser.post(f"{prefix}/booking/{page.pk}/time/",
                            {"starts_at": SLOTS[2].isoformat(), "csrfmiddlewaretoken": token}).status_code == 302
        confirm = browser.get(f"{prefix}/booking/{page.pk}/confirm/")
        key = confirm.context["idempotency_key"]
        refused = browser.post(f"{prefix}/booking/{page.pk}/confirm/",
                               {"idempotency_key": key, "csrfmiddlewaretoken": token}, follow=True)
        assert text in refused.content.decode()
        assert Appointment.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_two_holds_sent_at_once_at_the_cap_make_one(require_postgres, practice, expert_setup, client_user,
                                                    monkeypatch):
    """PostgreSQL: the client's row lock makes the second count the first."""
    expert, _page = expert_setup
    monkeypatch.setattr("django.utils.timezone.now", lambda: NOW)
    services.hold(request_for(practice, expert, client_user, SLOTS[0]))
    barrier = threading.Barrier(2)
    outcomes = []

    def book(starts_at):
        try:
            barrier.wait()
            services.hold(request_for(practice, expert, client_user, starts_at))
            outcomes.append("held")
        except services.HoldLimit:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=book, args=(s,)) for s in SLOTS[1:3]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["held", "refused"]
    assert Appointment.objects.filter(state=Appointment.State.HELD).count() == 2


# --- Rate limits ---------------------------------------------------------------------------

@pytest.fixture
def tight(settings):
    settings.CABINET_PROXY_COUNT = 1
    settings.CABINET_RATE_LIMITS = {"booking": {"address": "3/m", "account": "2/m"},
                                    "promo_code": {"address": "2/m", "account": "2/m"}}


@pytest.mark.django_db
class TestRateLimits:
    def test_booking_steps_are_limited_per_address(self, client, practice, expert_setup, tight):
        _expert, page = expert_setup
        start = f"/booking/{page.pk}/"
        visitor = {"HTTP_X_FORWARDED_FOR": "203.0.113.7", "REMOTE_ADDR": "10.0.0.2"}
        for _ in range(3):
            assert client.post(start, {"mode": "chat", "when": "appointment"}, **visitor).status_code == 302
        refused = client.post(start, {"mode": "video", "when": "appointment"}, **visitor)
        assert refused.status_code == 429
        assert 0 < int(refused["Retry-After"]) <= 60
        assert "Veuillez réessayer dans 1 minute" in refused.content.decode()
        assert client.session[f"{SESSION_PREFIX}{page.pk}"]["mode"] == "chat"  # the refused post changed nothing
        # Another address behind the same proxy is not affected.
        other = {"HTTP_X_FORWARDED_FOR": "203.0.113.8", "REMOTE_ADDR": "10.0.0.2"}
        assert Client().post(start, {"mode": "chat", "when": "appointment"}, **other).status_code == 302

    def test_an_account_is_limited_whatever_its_address(self, practice, expert_setup, client_user, tight):
        _expert, page = expert_setup
        start = f"/booking/{page.pk}/"
        browser = Client()
        browser.force_login(client_user)
        for n in range(2):
            assert browser.post(start, {"mode": "chat", "when": "appointment"},
                                HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code == 302
        assert browser.post(start, {"mode": "chat", "when": "appointment"},
                            HTTP_X_FORWARDED_FOR="198.51.100.9").status_code == 429

    def test_the_api_answers_429_rate_limited(self, client, practice, expert_setup, client_user, frozen, tight):
        client.force_login(client_user)
        answers = [client.post("/api/v1/bookings", body(SLOTS[0]), content_type="application/json",
                               HTTP_IDEMPOTENCY_KEY="same", HTTP_ACCEPT_LANGUAGE="en") for _ in range(3)]
        assert [a.status_code for a in answers] == [201, 201, 429]
        refused = answers[-1]
        assert refused.json()["code"] == "rate_limited" and "try again in 1 minute" in refused.json()["detail"]
        assert 0 < int(refused["Retry-After"]) <= 60
        assert Appointment.objects.count() == 1

    def test_guessing_promo_codes_is_limited(self, client, practice, expert_setup, tight, settings):
        settings.CABINET_RATE_LIMITS = {**settings.CABINET_RATE_LIMITS,
                                        "booking": {"address": "10/m", "account": "10/m"}}
        _expert, page = expert_setup
        start = f"/booking/{page.pk}/"
        for guess in ("AAAA", "BBBB"):
            answer = client.post(start, {"mode": "chat", "when": "appointment", "promo_code": guess})
            assert answer.status_code == 400
        refused = client.post(f"/en{start}", {"mode": "chat", "when": "appointment", "promo_code": "CCCC"})
        assert refused.status_code == 429 and refused["Retry-After"]
        assert "Too many attempts in a short time" in refused.content.decode()
        # Without a code, booking goes on (the booking limit is separate).
        assert client.post(start, {"mode": "chat", "when": "appointment"}).status_code == 302

    def test_guessing_promo_codes_at_checkout_is_limited(self, client, practice, expert_setup, client_user,
                                                         frozen, tight):
        expert, _page = expert_setup
        PromoCode.objects.create(site=practice.site, code="REAL", kind="percent", percent=10)
        appointment = services.hold(request_for(practice, expert, client_user, SLOTS[0]))
        client.force_login(client_user)
        checkout = f"/payments/checkout/{appointment.order.public_id}/"
        for guess in ("AAAA", "BBBB"):
            assert client.post(checkout, {"code": guess}).status_code == 400
        refused = client.post(checkout, {"code": "REAL"})
        assert refused.status_code == 429 and refused["Retry-After"]
        appointment.order.refresh_from_db()
        assert appointment.order.promo_code_id is None

    def test_the_limits_count_in_the_shared_cache(self, rf, settings):
        """Per address and per account, with the window's end as Retry-After."""
        settings.CABINET_RATE_LIMITS = {"contact": {"address": "1/h", "account": "1/h"}}
        request = rf.post("/", REMOTE_ADDR="192.0.2.1")
        from django.contrib.auth.models import AnonymousUser

        request.user = AnonymousUser()
        ratelimits.hit(request, "contact")
        with pytest.raises(ratelimits.RateLimited) as refused:
            ratelimits.hit(request, "contact")
        assert 0 < refused.value.retry_after <= 3600
        other = rf.post("/", REMOTE_ADDR="192.0.2.2")
        other.user = AnonymousUser()
        ratelimits.hit(other, "contact")
