"""The expert's side of an unavailable time, in Chromium: "unavailable: call the client" shows
the client's phone to the expert; "propose another time" reaches the client by email, who
accepts from the link."""

import re
from datetime import time, timedelta
from urllib.parse import urlsplit

import pytest
import recurrence
from django.core import mail
from django.utils import timezone

from tests.conftest import build_practice

pytestmark = pytest.mark.browser

CLIENT_PHONE = "+33655555555"
PASSWORD = "expert-password-2026"


@pytest.fixture
def waiting_request(live_server, make_expert, make_user):
    """A practice on the live server, an expert open all day every day, and a paid request of a
    client (with a phone number) waiting for the expert's answer."""
    from wagtail.models import Site

    from modules.booking import availability, services
    from modules.booking.models import Appointment, AvailabilityRule, BookingSettings, Offering

    Site.objects.all().delete()
    practice = build_practice("localhost", urlsplit(live_server.url).port, name="Cabinet Lumière",
                              theme="atelier", slug="home-contact")
    rules = BookingSettings.for_site(practice.site)
    rules.requires_confirmation = True
    rules.save()
    expert, _page, _en = make_expert(practice, "Sophie Laurent")
    expert.user.set_password(PASSWORD)
    expert.user.save()
    Offering.objects.create(expert=expert, mode="chat", long_minutes=30, long_price=5500)
    AvailabilityRule.objects.create(expert=expert, recurrence=recurrence.deserialize("RRULE:FREQ=DAILY"),
                                    start_time=time(0), end_time=time(23, 59))
    client = make_user(email="camille@example.test", first_name="Camille", last_name="Martin",
                       phone=CLIENT_PHONE)
    now = timezone.now()
    starts_at = availability.free_slots(expert, "chat", 30, now + timedelta(days=1), now + timedelta(days=3),
                                        now)[0]
    appointment = services.hold(services.BookingRequest(site=practice.site, expert=expert, client=client,
                                                        mode="chat", product="long", starts_at=starts_at,
                                                        language="fr"))
    services.order_paid(appointment.order)
    appointment = Appointment.objects.get(pk=appointment.pk)
    assert appointment.state == Appointment.State.REQUESTED
    return live_server.url, expert, client, appointment


def expert_tab(browser, guard, url, expert):
    tab = browser.new_context(locale="fr-FR").new_page()
    guard(tab)
    tab.goto(f"{url}/admin/login/")
    tab.fill("#id_username", expert.user.email)
    tab.fill("#id_password", PASSWORD)
    tab.locator('button[type="submit"]').click()
    tab.wait_for_url(f"{url}/admin/")
    return tab


def test_the_unavailable_expert_sees_the_clients_phone(waiting_request, browser, guard):
    from modules.booking.models import Appointment

    url, expert, client, appointment = waiting_request
    tab = expert_tab(browser, guard, url, expert)
    assert CLIENT_PHONE not in tab.content()
    tab.goto(f"{url}/admin/appointments/inspect/{appointment.pk}/")
    assert CLIENT_PHONE not in tab.content()
    mail.outbox.clear()
    tab.locator('input[value="unavailable"] ~ button').click()
    tab.wait_for_url(f"**/admin/appointments/inspect/{appointment.pk}/")
    assert tab.locator("[data-cabinet-client-phone]").inner_text().strip() == CLIENT_PHONE
    assert tab.locator(f'a[href="tel:{CLIENT_PHONE}"]').count() == 1
    appointment.refresh_from_db()
    assert appointment.state == Appointment.State.DECLINED
    tab.goto(f"{url}/admin/")
    assert tab.locator(f'[data-cabinet-client-phone]:has-text("{CLIENT_PHONE}")').count() == 1
    (to_client,) = [m for m in mail.outbox if client.email in m.to]
    assert "vous contactera" in to_client.body and expert.user.email not in to_client.body
    assert re.search(r"Choisir un autre horaire: http://localhost:\d+/booking/\d+/", to_client.body)
    tab.context.close()


def test_the_expert_proposes_a_time_and_the_client_accepts_from_the_email(waiting_request, browser, guard):
    from modules.booking.models import Appointment, Proposal

    url, expert, client, appointment = waiting_request
    old_start = appointment.starts_at
    tab = expert_tab(browser, guard, url, expert)
    tab.goto(f"{url}/admin/appointments/inspect/{appointment.pk}/")
    tab.locator(f'a[href="/admin/appointments/propose/{appointment.pk}/"]').click()
    tab.wait_for_url(f"**/admin/appointments/propose/{appointment.pk}/")
    choice = tab.locator('input[name="starts_at"]').nth(3)
    chosen = choice.get_attribute("value")
    mail.outbox.clear()
    choice.check()
    tab.locator('form button[type="submit"]', has_text="Proposer cet horaire").click()
    tab.wait_for_url(f"**/admin/appointments/inspect/{appointment.pk}/*")
    assert tab.locator("[data-cabinet-proposal]").count() == 1
    proposal = Proposal.objects.get()
    assert proposal.starts_at.isoformat() == chosen and proposal.state == Proposal.State.PENDING

    (message,) = [m for m in mail.outbox if client.email in m.to]
    assert expert.user.email not in message.body
    link = re.search(r"Accepter le nouvel horaire \(un clic\): (http://\S+)", message.body)
    client_tab = browser.new_context(locale="fr-FR").new_page()
    guard(client_tab)
    client_tab.goto(link.group(1))
    proposal.refresh_from_db()
    assert proposal.state == Proposal.State.PENDING  # opening the link changes nothing
    client_tab.locator('button[value="accept"]').click()
    client_tab.wait_for_selector(".proposal-answer")
    assert "Vous avez accepté cet horaire" in client_tab.locator(".proposal-answer").inner_text()
    appointment.refresh_from_db()
    assert appointment.state == Appointment.State.CONFIRMED
    assert appointment.starts_at.isoformat() == chosen and appointment.starts_at != old_start
    client_tab.context.close()
    tab.context.close()
