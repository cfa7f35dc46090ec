"""The expert's private calendar feed: what it lists and how, its address on the dashboard,
and "new address", which retires the old one at once."""

from datetime import UTC, timedelta

import pytest
from bs4 import BeautifulSoup
from django.core import signing
from django.test import Client
from django.utils import timezone
from icalendar import Calendar

from modules.booking import notifications, services
from modules.booking.models import Appointment, BookingProfile

S = Appointment.State
NEW_ADDRESS = "/admin/booking/calendar-feed/new/"


def logged_in(user, **kwargs):
    http = Client(**kwargs)
    http.force_login(user)
    return http


def dashboard(http, **headers):
    response = http.get("/admin/", **headers)
    assert response.status_code == 200
    return BeautifulSoup(response.content.decode(), "html.parser")


def feed_url_on(soup):
    field = soup.find("input", attrs={"data-cabinet-feed-url": True})
    assert field is not None, "no calendar panel on the dashboard"
    return field["value"]


def path_of(url):
    return url.split("://testserver", 1)[1]


def current_path(expert):
    return f"/booking/calendar/{notifications.feed_token(expert, services.calendar_feed_key(expert))}.ics"


def events(body):
    """The feed's events by reservation code, parsed strictly (icalendar raises on bad input)."""
    calendar = Calendar.from_ical(body)
    assert str(calendar["version"]) == "2.0" and str(calendar["method"]) == "PUBLISH"
    return {str(event["uid"]).split("@")[0]: event for event in calendar.walk("VEVENT")}


def make_appointment(practice, expert, client, state, starts_at, **extra):
    return Appointment.objects.create(
        site=practice.site, expert=expert, client=client, mode="chat", product="long",
        starts_at=starts_at, ends_at=starts_at + timedelta(minutes=30), minutes=30, unit_price=5500,
        currency="EUR", state=state, **extra)


@pytest.fixture
def appointments(practice, expert_setup, client_user):
    """One appointment of Sophie's in each state, a day apart, from tomorrow on."""
    expert, _page = expert_setup
    start = timezone.now().replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
    return {state: make_appointment(practice, expert, client_user, state, start + timedelta(days=offset))
            for offset, state in enumerate(S)}


@pytest.fixture
def expert(appointments):
    return appointments[S.HELD].expert


@pytest.fixture
def colleague(practice, make_expert, make_user):
    """Marc, another expert of the practice, with a confirmed appointment of his own."""
    marc, _page, _en = make_expert(practice, "Marc Dubois")
    other_client = make_user(email="jules@example.test", first_name="Jules", last_name="Roy")
    make_appointment(practice, marc, other_client, S.CONFIRMED, timezone.now() + timedelta(days=3))
    return marc


# --- Services ----------------------------------------------------------------

def test_each_expert_has_a_key_of_their_own(expert, colleague):
    key, other = services.calendar_feed_key(expert), services.calendar_feed_key(colleague)
    assert len(key) >= 32 and key != other
    assert services.calendar_feed_key(expert) == key  # stable until "new address"


def test_a_new_address_retires_the_old_one(expert):
    old_token = notifications.feed_token(expert, services.calendar_feed_key(expert))
    assert notifications.feed_token(expert, services.calendar_feed_key(expert)) == old_token  # one address
    assert notifications.read_feed_token(old_token) == expert
    row = services.new_calendar_feed_address(expert)
    assert BookingProfile.objects.get(expert=expert).feed_key == row.feed_key
    new_token = notifications.feed_token(expert, services.calendar_feed_key(expert))
    assert new_token != old_token
    assert notifications.read_feed_token(old_token) is None
    assert notifications.read_feed_token(new_token) == expert


def test_the_first_address_makes_the_booking_profile(practice, make_expert):
    newcomer, _page, _en = make_expert(practice, "Nina Roux")
    assert not BookingProfile.objects.filter(expert=newcomer).exists()
    key = services.calendar_feed_key(newcomer)
    assert BookingProfile.objects.get(expert=newcomer).feed_key == key


def test_the_migration_gives_each_existing_profile_its_own_key(expert, colleague):
    """AddField computes a callable default once for all existing rows: the migration then
    gives each profile a key of its own."""
    import importlib

    from django.apps import apps

    migration = importlib.import_module("modules.booking.migrations.0004_calendar_feed_key")
    services.calendar_feed_key(expert), services.calendar_feed_key(colleague)
    BookingProfile.objects.update(feed_key="same-for-everyone")
    migration.one_key_per_profile(apps, None)
    keys = list(BookingProfile.objects.values_list("feed_key", flat=True))
    assert len(keys) == 2 and len(set(keys)) == 2 and "same-for-everyone" not in keys


# --- The feed ----------------------------------------------------------------

def test_the_feed_lists_requests_as_tentative_confirmed_and_completed_as_confirmed(client, appointments, expert):
    response = client.get(current_path(expert))
    assert response.status_code == 200 and response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Cache-Control"] == "private, no-cache"
    found = events(response.content)
    assert {code: str(event["status"]) for code, event in found.items()} == {
        appointments[S.REQUESTED].code: "TENTATIVE",
        appointments[S.CONFIRMED].code: "CONFIRMED",
        appointments[S.COMPLETED].code: "CONFIRMED",
    }  # never a hold (a client paying or gone), a declined, expired or canceled one


def test_a_slot_held_while_the_client_pays_is_not_in_the_feed(practice, expert_setup, client_user, client):
    from tests.site_core.payments.drivers.test_card import TestCardDriver

    expert, _page = expert_setup
    from modules.booking import availability

    now = timezone.now()
    starts = availability.free_slots(expert, "chat", 30, now + timedelta(hours=2), now + timedelta(days=8), now)[0]
    held = services.hold(services.BookingRequest(site=practice.site, expert=expert, client=client_user,
                                                 mode="chat", product="long", starts_at=starts))
    buyer = logged_in(client_user)
    TestCardDriver().start_without_completing(buyer, held.order)
    held.refresh_from_db()
    assert held.state == S.HELD
    assert events(client.get(current_path(expert)).content) == {}


def test_times_are_utc_and_the_client_is_named_by_first_name_only(client, appointments, expert):
    confirmed = appointments[S.CONFIRMED]
    Appointment.objects.filter(pk=confirmed.pk).update(phone="+33612345678", note="Mon divorce")
    body = client.get(current_path(expert)).content
    event = events(body)[confirmed.code]
    assert event.decoded("dtstart") == confirmed.starts_at and event.decoded("dtstart").utcoffset() == timedelta(0)
    assert f"DTSTART:{confirmed.starts_at.astimezone(UTC):%Y%m%dT%H%M%S}Z".encode() in body
    assert f"DTEND:{confirmed.ends_at.astimezone(UTC):%Y%m%dT%H%M%S}Z".encode() in body
    assert str(event["summary"]) == "Consultation (Chat) avec Camille M."  # the expert's language: French
    assert confirmed.code in str(event["description"])
    assert str(event["url"]).endswith(f"/admin/appointments/inspect/{confirmed.pk}/")
    for private in (b"camille@example.test", b"Martin", b"+33612345678", b"divorce", b"ATTENDEE"):
        assert private not in body
    requested = events(body)[appointments[S.REQUESTED].code]
    assert str(requested["summary"]).startswith("À confirmer : ")


def test_the_feed_speaks_the_experts_language(client, appointments, expert):
    expert.user.language = "en"
    expert.user.save()
    found = events(client.get(current_path(expert)).content)
    assert str(found[appointments[S.CONFIRMED].code]["summary"]) == "Consultation (Chat) with Camille M."
    assert str(found[appointments[S.REQUESTED].code]["summary"]).startswith("To confirm: ")


def test_a_client_without_a_first_name_is_a_client(practice, expert_setup, make_user, client):
    expert, _page = expert_setup
    nameless = make_user(email="anonymous.person@example.test")
    row = make_appointment(practice, expert, nameless, S.CONFIRMED, timezone.now() + timedelta(days=1))
    body = client.get(current_path(expert)).content
    assert str(events(body)[row.code]["summary"]) == "Consultation (Chat) avec un client"
    assert b"anonymous.person" not in body


def test_the_feed_keeps_30_days_of_past_sessions(practice, expert, client_user, client):
    recent = make_appointment(practice, expert, client_user, S.COMPLETED, timezone.now() - timedelta(days=29))
    old = make_appointment(practice, expert, client_user, S.COMPLETED, timezone.now() - timedelta(days=31))
    found = events(client.get(current_path(expert)).content)
    assert recent.code in found and old.code not in found
    assert str(found[recent.code]["status"]) == "CONFIRMED"


def test_a_completed_session_in_an_email_calendar_file_is_confirmed(appointments):
    completed = Calendar.from_ical(notifications.ics_for([appointments[S.COMPLETED]]))
    assert [str(e["status"]) for e in completed.walk("VEVENT")] == ["CONFIRMED"]


def test_another_experts_address_gives_only_their_own_appointments(client, appointments, expert, colleague):
    mine = events(client.get(current_path(expert)).content)
    theirs = events(client.get(current_path(colleague)).content)
    assert len(theirs) == 1 and not set(theirs) & set(mine)
    assert set(theirs) == set(Appointment.objects.filter(expert=colleague).values_list("code", flat=True))
    assert all(code in {a.code for a in appointments.values()} for code in mine)


def test_a_wrong_forged_or_retired_token_answers_404(client, expert, colleague):
    key = services.calendar_feed_key(expert)
    retired = notifications.feed_token(expert, key)
    services.new_calendar_feed_address(expert)
    for token in (
        retired,  # before "new address"
        notifications.feed_token(colleague, key),  # someone else's key
        notifications.feed_token(expert, ""),
        signing.dumps({"e": expert.pk}, salt=notifications.FEED_SALT),  # the address of old, without a key
        signing.Signer(salt=notifications.FEED_SALT).sign(f"{expert.pk}-"),
        signing.Signer(salt=notifications.FEED_SALT).sign(f"x{expert.pk}-{services.calendar_feed_key(expert)}"),
        signing.Signer(salt="another.salt").sign(f"{expert.pk}-{services.calendar_feed_key(expert)}"),
        f"{expert.pk}-{services.calendar_feed_key(expert)}",  # the right key, unsigned
        notifications.feed_token(expert, services.calendar_feed_key(expert)) + "x",
        "not-a-token",
    ):
        response = client.get(f"/booking/calendar/{token}.ics")
        assert response.status_code == 404, token
        assert b"BEGIN:VCALENDAR" not in response.content
    assert client.get(current_path(expert)).status_code == 200


# --- The dashboard panel and "new address" -----------------------------------

def test_the_expert_finds_the_address_on_the_dashboard_and_replaces_it(appointments, expert):
    http = logged_in(expert.user, enforce_csrf_checks=True)
    soup = dashboard(http)
    old_url = feed_url_on(soup)
    assert feed_url_on(dashboard(http)) == old_url  # the same address on every visit
    assert old_url.startswith("http://testserver/booking/calendar/") and old_url.endswith(".ics")
    webcal = soup.find("a", attrs={"data-cabinet-feed-webcal": True})["href"]
    assert webcal == "webcal://" + old_url.split("://", 1)[1]
    assert soup.find("button", attrs={"data-cabinet-copy": "booking-feed-url"}).get_text(strip=True) == "Copier"
    assert appointments[S.CONFIRMED].code.encode() in Client().get(path_of(old_url)).content
    old_key = BookingProfile.objects.get(expert=expert).feed_key

    form = soup.find("form", attrs={"action": NEW_ADDRESS})
    token = form.find("input", attrs={"name": "csrfmiddlewaretoken"})["value"]
    response = http.post(form["action"], {"csrfmiddlewaretoken": token}, follow=True)
    assert response.status_code == 200
    assert "nouvelle adresse" in response.content.decode()  # the message, in French
    assert BookingProfile.objects.get(expert=expert).feed_key != old_key
    assert Client().get(path_of(old_url)).status_code == 404  # at once
    new_url = feed_url_on(BeautifulSoup(response.content.decode(), "html.parser"))
    assert new_url != old_url
    renewed = Client().get(path_of(new_url))
    assert renewed.status_code == 200 and appointments[S.CONFIRMED].code.encode() in renewed.content


def test_the_panel_is_in_english_for_an_english_admin(expert):
    from wagtail.users.models import UserProfile

    profile = UserProfile.get_for_user(expert.user)
    profile.preferred_language = "en"
    profile.save()
    soup = dashboard(logged_in(expert.user))
    panel = soup.find(attrs={"data-cabinet-feed": True})
    assert "Your consultations in your calendar" in panel.get_text()
    # One address whatever the admin's language (no /en/ prefix).
    assert feed_url_on(soup).startswith("http://testserver/booking/calendar/")
    assert panel.find("button", attrs={"data-cabinet-copy": True}).get_text(strip=True) == "Copy"
    assert panel.find("form").find("button").get_text(strip=True) == "New address"


def test_new_address_refused_without_the_csrf_token(expert):
    key = services.calendar_feed_key(expert)
    response = logged_in(expert.user, enforce_csrf_checks=True).post(NEW_ADDRESS)
    assert response.status_code == 403
    assert BookingProfile.objects.get(expert=expert).feed_key == key


def test_an_expert_only_ever_replaces_their_own_address(expert, colleague):
    key, colleague_key = services.calendar_feed_key(expert), services.calendar_feed_key(colleague)
    # Whatever the form says, the address replaced is the signed-in expert's.
    response = logged_in(colleague.user).post(NEW_ADDRESS, {"expert": expert.pk, "key": key})
    assert response.status_code == 302
    assert BookingProfile.objects.get(expert=expert).feed_key == key
    assert BookingProfile.objects.get(expert=colleague).feed_key != colleague_key


def test_no_one_but_an_expert_gets_a_new_address(expert, make_user, client_user):
    key = services.calendar_feed_key(expert)
    anonymous = Client().post(NEW_ADDRESS)
    assert anonymous.status_code == 302 and "/admin/login/" in anonymous["Location"]
    a_client = logged_in(client_user).post(NEW_ADDRESS)  # no admin access: sent to the login page
    assert a_client.status_code == 302 and "/admin/login/" in a_client["Location"]
    superuser = logged_in(make_user(is_superuser=True, is_staff=True))
    assert superuser.post(NEW_ADDRESS, {"expert": expert.pk}).status_code == 403  # no feed of their own
    assert logged_in(expert.user).get(NEW_ADDRESS).status_code == 405  # a GET changes nothing
    assert BookingProfile.objects.get(expert=expert).feed_key == key


def test_the_panel_is_for_experts_only(expert, make_user):
    superuser = logged_in(make_user(is_superuser=True, is_staff=True))
    assert dashboard(superuser).find(attrs={"data-cabinet-feed": True}) is None
    expert_page = dashboard(logged_in(expert.user))
    assert expert_page.find(attrs={"data-cabinet-feed": True}) is not None
    assert expert_page.find("script", attrs={"src": lambda src: src and "booking/calendar_feed.js" in src})


def test_no_panel_nor_feed_where_booking_is_off(practice, expert, client):
    path = current_path(expert)
    practice.settings.enabled_modules = ["accounts"]
    practice.settings.save()
    soup = dashboard(logged_in(expert.user))
    assert soup.find(attrs={"data-cabinet-feed": True}) is None
    assert logged_in(expert.user).post(NEW_ADDRESS).status_code == 403
    assert client.get(path).status_code == 404
