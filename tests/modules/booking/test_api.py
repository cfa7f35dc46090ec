"""The booking API under /api/v1/, as a client program would call it, and fuzzed from its schema."""

from datetime import UTC, datetime

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from modules.booking.models import Appointment

NOW = datetime(2026, 11, 2, 7, 0, tzinfo=UTC)
SLOT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def frozen(monkeypatch):
    monkeypatch.setattr("django.utils.timezone.now", lambda: NOW)


def booking_body(**overrides):
    body = {"expert": "sophie-laurent", "mode": "chat", "product": "long", "starts_at": SLOT.isoformat()}
    body.update(overrides)
    return body


def test_schema_lists_the_endpoints(client, practice):
    schema = client.get("/api/v1/openapi.json").json()
    assert {"/api/v1/experts", "/api/v1/experts/{slug}/slots", "/api/v1/bookings"} <= set(schema["paths"])


def test_experts_offerings_and_slots(client, practice, expert_setup, frozen):
    experts = client.get("/api/v1/experts").json()
    assert experts == [{"slug": "sophie-laurent", "name": "Sophie Laurent", "specialty": "Spécialité de test",
                        "url": "/sophie-laurent/", "modes": ["chat", "phone", "video"]}]
    offerings = client.get("/api/v1/experts/sophie-laurent/offerings").json()
    chat = next(o for o in offerings if o["mode"] == "chat")
    assert {"product": "long", "price": 5500, "minutes": 30} in chat["products"]
    slots = client.get("/api/v1/experts/sophie-laurent/slots",
                       {"mode": "chat", "product": "long", "days": 1}).json()
    assert slots["minutes"] == 30 and slots["slots"][0].startswith("2026-11-02T08:00:00")
    bad = client.get("/api/v1/experts/sophie-laurent/slots", {"mode": "chat", "product": "per_minute"})
    assert bad.status_code == 400 and bad.json()["field"] == "budget_minutes"
    assert client.get("/api/v1/experts/nobody/slots", {"mode": "chat", "product": "long"}).status_code == 404


def test_create_read_cancel_with_idempotency(client, practice, expert_setup, client_user, frozen):
    client.force_login(client_user)
    first = client.post("/api/v1/bookings", booking_body(), content_type="application/json",
                        HTTP_IDEMPOTENCY_KEY="k-123")
    assert first.status_code == 201, first.content
    again = client.post("/api/v1/bookings", booking_body(), content_type="application/json",
                        HTTP_IDEMPOTENCY_KEY="k-123")
    assert again.status_code == 200 and again.json()["code"] == first.json()["code"]
    assert Appointment.objects.count() == 1
    code = first.json()["code"]
    assert first.json()["checkout_url"].startswith("/payments/checkout/")
    assert client.get(f"/api/v1/bookings/{code}").json()["state"] == "held"
    canceled = client.post(f"/api/v1/bookings/{code}/cancel")
    assert canceled.status_code == 200 and canceled.json()["state"] == "canceled"


def test_taken_slot_is_a_409_and_bad_input_a_400(client, practice, expert_setup, client_user, make_user, frozen):
    client.force_login(client_user)
    assert client.post("/api/v1/bookings", booking_body(), content_type="application/json").status_code == 201
    client.force_login(make_user())
    taken = client.post("/api/v1/bookings", booking_body(), content_type="application/json")
    assert taken.status_code == 409 and taken.json()["code"] == "slot_taken"
    past = client.post("/api/v1/bookings", booking_body(starts_at="2026-11-01T09:00:00+00:00"),
                       content_type="application/json")
    assert past.status_code == 400 and past.json()["field"] == "starts_at"
    phone = client.post("/api/v1/bookings", booking_body(mode="phone", product="per_minute", budget_minutes=10,
                                                         phone="123", starts_at="2026-11-02T13:00:00+00:00"),
                        content_type="application/json")
    assert phone.status_code == 400 and phone.json()["field"] == "phone"
    assert client.post("/api/v1/bookings", {"expert": 1}, content_type="application/json").status_code == 422
    assert Appointment.objects.count() == 1


def test_anonymous_and_other_clients_cannot_touch_a_booking(client, practice, expert_setup, client_user,
                                                            make_user, frozen):
    assert client.post("/api/v1/bookings", booking_body(), content_type="application/json").status_code == 401
    client.force_login(client_user)
    code = client.post("/api/v1/bookings", booking_body(), content_type="application/json").json()["code"]
    client.force_login(make_user())
    assert client.get(f"/api/v1/bookings/{code}").status_code == 404
    assert client.post(f"/api/v1/bookings/{code}/cancel").status_code == 404
    assert Appointment.objects.get(code=code).state == "held"


def test_api_is_off_where_booking_is_off(client, practice, expert_setup):
    practice.settings.enabled_modules = ["accounts"]
    practice.settings.save()
    assert client.get("/api/v1/experts").status_code == 404


@pytest.fixture
def wsgi_keeps_the_test_connection():
    """The raw WSGI handler closes database connections around each request (Django's test
    client turns that off): keep the test's connection, which holds its transaction."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def test_fuzzing_the_api_finds_no_server_error(practice, expert_setup, client_user, wsgi_keeps_the_test_connection):
    """Every operation of the schema, with inputs generated from it, as a logged-in client."""
    from django.core.wsgi import get_wsgi_application
    from django.test import Client

    browser = Client()
    browser.force_login(client_user)
    csrf = "fuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzz"  # 32 characters: a valid unmasked CSRF secret
    cookies = {"sessionid": browser.cookies["sessionid"].value, "csrftoken": csrf}
    headers = {"X-CSRFToken": csrf}
    api = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 6
    failures, seen = [], set()
    for operation, mode in [(op, mode) for op in operations for mode in GenerationMode]:
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case):
            response = case.call(headers=headers, cookies=cookies)
            seen.add(response.status_code)
            if response.status_code >= 500:
                failures.append((case.method, case.formatted_path, case.query, case.body, response.status_code))

        try:
            check()
        except Unsatisfiable:
            continue  # no negative input exists for an operation without parameters
    assert failures == []
    assert {200, 404, 422} <= seen, seen  # valid and invalid inputs reached the views, not only the guards
