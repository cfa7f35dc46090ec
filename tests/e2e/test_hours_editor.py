"""In Chromium, an expert sets Tuesday 09:00–12:00 and 14:00–18:00 by clicking, copies it to
Monday–Friday, closes next Friday and saves; an anonymous visitor then sees exactly those times
on the public booking page. In French and in English, with no broken asset, no console error
and no serious accessibility violation."""

from datetime import datetime, time, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from tests.conftest import build_practice, sign_in_to_admin
from tests.e2e.test_themes import serious_axe_violations

pytestmark = pytest.mark.browser

PARIS = ZoneInfo("Europe/Paris")

WORDS = {
    "fr": {"open": "Ouvert le mardi", "add": "Ajouter une plage le mardi",
           "copy": "Copier le mardi du lundi au vendredi", "add_date": "Ajouter une date", "save": "Enregistrer",
           "saved": "Vos horaires sont enregistrés", "monday": "Lundi", "prefix": "",
           "preview": "Voir les créneaux libres (sans enregistrer)"},
    "en": {"open": "Open on Tuesday", "add": "Add a range on Tuesday",
           "copy": "Copy Tuesday to Monday–Friday", "add_date": "Add a date", "save": "Save",
           "saved": "Your hours are saved", "monday": "Monday", "prefix": "/en",
           "preview": "Preview the free times (nothing saved)"},
}


@pytest.fixture
def hours_site(live_server, make_expert):
    from wagtail.models import Site

    from modules.booking.models import Offering

    Site.objects.all().delete()
    practice = build_practice("localhost", urlsplit(live_server.url).port, name="Salon Lumière",
                              theme="atelier", slug="home-hours")
    expert, page, page_en = make_expert(practice, "Inès Moreau")
    expert.user.set_password("expert-password-2026")
    expert.user.save()
    Offering.objects.create(expert=expert, mode="chat", long_minutes=30, long_price=4000)
    return live_server.url, expert, page, page_en


def expected_slots(now, closed_day):
    """Starts of a 30-minute consultation, Monday to Friday 09:00–12:00 and 14:00–18:00 in
    Paris except ``closed_day``, from an hour's notice to the horizon: 15 calendar days in
    Paris, today included (it ends at local midnight)."""
    found = {}
    first = now.astimezone(PARIS).date()
    horizon = datetime.combine(first + timedelta(days=15), time(0), tzinfo=PARIS)
    for n in range(17):
        day = first + timedelta(days=n)
        if day.weekday() >= 5 or day == closed_day:
            continue
        for opens, closes in ((time(9), time(12)), (time(14), time(18))):
            slot = datetime.combine(day, opens, tzinfo=PARIS)
            while slot + timedelta(minutes=30) <= datetime.combine(day, closes, tzinfo=PARIS):
                if now + timedelta(hours=1) <= slot < horizon:
                    found.setdefault(day.isoformat(), []).append(slot.strftime("%H:%M"))
                slot += timedelta(minutes=30)
    return found


@pytest.mark.parametrize("language", ["fr", "en"])
def test_an_expert_sets_their_week_by_clicking_and_a_visitor_sees_those_times(
        hours_site, browser, guard, axe_script, language):
    from modules.booking.models import AvailabilityException, AvailabilityRule

    url, expert, page_fr, page_en = hours_site
    words = WORDS[language]
    from wagtail.users.models import UserProfile

    profile = UserProfile.get_for_user(expert.user)
    profile.preferred_language = language
    profile.save()
    today = timezone.now().astimezone(PARIS).date()
    next_friday = today + timedelta(days=(4 - today.weekday()) % 7 or 7)

    context = browser.new_context(locale="fr-FR" if language == "fr" else "en-GB", timezone_id="Europe/Paris")
    tab = context.new_page()
    guard(tab)
    sign_in_to_admin(tab, url, expert.user.email, "expert-password-2026")
    tab.goto(f"{url}/admin/booking_hours/")
    tab.wait_for_url(f"**/admin/booking_hours/{expert.pk}/")
    assert tab.locator("legend", has_text=words["monday"]).count() == 1
    assert serious_axe_violations(tab, axe_script) == []

    # Tuesday on: a first range appears; set it, add a second one, all by the keyboard and mouse.
    assert not tab.locator("#id_available").is_checked()  # nothing set yet
    tab.get_by_label(words["open"]).check()
    assert tab.locator("#id_available").is_checked()  # opening a day takes appointments at set hours
    tab.fill("#id_day1-0-start", "09:00")
    tab.fill("#id_day1-0-end", "12:00")
    tab.get_by_role("button", name=words["add"]).click()
    assert tab.evaluate("document.activeElement.id") == "id_day1-1-start"
    tab.keyboard.type("1400")
    tab.fill("#id_day1-1-end", "18:00")
    tab.get_by_role("button", name=words["copy"]).click()
    for day in range(5):
        assert tab.locator(f"#id_on_{day}").is_checked()
        assert tab.locator(f'[data-day="{day}"] [data-summary]').inner_text() == "09:00–12:00, 14:00–18:00"
        assert [tab.input_value(f"#id_day{day}-{i}-{end}") for i in (0, 1) for end in ("start", "end")] == [
            "09:00", "12:00", "14:00", "18:00"]
    assert not tab.locator("#id_on_5").is_checked() and not tab.locator("#id_on_6").is_checked()
    # Preview before saving: the engine's free times for the week in the form, nothing written.
    tab.get_by_role("button", name=words["preview"]).click()
    tab.locator("[data-unsaved]").wait_for()
    next_tuesday = today + timedelta(days=(1 - today.weekday()) % 7 or 7)
    assert tab.locator(f'[data-date="{next_tuesday.isoformat()}"] time').count() == 14
    assert AvailabilityRule.objects.filter(expert=expert).count() == 0
    assert tab.input_value("#id_day4-1-end") == "18:00"
    # An overnight range shows "(+1)" as it is typed; removed again.
    tab.get_by_role("button", name=words["add"]).click()
    tab.fill("#id_day1-2-start", "22:00")
    tab.fill("#id_day1-2-end", "02:00")
    assert tab.locator("#id_day1-2-end").locator("xpath=ancestor::li").locator("[data-next-day]").is_visible()
    assert tab.locator('[data-day="1"] [data-summary]').inner_text() == "09:00–12:00, 14:00–18:00, 22:00–02:00 (+1)"
    tab.locator("#id_day1-2-end").locator("xpath=ancestor::li").locator("[data-remove]").click()
    # Closed next Friday.
    tab.get_by_role("button", name=words["add_date"]).click()
    tab.fill("#id_ov-0-first", next_friday.isoformat())
    if language == "en":
        # Enter in a field saves (not the first day's "Copy", the page's first submit button).
        tab.press("#id_ov-0-first", "Enter")
    else:
        tab.get_by_role("button", name=words["save"], exact=True).click()
    tab.locator(".messages").wait_for()
    assert words["saved"] in tab.locator(".messages").inner_text()
    # Wagtail fades its messages in: axe judges the contrast once they are fully shown.
    tab.wait_for_function("getComputedStyle(document.querySelector('.messages > ul')).opacity === '1'")
    assert AvailabilityRule.objects.filter(expert=expert).count() == 2
    closure = AvailabilityException.objects.get(expert=expert)
    assert closure.starts_at == datetime.combine(next_friday, time.min, tzinfo=PARIS)
    # The preview beside the editor: next Friday has no free time, the Monday after has all of them.
    friday = tab.locator(f'[data-date="{next_friday.isoformat()}"]')
    assert friday.locator("time").count() == 0
    monday = tab.locator(f'[data-date="{(next_friday + timedelta(days=3)).isoformat()}"] time')
    assert monday.all_inner_texts()[:1] == ["09:00"] and monday.count() == 14
    assert serious_axe_violations(tab, axe_script) == []
    # The closures form of the admin loads without a missing script either.
    tab.goto(f"{url}/admin/booking_exceptions/new/")
    context.close()

    # An anonymous visitor, in Paris, books chat by appointment: exactly those times.
    visitor = browser.new_context(locale="fr-FR" if language == "fr" else "en-GB",
                                  timezone_id="Europe/Paris").new_page()
    guard(visitor)
    page = page_fr if language == "fr" else page_en
    before = timezone.now()
    visitor.goto(f"{url}{words['prefix']}/booking/{page.pk}/")
    visitor.locator('input[name="mode"][value="chat"]').check()
    visitor.locator('input[name="when"][value="appointment"]').check()
    visitor.locator('form.booking__form button[type="submit"]').click()
    visitor.locator('input[name="product"][value="long"]').check()
    visitor.locator('form.booking__form button[type="submit"]').click()
    visitor.wait_for_url("**/time/")
    days = [href.split("=")[-1] for href in
            visitor.locator(".days__list a").evaluate_all("links => links.map(a => a.getAttribute('href'))")]
    shown = {}
    for day in days:
        visitor.goto(f"{url}{words['prefix']}/booking/{page.pk}/time/?day={day}")
        shown[day] = [t.strip() for t in visitor.locator(".slot span").all_inner_texts()]
    after = timezone.now()
    assert next_friday.isoformat() not in shown
    assert shown in (expected_slots(before, next_friday), expected_slots(after, next_friday))
    visitor.context.close()


def test_an_overlap_is_shown_on_its_field_to_a_screen_reader_and_nothing_is_saved(hours_site, browser, guard,
                                                                                  axe_script):
    from modules.booking.models import AvailabilityException, AvailabilityRule

    url, expert, _page, _page_en = hours_site
    context = browser.new_context(locale="fr-FR", timezone_id="Europe/Paris")
    tab = context.new_page()
    watched = guard(tab)
    # The refused form answers 400 on purpose (Chromium logs that page's status as a console
    # error); every asset it loads is still checked by its own response.
    watched.allow(f"/admin/booking_hours/{expert.pk}/")
    watched.allow("the server responded with a status of 400")
    sign_in_to_admin(tab, url, expert.user.email, "expert-password-2026")
    tab.goto(f"{url}/admin/booking_hours/{expert.pk}/")
    tab.get_by_label("Ouvert le mardi").check()
    tab.fill("#id_day1-0-start", "09:00")
    tab.fill("#id_day1-0-end", "12:00")
    tab.get_by_role("button", name="Ajouter une plage le mardi").click()
    tab.fill("#id_day1-1-start", "11:00")
    tab.fill("#id_day1-1-end", "13:00")
    # The first range's modes, folded under "Pour tous les modes": opened by the keyboard, video off.
    first = tab.locator("#id_day1-0-start").locator("xpath=ancestor::li")
    first.locator("summary").focus()
    tab.keyboard.press("Enter")
    first.get_by_label("Vidéo").uncheck()
    assert first.locator("[data-modes-summary]").inner_text() == "Chat, Téléphone"
    tab.get_by_role("button", name="Enregistrer", exact=True).click()
    tab.locator(".error-message").first.wait_for()
    start = tab.locator("#id_day1-1-start")
    assert start.get_attribute("aria-invalid") == "true"
    described = start.get_attribute("aria-describedby")
    assert tab.locator(f"#{described}").inner_text() == "Cette plage chevauche 09:00–12:00."
    assert "Rien n’a été enregistré" in tab.locator(".messages").inner_text()
    tab.wait_for_function("getComputedStyle(document.querySelector('.messages > ul')).opacity === '1'")
    assert serious_axe_violations(tab, axe_script) == []
    assert not AvailabilityRule.objects.filter(expert=expert).exists()
    assert not AvailabilityException.objects.filter(expert=expert).exists()
    context.close()
