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
    assert {"product": "long", "price": 5500, "price_display": "55,00\u00a0€", "free": False,
            "minutes": 30} in chat["products"]
    slots = client.get("/api/v1/experts/sophie-laurent/slots",
                       {"mode": "chat", "product": "long", "days": 1}).json()
    assert slots["minutes"] == 30 and slots["slots"][0].startswith("2026-11-02T08:00:00")
    bad = client.get("/api/v1/experts/sophie-laurent/slots", {"mode": "chat", "product": "per_minute"})
    assert bad.status_code == 400 and bad.json()["field"] == "budget_minutes"
    assert client.get("/api/v1/experts/nobody/slots", {"mode": "chat", "product": "long"}).status_code == 404


@pytest.mark.parametrize("language, specialty, url", [
    ("fr", "Spécialité de test", "/sophie-laurent/"),
    ("en", "Test specialty", "/en/sophie-laurent/"),
])
def test_experts_are_listed_in_the_clients_language_on_each_practice(client, practice, expert_setup, make_expert,
                                                                    language, specialty, url):
    """Each language has its own page tree: the English experts are not under the French root."""
    from tests.conftest import build_practice

    other = build_practice("autre.test", name="Autre Cabinet", default=False, slug="autre")
    make_expert(other, "Bruno Petit")

    here = client.get("/api/v1/experts", HTTP_ACCEPT_LANGUAGE=language)
    there = client.get("/api/v1/experts", HTTP_ACCEPT_LANGUAGE=language, HTTP_HOST="autre.test")

    assert here.status_code == there.status_code == 200
    assert here.json() == [{"slug": "sophie-laurent", "name": "Sophie Laurent", "specialty": specialty,
                            "url": url, "modes": ["chat", "phone", "video"]}]
    # Another practice lists its own experts only; Bruno sells nothing yet.
    assert [(e["slug"], e["specialty"], e["modes"]) for e in there.json()] == [("bruno-petit", specialty, [])]
    offerings = client.get("/api/v1/experts/sophie-laurent/offerings", HTTP_ACCEPT_LANGUAGE=language)
    assert offerings.status_code == 200 and {o["mode"] for o in offerings.json()} == {"chat", "phone", "video"}


def test_an_expert_without_an_english_page_is_still_found_by_slug_in_english(client, practice, expert_setup,
                                                                          make_expert, frozen):
    make_expert(practice, "Marc Dubois", translate=False)
    assert [e["slug"] for e in client.get("/api/v1/experts", HTTP_ACCEPT_LANGUAGE="en").json()] == [
        "sophie-laurent"]
    answer = client.get("/api/v1/experts/marc-dubois/offerings", HTTP_ACCEPT_LANGUAGE="en")
    assert answer.status_code == 200 and answer.json() == []
    assert client.get("/api/v1/experts/nobody/offerings", HTTP_ACCEPT_LANGUAGE="en").status_code == 404


def test_create_read_cancel_with_idempotency(client, practice, expert_setup, client_user, frozen):
    client.force_login(client_user)
    first = client.post("/api/v1/bookings", booking_body(), content_type="application/json",
                        HTTP_IDEMPOTENCY_KEY="k-123")
    assert first.status_code == 201, first.content
    again = client.post("/api/v1/bookings", booking_body(), content_type="application/json",
                        HTTP_IDEMPOTENCY_KEY="k-123")
    # The IETF Idempotency-Key draft: a retry gets the first request's result, marked as a replay.
    assert again.status_code == 201 and again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true" and not first.has_header("Idempotent-Replayed")
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


def post(client, body, **headers):
    return client.post("/api/v1/bookings", body, content_type="application/json", **headers)


def test_nul_characters_are_refused_not_a_server_error(client, practice, expert_setup, client_user, frozen):
    """PostgreSQL cannot store NUL: it gave 500s from the body, the path, the header."""
    assert client.get("/api/v1/experts/sophie%00laurent/offerings").status_code == 400
    assert client.get("/api/v1/experts/sophie-laurent/slots?mode=chat&product=long&start=%00").status_code == 400
    assert client.get("/sophie%00laurent/").status_code == 400  # pages too
    client.force_login(client_user)
    note = post(client, booking_body(note="hi\u0000there"))
    assert note.status_code == 422 and note.json()["field"] == "note"
    assert "NUL" in note.json()["detail"]
    assert post(client, booking_body(), HTTP_IDEMPOTENCY_KEY="k\x00").status_code == 400
    assert client.get("/api/v1/bookings/AB%00CD").status_code == 400
    assert not Appointment.objects.exists()


def test_an_idempotency_key_sent_with_another_booking_is_refused(client, practice, expert_setup, client_user,
                                                                 frozen):
    client.force_login(client_user)
    first = post(client, booking_body(), HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 201
    other = post(client, booking_body(mode="video", starts_at="2026-11-02T10:00:00+00:00"),
                 HTTP_IDEMPOTENCY_KEY="k-1")
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    long_key = post(client, booking_body(starts_at="2026-11-02T10:00:00+00:00"), HTTP_IDEMPOTENCY_KEY="x" * 81)
    assert long_key.status_code == 400 and long_key.json()["field"] == "idempotency_key"
    assert Appointment.objects.count() == 1


def test_bad_phone_zone_and_budget_are_refused(client, practice, expert_setup, client_user, frozen):
    client.force_login(client_user)
    phone = dict(mode="phone", product="per_minute", budget_minutes=10, starts_at="2026-11-02T13:00:00+00:00")
    blank = post(client, booking_body(**phone, phone="   "))
    assert blank.status_code == 400 and blank.json()["field"] == "phone"
    for name in ("Mars/Olympus", "Europe", "../../etc/passwd", "x" * 60):  # "Europe" is a folder on disk
        zone = post(client, booking_body(time_zone=name))
        assert zone.status_code == 400 and zone.json()["field"] == "time_zone", name
    true = post(client, booking_body(product="per_minute", budget_minutes=True))
    assert true.status_code == 422 and true.json()["field"] == "budget_minutes"
    assert not Appointment.objects.exists()
    good = post(client, booking_body(**phone, phone="06 12 34 56 78", time_zone="America/New_York"))
    assert good.status_code == 201, good.content
    stored = Appointment.objects.get()
    assert stored.phone == "+33612345678" and stored.client_time_zone == "America/New_York"


def test_errors_have_one_shape_in_the_clients_language(client, practice, expert_setup, client_user, frozen):
    client.force_login(client_user)
    invalid = post(client, {"expert": "sophie-laurent"}, HTTP_ACCEPT_LANGUAGE="en")
    body = invalid.json()
    assert invalid.status_code == 422 and isinstance(body["detail"], str) and body["code"] == "invalid"
    assert {fault["field"] for fault in body["errors"]} >= {"mode", "product", "starts_at"}
    garbled = client.post("/api/v1/bookings", "{not json", content_type="application/json")
    assert garbled.status_code == 400 and garbled.json()["code"] == "invalid"
    assert garbled.json()["detail"] == "Le corps de la requête n’est pas du JSON valide."  # French by default
    missing = client.get("/api/v1/bookings/ZZZZZZZZ", HTTP_ACCEPT_LANGUAGE="en")
    assert missing.status_code == 404 and missing.json() == {"detail": "Not found.", "code": "not_found",
                                                             "field": None}
    naive = post(client, booking_body(starts_at="2026-11-02T09:00:00"), HTTP_ACCEPT_LANGUAGE="en")
    assert naive.status_code == 400 and naive.json()["field"] == "starts_at" and "offset" in naive.json()["detail"]
    past = post(client, booking_body(starts_at="2026-11-01T09:00:00+00:00"), HTTP_ACCEPT_LANGUAGE="en")
    assert past.json()["detail"] == "This time has already passed."
    assert post(client, booking_body(starts_at="2026-11-01T09:00:00+00:00"),
                HTTP_ACCEPT_LANGUAGE="fr").json()["detail"] != "This time has already passed."
    client.logout()
    anonymous = client.get("/api/v1/bookings/ZZZZZZZZ", HTTP_ACCEPT_LANGUAGE="en").json()
    assert anonymous["code"] == "not_authenticated"


@pytest.mark.django_db(transaction=True)
def test_a_free_booking_answers_its_confirmed_state(client, practice, expert_setup, client_user, frozen):
    """Committed for real, as in production: the free order is paid as the hold commits."""
    from site_core.payments.models import PromoCode

    PromoCode.objects.create(site=practice.site, code="OFFERT", kind="percent", percent=100)
    client.force_login(client_user)
    response = post(client, booking_body(promo_code="offert"))
    assert response.status_code == 201
    assert response.json()["state"] == Appointment.objects.get().state == "confirmed"
    assert response.json()["total"] == 0 and response.json()["checkout_url"] is None


def test_listings_leave_out_modes_the_expert_turned_off(client, practice, expert_setup, frozen):
    from modules.booking import services

    expert, _page = expert_setup
    services.set_modes_off(expert, ["video"])
    assert client.get("/api/v1/experts").json()[0]["modes"] == ["chat", "phone"]
    offered = [o["mode"] for o in client.get("/api/v1/experts/sophie-laurent/offerings").json()]
    assert "video" not in offered and "chat" in offered


def test_expert_listing_runs_the_same_queries_for_one_or_many_experts(client, practice, expert_setup, make_expert,
                                                                      django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as one:
        assert len(client.get("/api/v1/experts").json()) == 1
    for name in ("Marc Dubois", "Amina Benali", "Luc Moreau"):
        make_expert(practice, name)
    with CaptureQueriesContext(connection) as four:
        assert len(client.get("/api/v1/experts").json()) == 4
    assert len(four.captured_queries) == len(one.captured_queries)


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
