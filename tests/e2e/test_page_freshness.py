"""What anonymous visitors see changes at once, in Chromium, with the page cache on: an administrator
changes a price in the admin; the expert clicks Pause, Back from break and Available now on their
dashboard."""

from urllib.parse import urlsplit

import pytest

from tests.conftest import build_practice, sign_in_to_admin

pytestmark = pytest.mark.browser

ADMIN_PASSWORD = "admin-password-2026"
EXPERT_PASSWORD = "expert-password-2026"


@pytest.fixture
def fresh_site(live_server, make_expert, make_user, settings):
    from wagtail.models import Site

    from modules.booking.models import Offering

    settings.CABINET_PAGE_CACHE_SECONDS = 300
    Site.objects.all().delete()
    practice = build_practice("localhost", urlsplit(live_server.url).port, name="Cabinet Lumière",
                              theme="atelier", slug="home-fresh")
    expert, _page, _en = make_expert(practice, "Sophie Laurent")
    expert.user.set_password(EXPERT_PASSWORD)
    expert.user.save()
    offering = Offering.objects.create(expert=expert, mode="chat", price_per_minute=250, instant_rate=300)
    admin = make_user(email="admin@cabinet.test", password=ADMIN_PASSWORD, is_superuser=True, is_staff=True)
    return live_server.url, expert, offering, admin


log_in = sign_in_to_admin


def visit(tab, url):
    """Opens the page as an anonymous visitor; returns (page cache state, text of the consultations)."""
    response = tab.goto(url)
    assert response.status == 200
    return response.headers.get("x-cabinet-cache"), tab.locator("#section-consultations").inner_text()


def warmed(tab, url):
    """The visitor's copy comes from the cache before the change (else the test proves nothing)."""
    visit(tab, url)
    cache_state, text = visit(tab, url)
    assert cache_state == "hit"
    return text


def test_an_administrator_changes_a_price_and_the_anonymous_page_shows_it(fresh_site, browser, guard):
    url, _expert, offering, admin = fresh_site
    visitor = browser.new_context(locale="fr-FR").new_page()
    guard(visitor)
    assert "2,50" in warmed(visitor, f"{url}/sophie-laurent/")

    staff = browser.new_context(locale="fr-FR").new_page()
    guard(staff)
    log_in(staff, url, admin.email, ADMIN_PASSWORD)
    staff.goto(f"{url}/admin/booking_offerings/edit/{offering.pk}/")
    staff.fill("#id_price_per_minute", "3,20")  # typed in euros
    # The edit form's own "Save" (the sidebar also holds submit buttons, of other forms).
    staff.locator("main form[method='post'] button[type='submit']", has_text="Enregistrer").first.click()
    staff.wait_for_url(f"{url}/admin/booking_offerings/")
    offering.refresh_from_db()
    assert offering.price_per_minute == 320

    cache_state, text = visit(visitor, f"{url}/sophie-laurent/")
    assert cache_state == "miss"
    assert "3,20" in text and "2,50" not in text
    index = visitor.goto(f"{url}/experts/")
    assert "3,20" in visitor.locator(".expert-card").inner_text()
    assert index.status == 200
    staff.context.close()
    visitor.context.close()


def test_the_expert_pauses_comes_back_and_is_available_now_and_the_public_page_follows(
        fresh_site, browser, guard):
    from modules.booking.models import BookingProfile

    url, expert, _offering, _admin = fresh_site
    public = f"{url}/sophie-laurent/"
    visitor = browser.new_context(locale="fr-FR").new_page()
    guard(visitor)
    text = warmed(visitor, public)
    assert "Disponible maintenant" not in text and "En courte pause" not in text

    dashboard = browser.new_context(locale="fr-FR").new_page()
    guard(dashboard)
    log_in(dashboard, url, expert.user.email, EXPERT_PASSWORD)
    switches = dashboard.locator('form[action="/admin/appointments/switch/"]')

    switches.locator('button[value="pause"]').click()
    dashboard.wait_for_url(f"{url}/admin/")
    assert "En pause jusqu" in dashboard.locator("#booking-requests-title + form").inner_text()
    cache_state, text = visit(visitor, public)
    assert cache_state == "miss" and "En courte pause" in text

    warmed(visitor, public)
    switches.locator('button[value="back"]').click()
    dashboard.wait_for_url(f"{url}/admin/")
    assert BookingProfile.objects.get(expert=expert).paused_until is None
    cache_state, text = visit(visitor, public)
    assert cache_state == "miss"
    assert "En courte pause" not in text and "Disponible maintenant" not in text

    warmed(visitor, public)
    switches.locator('button[value="now"]').click()
    dashboard.wait_for_url(f"{url}/admin/")
    assert BookingProfile.objects.get(expert=expert).is_available_now()
    cache_state, text = visit(visitor, public)
    assert cache_state == "miss" and "Disponible maintenant" in text
    visitor.goto(f"{url}/experts/")
    assert "Disponible maintenant" in visitor.locator(".expert-card").inner_text()
    dashboard.context.close()
    visitor.context.close()
