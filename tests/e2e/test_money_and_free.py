"""In Chromium: an expert types a price in euros in the admin and the public pages show it in
each language; a client books a free consultation from start to end with no payment step."""

from datetime import time
from urllib.parse import urlsplit

import pytest
import recurrence
from django.core import mail

from tests.conftest import build_practice

pytestmark = pytest.mark.browser


@pytest.fixture
def priced_site(live_server, make_expert):
    from wagtail.models import Site

    from modules.booking.models import AvailabilityRule, Offering

    Site.objects.all().delete()
    practice = build_practice("localhost", urlsplit(live_server.url).port, name="Cabinet Lumière",
                              theme="atelier", slug="home-money")
    expert, page, page_en = make_expert(practice, "Sophie Laurent")
    expert.user.set_password("expert-password-2026")
    expert.user.save()
    offering = Offering.objects.create(expert=expert, mode="video", long_minutes=45, long_price=8000)
    AvailabilityRule.objects.create(expert=expert, recurrence=recurrence.deserialize("RRULE:FREQ=DAILY"),
                                    start_time=time(0), end_time=time(23, 59))
    return live_server.url, page, page_en, expert, offering


def test_an_expert_types_45_50_and_the_public_pages_show_it_in_each_language(priced_site, browser, guard):
    url, page, page_en, expert, offering = priced_site
    admin = browser.new_context(locale="fr-FR").new_page()
    guard(admin)
    admin.goto(f"{url}/admin/login/")
    admin.fill("#id_username", expert.user.email)
    admin.fill("#id_password", "expert-password-2026")
    admin.locator('button[type="submit"]').click()
    admin.wait_for_url(f"{url}/admin/")
    admin.goto(f"{url}/admin/booking_offerings/edit/{offering.pk}/")
    price = admin.locator("#id_long_price")
    assert price.input_value() == "80,00"
    assert "€" in price.locator("xpath=ancestor::span[@class='money-input']").inner_text()
    assert "cents" not in admin.content() and "centimes" not in admin.content()
    price.fill("45,50")
    admin.locator("footer button.button-longrunning[type=submit]").first.click()
    admin.wait_for_url(f"{url}/admin/booking_offerings/")
    assert "45,50\u00a0€" in admin.locator("table.listing").inner_text()
    offering.refresh_from_db()
    assert offering.long_price == 4550

    visitor = browser.new_context(locale="fr-FR").new_page()
    guard(visitor)
    visitor.goto(f"{url}{page.url}")
    assert "45,50\u00a0€" in visitor.locator(".consultations").inner_text()
    visitor.goto(f"{url}{page_en.url}")
    assert "€45.50" in visitor.locator(".consultations").inner_text()
    admin.context.close()
    visitor.context.close()


def test_a_client_books_a_free_consultation_with_no_payment_step(priced_site, browser, guard, make_user):
    from modules.booking.models import Appointment
    from site_core.payments.models import Order

    url, page, _page_en, _expert, offering = priced_site
    offering.short_minutes, offering.free_products = 20, ["short"]
    offering.save()
    camille = make_user(email="camille@example.test", first_name="Camille", last_name="Martin")
    camille.set_password("client-password-2026")
    camille.save()
    tab = browser.new_context(locale="fr-FR", timezone_id="Europe/Paris").new_page()
    guard(tab)
    tab.goto(f"{url}/accounts/login/")
    tab.fill('input[name="login"]', camille.email)
    tab.fill('input[name="password"]', "client-password-2026")
    tab.locator('form button[type="submit"]').last.click()
    tab.goto(f"{url}{page.url}")
    assert "gratuit" in tab.locator(".consultations").inner_text()
    tab.locator(f'a[href="/booking/{page.pk}/"]').click()
    tab.locator('input[name="mode"][value="video"]').check()
    tab.locator('input[name="when"][value="appointment"]').check()
    tab.locator('form.booking__form button[type="submit"]').click()
    free = tab.locator('input[name="product"][value="short"]')
    assert "Gratuit" in free.locator("xpath=..").inner_text()
    free.check()
    tab.locator('form.booking__form button[type="submit"]').click()
    tab.locator('input[name="starts_at"]').first.check()
    tab.locator('form.booking__form button[type="submit"]').click()
    summary = tab.locator(".booking__summary").inner_text()
    assert "Gratuit" in summary
    assert "Paiement" not in tab.locator(".steps").inner_text()
    tab.get_by_role("button", name="Confirmer la réservation").click()
    tab.wait_for_url("**/booking/done/**")
    appointment = Appointment.objects.get()
    assert appointment.code in tab.locator(".reservation-code").inner_text()
    assert appointment.state == Appointment.State.CONFIRMED and appointment.order_id is None
    assert not Order.objects.exists()
    assert "Gratuit" in tab.locator(".summary").inner_text()
    assert any(camille.email in m.to and appointment.code in m.body for m in mail.outbox)
    tab.context.close()
