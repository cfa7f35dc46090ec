"""The booking admin: experts see and answer their own requests, set their own prices and hours."""

from datetime import UTC, datetime

import pytest

from modules.booking import services
from modules.booking.models import Appointment, BookingSettings, Offering

MONDAY_10 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def request_for_sophie(practice, expert_setup, client_user, monkeypatch, django_capture_on_commit_callbacks):
    expert, _page = expert_setup
    monkeypatch.setattr("django.utils.timezone.now", lambda: datetime(2026, 10, 30, 9, 0, tzinfo=UTC))
    rules = BookingSettings.for_site(practice.site)
    rules.requires_confirmation = True
    rules.save()
    appointment = services.hold(services.BookingRequest(site=practice.site, expert=expert, client=client_user,
                                                        mode="chat", product="long", starts_at=MONDAY_10))
    services.order_paid(appointment.order)
    appointment.refresh_from_db()
    return appointment


@pytest.fixture
def colleague(practice, make_expert):
    expert, _page, _en = make_expert(practice, "Marc Dubois")
    return expert


def test_expert_sees_their_requests_and_confirms_one(client, request_for_sophie, colleague):
    appointment = request_for_sophie
    client.force_login(appointment.expert.user)
    listing = client.get("/admin/appointments/").content.decode()
    assert appointment.code in listing
    dashboard = client.get("/admin/")
    assert dashboard.status_code == 200  # dashboard with the requests panel
    assert "gravatar" not in dashboard.content.decode()  # no expert's email hash leaves the site
    pending = client.get("/admin/appointments/pending.json").json()
    assert [r["code"] for r in pending["requests"]] == [appointment.code]
    assert pending["requests"][0]["seconds_left"] == 24 * 3600
    assert client.get(f"/admin/appointments/inspect/{appointment.pk}/").status_code == 200
    response = client.post(f"/admin/appointments/act/{appointment.pk}/", {"action": "confirm"})
    assert response.status_code == 302
    appointment.refresh_from_db()
    assert appointment.state == Appointment.State.CONFIRMED


def test_colleague_cannot_see_or_answer_someone_elses_request(client, request_for_sophie, colleague):
    appointment = request_for_sophie
    client.force_login(colleague.user)
    assert appointment.code not in client.get("/admin/appointments/").content.decode()
    refused = client.get(f"/admin/appointments/inspect/{appointment.pk}/")
    assert refused.status_code in (302, 403, 404) and appointment.code not in refused.content.decode()
    assert client.post(f"/admin/appointments/act/{appointment.pk}/", {"action": "decline"}).status_code == 404
    assert client.get("/admin/appointments/pending.json").json()["requests"] == []
    appointment.refresh_from_db()
    assert appointment.state == Appointment.State.REQUESTED


def test_client_and_anonymous_are_kept_out(client, request_for_sophie, client_user):
    assert client.get("/admin/appointments/").status_code == 302
    client.force_login(client_user)
    assert client.get("/admin/appointments/").status_code in (302, 403)
    assert client.post(f"/admin/appointments/act/{request_for_sophie.pk}/", {"action": "confirm"}).status_code in (
        302, 403)


def test_expert_sets_their_own_prices_but_not_a_colleagues(client, practice, expert_setup, colleague):
    expert, _page = expert_setup
    client.force_login(expert.user)
    form = client.get("/admin/booking_offerings/new/").content.decode()
    assert colleague.name not in form
    response = client.post("/admin/booking_offerings/new/", {
        "expert": colleague.pk, "mode": "chat", "enabled": "on", "price_per_minute": "100",
        "short_minutes": "15", "short_price": "0", "long_minutes": "30", "long_price": "0", "instant_rate": "0"})
    assert response.status_code == 200  # the form refuses a colleague
    assert not Offering.objects.filter(expert=colleague).exists()
    offering = Offering.objects.get(expert=expert, mode="video")
    response = client.post(f"/admin/booking_offerings/edit/{offering.pk}/", {
        "expert": expert.pk, "mode": "video", "enabled": "on", "price_per_minute": "0", "short_minutes": "15",
        "short_price": "0", "long_minutes": "45", "long_price": "90", "instant_rate": "0"})
    assert response.status_code == 302
    offering.refresh_from_db()
    assert offering.long_price == 9000
    theirs = Offering.objects.create(expert=colleague, mode="chat", price_per_minute=100)
    refused = client.get(f"/admin/booking_offerings/edit/{theirs.pk}/")
    assert refused.status_code in (302, 403, 404) and "100" not in refused.content.decode()


def test_expert_switches_now_pause_and_back_from_the_dashboard(client, practice, expert_setup, colleague):
    from modules.booking.models import AvailabilityException, BookingProfile

    expert, _page = expert_setup
    client.force_login(expert.user)
    assert client.post("/admin/appointments/switch/", {"action": "now"}).status_code == 302
    profile = BookingProfile.objects.get(expert=expert)
    assert profile.is_available_now()
    assert AvailabilityException.objects.filter(expert=expert, kind="open").count() == 1
    client.post("/admin/appointments/switch/", {"action": "pause"})
    profile.refresh_from_db()
    assert profile.paused_until is not None and not profile.is_available_now()
    client.post("/admin/appointments/switch/", {"action": "back"})
    profile.refresh_from_db()
    assert profile.paused_until is None and profile.is_available_now()
    assert not BookingProfile.objects.filter(expert=colleague).exists()  # only their own


def test_switches_refuse_a_get_and_a_non_expert(client, practice, expert_setup, client_user):
    expert, _page = expert_setup
    client.force_login(expert.user)
    assert client.get("/admin/appointments/switch/").status_code in (302, 403)
    client.force_login(client_user)
    assert client.post("/admin/appointments/switch/", {"action": "now"}).status_code in (302, 403)
    from modules.booking.models import BookingProfile
    assert not BookingProfile.objects.filter(available_now_until__isnull=False).exists()


def test_client_portal_lists_their_consultations_only(client, request_for_sophie, client_user, make_user):
    client.force_login(client_user)
    body = client.get("/portal/").content.decode()
    assert request_for_sophie.code in body
    client.force_login(make_user())
    assert request_for_sophie.code not in client.get("/portal/").content.decode()


def test_opening_hours_read_as_days_hours_and_modes(client, practice, expert_setup):
    expert, _page = expert_setup
    client.force_login(expert.user)
    body = client.get(f"/admin/booking_hours/{expert.pk}/").content.decode()
    assert "Lundi" in body and "Dimanche" in body
    for day in range(6):  # Monday to Saturday, 09:00–12:00 and 14:00–18:00, every mode
        assert f'name="on_{day}" id="id_on_{day}" data-on checked' in body
        assert f'name="day{day}-0-start" value="09:00"' in body and f'name="day{day}-1-end" value="18:00"' in body
        assert f'name="day{day}-0-modes" value="video" id="id_day{day}-0-modes_1" checked' in body
    assert 'name="on_6" id="id_on_6" data-on>' in body


def test_an_expert_enters_holidays_in_their_own_time_zone(client, practice, make_expert):
    """A New York expert closes 24 December 00:00 to 26 December 00:00 New York time, though
    the admin runs in the practice's zone (Paris)."""
    from modules.booking.models import AvailabilityException

    expert, _page, _en = make_expert(practice, "Nina Park")
    expert.time_zone = "America/New_York"
    expert.save()
    client.force_login(expert.user)
    form = client.get("/admin/booking_exceptions/new/").content.decode()
    assert "America/New_York" in form  # the fields say which clock they read
    response = client.post("/admin/booking_exceptions/new/", {
        "expert": expert.pk, "kind": "closed", "starts_at": "2026-12-24 00:00", "ends_at": "2026-12-26 00:00",
        "note": "Christmas"})
    assert response.status_code == 302, response.content.decode()[:2000]
    closure = AvailabilityException.objects.get(expert=expert)
    assert closure.starts_at == datetime(2026, 12, 24, 5, 0, tzinfo=UTC)  # midnight in New York
    assert closure.ends_at == datetime(2026, 12, 26, 5, 0, tzinfo=UTC)
    edit = client.get(f"/admin/booking_exceptions/edit/{closure.pk}/").content.decode()
    assert "2026-12-24 00:00" in edit  # shown back on the expert's clock
