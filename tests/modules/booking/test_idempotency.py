"""POST /api/v1/bookings with an Idempotency-Key (IETF draft "The Idempotency-Key HTTP Header
Field"): a retry gets the first request's booking, never a second one and never "slot taken",
even when the retries arrive while the first is still being made."""

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
import pytest
import recurrence
from django.db import connection

from modules.booking import services
from modules.booking.models import Appointment, AvailabilityRule, BookingSettings, Offering
from site_core.payments.models import Order
from tests.conftest import build_practice

CSRF = "idemidemidemidemidemidemidemidem"  # 32 characters: a valid unmasked CSRF secret


def _open_all_day(expert):
    Offering.objects.create(expert=expert, mode="chat", long_price=5000, short_price=3000)
    AvailabilityRule.objects.create(expert=expert, start_time=datetime.min.time(), end_time=datetime.max.time(),
                                    recurrence=recurrence.deserialize("RRULE:FREQ=DAILY"))


def _session_cookies(user):
    from django.test import Client

    browser = Client()
    browser.force_login(user)
    return {"sessionid": browser.cookies["sessionid"].value, "csrftoken": CSRF}


def _body(starts_at, **extra):
    return {"expert": "marc-dubois", "mode": "chat", "product": "long", "starts_at": starts_at.isoformat(), **extra}


def _at_once(count, url, cookies, body, key):
    """``count`` POSTs of ``body`` with one Idempotency-Key, released together by a barrier."""
    barrier = threading.Barrier(count)
    answers = []

    def send():
        with httpx.Client(base_url=url, cookies=cookies, timeout=30) as http:
            barrier.wait(timeout=30)
            answers.append(http.post("/api/v1/bookings", json=body,
                                     headers={"Idempotency-Key": key, "X-CSRFToken": CSRF}))

    threads = [threading.Thread(target=send) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


@pytest.mark.django_db(transaction=True)
def test_ten_parallel_posts_with_one_key_give_one_booking_and_its_replays(require_postgres, live_server,
                                                                          make_expert, make_user, settings):
    """Ten clients' retries at once, over HTTP to a threaded server (one database connection
    per request), three rounds: one booking, one 201; every other answer is that 201 replayed
    (same body, Idempotent-Replayed) or 409 idempotency_key_in_use with Retry-After; never
    slot_taken."""
    practice = build_practice("localhost", urlsplit(live_server.url).port)
    # Three holds by one client, thirty posts: above the default hold cap and near the booking
    # rate limit, which have their own tests (test_limits.py); here only the retries count.
    rules = BookingSettings.for_site(practice.site)
    rules.max_live_holds = 10
    rules.save()
    settings.CABINET_RATE_LIMITS = {"booking": {"address": "100/m", "account": "100/m"}}
    expert, _page, _en = make_expert(practice, "Marc Dubois")
    _open_all_day(expert)
    client = make_user(email="retry@example.test")
    cookies = _session_cookies(client)
    base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=3)
    for round_number in range(3):
        starts = base + timedelta(hours=round_number)
        key = f"retry-{round_number}"
        answers = _at_once(10, live_server.url, cookies, _body(starts), key)
        assert len(answers) == 10
        firsts = [a for a in answers if a.status_code == 201 and "Idempotent-Replayed" not in a.headers]
        assert len(firsts) == 1, [(a.status_code, a.text) for a in answers]
        first = firsts[0].json()
        kinds = Counter()
        for answer in answers:
            if answer is firsts[0]:
                continue
            if answer.status_code == 201:
                assert answer.headers["Idempotent-Replayed"] == "true" and answer.json() == first
                kinds["replayed"] += 1
            else:
                assert answer.status_code == 409, answer.text
                assert answer.json()["code"] == "idempotency_key_in_use", answer.text
                assert int(answer.headers["Retry-After"]) >= 1
                kinds["in use"] += 1
        assert sum(kinds.values()) == 9, kinds
        assert Appointment.objects.filter(idempotency_key=key).count() == 1
        assert Appointment.objects.get(idempotency_key=key).code == first["code"]
    assert Appointment.objects.count() == 3 and Order.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_a_key_still_in_flight_answers_409_with_retry_after(require_postgres, client, make_expert, make_user,
                                                             monkeypatch):
    """While another transaction holds the key, a retry waits KEY_WAIT_MS, then answers 409 with
    Retry-After (nothing written); once that transaction ends (here: rolls back, as a crashed
    request does) the key is free and the retry books."""
    from django.db import transaction

    practice = build_practice()
    expert, _page, _en = make_expert(practice, "Marc Dubois")
    _open_all_day(expert)
    user = make_user(email="inflight@example.test")
    starts = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=3)
    monkeypatch.setattr(services, "KEY_WAIT_MS", 200)
    claimed, release = threading.Event(), threading.Event()

    def first_request():
        try:
            with transaction.atomic():
                services._claim_key(user.pk, "slow-key")
                claimed.set()
                release.wait(timeout=30)
                transaction.set_rollback(True)  # the first request dies: its claim goes with it
        finally:
            connection.close()

    holder = threading.Thread(target=first_request)
    holder.start()
    try:
        assert claimed.wait(timeout=30)
        client.force_login(user)
        busy = client.post("/api/v1/bookings", _body(starts), content_type="application/json",
                           HTTP_IDEMPOTENCY_KEY="slow-key", HTTP_ACCEPT_LANGUAGE="en")
        assert busy.status_code == 409
        assert busy.json()["code"] == "idempotency_key_in_use" and busy["Retry-After"] == "1"
        assert "still being made" in busy.json()["detail"]
        assert not Appointment.objects.exists()
        # Another key of the same client is not held up.
        other = client.post("/api/v1/bookings", _body(starts + timedelta(hours=1)),
                            content_type="application/json", HTTP_IDEMPOTENCY_KEY="other-key")
        assert other.status_code == 201
    finally:
        release.set()
        holder.join()
    retry = client.post("/api/v1/bookings", _body(starts), content_type="application/json",
                        HTTP_IDEMPOTENCY_KEY="slow-key")
    assert retry.status_code == 201 and "Idempotent-Replayed" not in retry
    assert Appointment.objects.filter(idempotency_key="slow-key").count() == 1


def test_a_booking_that_failed_leaves_its_key_free(client, practice, expert_setup, client_user, monkeypatch):
    """The claim lives in the booking's transaction: a request that fails after claiming the
    key (here the order cannot be made) leaves nothing behind, and the retry books."""
    from site_core.payments import services as payments

    real = payments.create_order
    calls = {"n": 0}

    def failing_once(**kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("the database went away")
        return real(**kwargs)

    monkeypatch.setattr(payments, "create_order", failing_once)
    monkeypatch.setattr("django.utils.timezone.now", lambda: datetime(2026, 11, 2, 7, 0, tzinfo=UTC))
    client.force_login(client_user)
    body = {"expert": "sophie-laurent", "mode": "chat", "product": "long", "starts_at": "2026-11-02T09:00:00+00:00"}
    client.raise_request_exception = False
    crashed = client.post("/api/v1/bookings", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-9")
    assert crashed.status_code == 500 and not Appointment.objects.exists()
    retry = client.post("/api/v1/bookings", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-9")
    assert retry.status_code == 201 and "Idempotent-Replayed" not in retry
    again = client.post("/api/v1/bookings", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-9")
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json()["code"] == retry.json()["code"] and Appointment.objects.count() == 1


@pytest.mark.parametrize("change", [{"note": "another note"}, {"time_zone": "America/Montreal"},
                                    {"product": "short"}, {"starts_at": "2026-11-02T10:00:00+00:00"}])
def test_the_same_key_with_another_payload_is_a_422(client, practice, expert_setup, client_user, monkeypatch,
                                                     change):
    monkeypatch.setattr("django.utils.timezone.now", lambda: datetime(2026, 11, 2, 7, 0, tzinfo=UTC))
    client.force_login(client_user)
    body = {"expert": "sophie-laurent", "mode": "chat", "product": "long", "starts_at": "2026-11-02T09:00:00+00:00",
            "note": "first note", "time_zone": "Europe/Paris"}
    assert client.post("/api/v1/bookings", body, content_type="application/json",
                       HTTP_IDEMPOTENCY_KEY="k-2").status_code == 201
    other = client.post("/api/v1/bookings", {**body, **change}, content_type="application/json",
                        HTTP_IDEMPOTENCY_KEY="k-2", HTTP_ACCEPT_LANGUAGE="en")
    assert other.status_code == 422, other.content
    assert other.json()["code"] == "idempotency_key_reused"
    assert other.json()["detail"] == "This Idempotency-Key was already used for another booking."
    assert Appointment.objects.count() == 1
