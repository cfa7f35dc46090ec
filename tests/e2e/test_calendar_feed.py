"""The expert finds their calendar address on the dashboard, copies it, and replaces it with a
new one: the old address stops answering at once."""

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.utils import timezone
from icalendar import Calendar

from tests.conftest import build_practice, sign_in_to_admin

pytestmark = pytest.mark.browser

TEXTS = {
    "fr": {"copy": "Copier", "copied": "Copié", "new": "Nouvelle adresse",
           "done": "Votre agenda a une nouvelle adresse"},
    "en": {"copy": "Copy", "copied": "Copied", "new": "New address",
           "done": "Your calendar has a new address"},
}


@pytest.fixture
def feed_site(live_server, make_expert, make_user):
    from wagtail.models import Site

    from modules.booking.models import Appointment

    Site.objects.all().delete()
    practice = build_practice("localhost", urlsplit(live_server.url).port, name="Cabinet Lumière",
                              theme="atelier", slug="home-feed")
    expert, _page, _en = make_expert(practice, "Sophie Laurent")
    expert.user.set_password("expert-password-2026")
    expert.user.save()
    client = make_user(email="camille@example.test", first_name="Camille", last_name="Martin")
    starts = timezone.now().replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
    confirmed = Appointment.objects.create(
        site=practice.site, expert=expert, client=client, mode="chat", product="long", starts_at=starts,
        ends_at=starts + timedelta(minutes=30), minutes=30, unit_price=5500, currency="EUR",
        state=Appointment.State.CONFIRMED)
    return live_server.url, expert, confirmed


def sign_in(tab, url, expert):
    sign_in_to_admin(tab, url, expert.user.email, "expert-password-2026")


def feed_status(context, url):
    response = context.request.get(url)
    return response.status, response.body()


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_expert_copies_the_address_and_replaces_it(feed_site, browser, guard, language):
    from wagtail.users.models import UserProfile

    url, expert, confirmed = feed_site
    profile = UserProfile.get_for_user(expert.user)
    profile.preferred_language = language
    profile.save()
    texts = TEXTS[language]
    context = browser.new_context(locale="fr-FR" if language == "fr" else "en-GB")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url)
    tab = context.new_page()
    guard(tab)
    sign_in(tab, url, expert)

    field = tab.locator("[data-cabinet-feed-url]")
    old_url = field.input_value()
    assert old_url.startswith(f"{url}/booking/calendar/") and old_url.endswith(".ics")
    webcal = tab.locator("[data-cabinet-feed-webcal]").get_attribute("href")
    assert webcal == "webcal://" + old_url.split("://", 1)[1]
    status, body = feed_status(context, old_url)
    assert status == 200
    events = Calendar.from_ical(body).walk("VEVENT")
    assert [str(e["uid"]) for e in events] == [f"{confirmed.code}@cabinet"]

    panel = tab.locator("[data-cabinet-feed]")
    panel.get_by_role("button", name=texts["copy"], exact=True).click()
    status_line = panel.locator("[data-cabinet-copy-status]")
    status_line.filter(has_text=texts["copied"]).wait_for()
    assert tab.evaluate("navigator.clipboard.readText()") == old_url

    panel.get_by_role("button", name=texts["new"]).click()
    tab.wait_for_url(f"{url}/admin/")
    assert texts["done"] in tab.locator(".messages").inner_text()
    new_url = tab.locator("[data-cabinet-feed-url]").input_value()
    assert new_url != old_url and new_url.startswith(f"{url}/booking/calendar/")
    assert feed_status(context, old_url)[0] == 404  # at once
    status, body = feed_status(context, new_url)
    assert status == 200 and confirmed.code.encode() in body
    context.close()


def test_without_the_clipboard_api_the_address_is_selected_for_the_keyboard(feed_site, browser, guard):
    url, expert, _confirmed = feed_site
    context = browser.new_context(locale="fr-FR")
    # As on a page served over plain http: no navigator.clipboard.
    context.add_init_script("Object.defineProperty(navigator, 'clipboard', {value: undefined});")
    tab = context.new_page()
    guard(tab)
    sign_in(tab, url, expert)
    panel = tab.locator("[data-cabinet-feed]")
    panel.get_by_role("button", name="Copier", exact=True).click()
    # "Copié" (the old way worked) or "Appuyez sur Ctrl+C...": either way, the address is selected.
    tab.wait_for_function("document.querySelector('[data-cabinet-copy-status]').textContent.length > 0")
    assert panel.locator("[data-cabinet-copy-status]").inner_text() in (
        "Copié", "Appuyez sur Ctrl+C (⌘+C sur Mac) pour copier l’adresse sélectionnée")
    selected = tab.evaluate("""() => { const f = document.querySelector('[data-cabinet-feed-url]');
        return [document.activeElement === f, f.selectionStart, f.selectionEnd, f.value.length]; }""")
    assert selected[0] and selected[1] == 0 and selected[2] == selected[3] > 0
    context.close()
