"""A new client books a consultation in Chromium, pays with the test card, gets the code and the
email; the expert confirms the request in the admin."""

import re
from datetime import datetime, time
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
import recurrence
from django.core import mail

from tests.conftest import build_practice

pytestmark = pytest.mark.browser


@pytest.fixture
def booking_site(live_server, make_expert):
    from wagtail.models import Site

    from modules.booking.models import AvailabilityRule, BookingSettings, Offering

    Site.objects.all().delete()
    practice = build_practice("localhost", urlsplit(live_server.url).port, name="Cabinet Lumière",
                              theme="atelier", slug="home-journey")
    rules = BookingSettings.for_site(practice.site)
    rules.requires_confirmation = True
    rules.save()
    expert, page, _en = make_expert(practice, "Sophie Laurent")
    expert.user.set_password("expert-password-2026")
    expert.user.save()
    Offering.objects.create(expert=expert, mode="chat", price_per_minute=250, long_minutes=30, long_price=5500)
    # Open every day, all day: there are free times whatever the hour the test runs.
    AvailabilityRule.objects.create(expert=expert, recurrence=recurrence.deserialize("RRULE:FREQ=DAILY"),
                                    start_time=time(0), end_time=time(23, 59))
    return live_server.url, page, expert


def test_new_client_books_pays_and_the_expert_confirms(booking_site, browser, guard):
    from modules.booking.models import Appointment

    url, expert_page, expert = booking_site
    # The client is in New York; the expert's hours are in Paris.
    page = browser.new_context(locale="fr-FR", timezone_id="America/New_York").new_page()
    guard(page)
    page.goto(f"{url}/sophie-laurent/")
    page.locator(f'a[href="/booking/{expert_page.pk}/"]').click()
    # Step 1: chat, by appointment.
    assert page.locator(".field--phone").is_visible()
    page.locator('input[name="mode"][value="chat"]').check()
    assert not page.locator(".field--phone").is_visible()  # asked only for phone sessions
    page.locator('input[name="when"][value="appointment"]').check()
    page.locator('form.booking__form button[type="submit"]').click()
    # Step 2: the 30-minute package, then the first free time (in the browser's zone).
    page.locator('input[name="product"][value="long"]').check()
    page.locator('form.booking__form button[type="submit"]').click()
    assert "(heure de New York)" in page.locator(".booking > p").first.inner_text()
    first_time = page.locator('input[name="starts_at"]').first
    shown = first_time.locator("xpath=..").inner_text().strip()  # "HH:MM" as the client sees it
    first_time.check()
    page.locator('form.booking__form button[type="submit"]').click()
    # Step 3: a new client creates their account inline (allauth's sign-up)...
    confirm_url = page.url
    page.fill("#id_first_name", "Léa")
    page.fill("#id_last_name", "Petit")
    page.fill("#id_email", "lea@example.test")
    page.fill("#id_password1", "a-long-enough-passphrase")
    page.fill("#id_password2", "a-long-enough-passphrase")
    page.locator('input[name="account"][value="signup"] ~ button[type="submit"]').click()
    # ...types the code emailed to confirm the address, and is back at step 3, logged in.
    page.wait_for_url("**/accounts/confirm-email/")
    assert not Appointment.objects.exists()  # nothing held before the address is confirmed
    [message] = [m for m in mail.outbox if m.to == ["lea@example.test"]]
    code = re.search(r"^\s*([A-Z0-9]{3,}(?:-[A-Z0-9]{3,})?)\s*$", message.body, re.MULTILINE).group(1)
    page.fill('input[name="code"]', code)
    page.locator('input[name="code"]').press("Enter")
    page.wait_for_url(confirm_url)
    assert "Sophie Laurent" in page.locator(".booking__summary").inner_text()
    page.locator('form.form button[type="submit"]').click()
    # Payment with the simulated card.
    page.locator('form[action*="/pay/test/"] button').click()
    page.locator('form button[type="submit"]').last.click()
    page.wait_for_url("**/booking/done/**")
    appointment = Appointment.objects.get()
    assert appointment.code in page.locator(".reservation-code").inner_text()
    assert appointment.state == Appointment.State.REQUESTED
    new_york = ZoneInfo("America/New_York")
    assert appointment.client_time_zone == "America/New_York"
    assert appointment.starts_at.astimezone(new_york).strftime("%H:%M") == shown
    assert f"{shown} (heure de New York)" in page.locator(".summary").inner_text()
    assert any("lea@example.test" in m.to and appointment.code in m.body for m in mail.outbox)

    # The expert confirms it in the admin.
    expert_tab = page.context.browser.new_context(locale="fr-FR").new_page()
    guard(expert_tab)
    expert_tab.goto(f"{url}/admin/login/")
    expert_tab.fill("#id_username", expert.user.email)
    expert_tab.fill("#id_password", "expert-password-2026")
    expert_tab.locator('button[type="submit"]').click()
    expert_tab.goto(f"{url}/admin/appointments/inspect/{appointment.pk}/")
    expert_tab.locator('input[value="confirm"] ~ button').click()
    expert_tab.wait_for_url(f"**/admin/appointments/inspect/{appointment.pk}/")
    appointment.refresh_from_db()
    assert appointment.state == Appointment.State.CONFIRMED
    expert_tab.context.close()
    page.context.close()


def test_a_time_taken_while_the_visitor_confirms_their_code_sends_them_back_with_choices_kept(
        booking_site, browser, guard, make_user):
    """In English: Léa signs up at step 3; while she reads the code, someone else books her time.
    After the code she is logged in, back at the times with a message, and books another."""
    from modules.booking import services
    from modules.booking.models import Appointment

    url, expert_page, expert = booking_site
    page = browser.new_context(locale="en-GB", timezone_id="Europe/Paris").new_page()
    guard(page)
    page.goto(f"{url}/en/booking/{expert_page.pk}/")
    page.locator('input[name="mode"][value="chat"]').check()
    page.locator('input[name="when"][value="appointment"]').check()
    page.locator('form.booking__form button[type="submit"]').click()
    page.locator('input[name="product"][value="long"]').check()
    page.locator('form.booking__form button[type="submit"]').click()
    first_time = page.locator('input[name="starts_at"]').first
    taken = first_time.get_attribute("value")
    first_time.check()
    page.locator('form.booking__form button[type="submit"]').click()
    confirm_url = page.url
    page.fill("#id_first_name", "Léa")
    page.fill("#id_last_name", "Petit")
    page.fill("#id_email", "lea@example.test")
    page.fill("#id_password1", "a-long-enough-passphrase")
    page.fill("#id_password2", "a-long-enough-passphrase")
    page.locator('input[name="account"][value="signup"] ~ button[type="submit"]').click()
    page.wait_for_url("**/en/accounts/confirm-email/")
    services.hold(services.BookingRequest(site=expert_page.get_site(), expert=expert, client=make_user(),
                                          mode="chat", product="long", starts_at=datetime.fromisoformat(taken)))
    [message] = [m for m in mail.outbox if m.to == ["lea@example.test"]]
    code = re.search(r"^\s*([A-Z0-9]{3,}(?:-[A-Z0-9]{3,})?)\s*$", message.body, re.MULTILINE).group(1)
    page.fill('input[name="code"]', code)
    page.locator('input[name="code"]').press("Enter")
    page.wait_for_url("**/time/")
    assert "The time you chose is no longer available" in page.locator(".messages").inner_text()
    assert page.locator(f'input[name="starts_at"][value="{taken}"]').count() == 0
    page.locator('input[name="starts_at"]').first.check()
    page.locator('form.booking__form button[type="submit"]').click()
    page.wait_for_url(confirm_url)
    assert "30 min" in page.locator(".booking__summary").inner_text()  # the package she chose, kept
    page.locator('form.form button[type="submit"]').click()
    page.wait_for_url("**/payments/checkout/**")
    mine = Appointment.objects.get(client__email="lea@example.test")
    assert mine.state == Appointment.State.HELD and mine.starts_at.isoformat() != taken
    page.context.close()


@pytest.mark.parametrize("language", ["fr", "en"])
def test_a_third_unpaid_hold_is_refused_with_the_message(booking_site, browser, guard, make_user, language):
    """A client already paying for two bookings (the practice's cap) logs in at step 3 of a third:
    refused with the message, nothing held (issue 13, item 3)."""
    from datetime import timedelta

    from django.utils import timezone

    from modules.booking import services
    from modules.booking.models import Appointment

    url, expert_page, expert = booking_site
    client = make_user(email="camille@example.test", password="camille-password-2026", first_name="Camille")
    start = (timezone.now() + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
    for hours in (0, 2):
        services.hold(services.BookingRequest(site=expert_page.get_site(), expert=expert, client=client,
                                              mode="chat", product="long", starts_at=start + timedelta(hours=hours)))
    prefix = "" if language == "fr" else "/en"
    page = browser.new_context(locale={"fr": "fr-FR", "en": "en-GB"}[language]).new_page()
    guard(page)
    page.goto(f"{url}{prefix}/booking/{expert_page.pk}/")
    page.locator('input[name="mode"][value="chat"]').check()
    page.locator('input[name="when"][value="appointment"]').check()
    page.locator('form.booking__form button[type="submit"]').click()
    page.locator('input[name="product"][value="long"]').check()
    page.locator('form.booking__form button[type="submit"]').click()
    page.locator('input[name="starts_at"]').last.check()
    page.locator('form.booking__form button[type="submit"]').click()
    login = page.locator('input[name="account"][value="login"]').locator("xpath=..")
    login.locator('input[name="login"]').fill("camille@example.test")
    login.locator('input[name="password"]').fill("camille-password-2026")
    login.locator('button[type="submit"]').click()
    expected = {"fr": "Vous avez déjà 2 réservations en attente de paiement",
                "en": "You already have 2 bookings waiting for payment"}[language]
    page.wait_for_load_state()
    assert expected in page.locator(".messages").inner_text()
    assert Appointment.objects.filter(client=client, state=Appointment.State.HELD).count() == 2
    page.context.close()
