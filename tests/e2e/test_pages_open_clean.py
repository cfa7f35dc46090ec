"""Every page a client or an administrator reads about a paid booking opens in Chromium without a
broken asset or a console error, in French and English: the receipt, the reservation page, the
portal and profile, the admin's lists and inspect views of appointments and payments. Each shows
what happened to the money (issue 9, items 3 and the habit)."""

from datetime import time, timedelta
from urllib.parse import urlsplit

import pytest
import recurrence
from django.test import Client
from django.utils import timezone

from tests.conftest import build_practice
from tests.site_core.payments.drivers.test_card import TestCardDriver

pytestmark = pytest.mark.browser

PREFIX = {"fr": "", "en": "/en"}
PARTLY = {"fr": "Remboursé en partie (20,00\xa0€ sur 55,00\xa0€)", "en": "Partly refunded (€20.00 of €55.00)"}


@pytest.fixture
def paid_booking(live_server, make_expert, make_user, django_capture_on_commit_callbacks):
    """A 55 € package booked and paid with the test card, then refunded 20 € by the practice."""
    from wagtail.models import Site

    from modules.booking import services
    from modules.booking.models import AvailabilityRule, Offering
    from site_core.payments import services as payments
    from site_core.payments.models import Payment

    Site.objects.all().delete()
    practice = build_practice("localhost", urlsplit(live_server.url).port, name="Cabinet Lumière",
                              theme="atelier", slug="home-clean")
    expert, _page, _en = make_expert(practice, "Sophie Laurent")
    Offering.objects.create(expert=expert, mode="chat", price_per_minute=250, long_minutes=30, long_price=5500)
    AvailabilityRule.objects.create(expert=expert, recurrence=recurrence.deserialize("RRULE:FREQ=DAILY"),
                                    start_time=time(0), end_time=time(23, 59))
    client = make_user(email="camille@example.test", first_name="Camille", last_name="Martin")
    starts = (timezone.now() + timedelta(days=2)).replace(hour=9, minute=0, second=0, microsecond=0)
    appointment = services.hold(services.BookingRequest(
        site=practice.site, expert=expert, client=client, mode="chat", product="long", starts_at=starts,
        language="fr", client_time_zone="America/Montreal"))
    buyer = Client()
    buyer.force_login(client)
    with django_capture_on_commit_callbacks(execute=True):
        TestCardDriver().pay(buyer, appointment.order)
    payment = Payment.objects.get(order=appointment.order)
    with django_capture_on_commit_callbacks(execute=True):
        payments.refund(payment, 2000, reason="goodwill")
    admin = make_user(email="boss@example.test", is_superuser=True, is_staff=True)
    return live_server.url, appointment, payment, client, admin


def signed_in_tab(browser, url, user, language):
    """A tab whose browser holds ``user``'s session (logged in through Django, as the login form would)."""
    from wagtail.users.models import UserProfile

    profile = UserProfile.get_for_user(user)
    profile.preferred_language = language
    profile.save()
    session = Client()
    session.force_login(user)
    context = browser.new_context(locale={"fr": "fr-FR", "en": "en-GB"}[language])
    context.add_cookies([{"name": "sessionid", "value": session.cookies["sessionid"].value, "url": url}])
    return context.new_page()


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_clients_pages_open_clean_and_say_partly_refunded(paid_booking, browser, guard, language):
    url, appointment, _payment, client, _admin = paid_booking
    tab = signed_in_tab(browser, url, client, language)
    guard(tab)
    prefix = PREFIX[language]
    for path in (f"/payments/paid/{appointment.order.public_id}/", f"/booking/done/{appointment.code}/",
                 "/portal/"):
        response = tab.goto(f"{url}{prefix}{path}")
        assert response.status == 200, path
        assert PARTLY[language] in tab.locator(".payment-status").first.inner_text(), path
    assert tab.goto(f"{url}{prefix}/portal/profile/").status == 200
    tab.context.close()


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_admins_lists_and_inspect_views_open_clean(paid_booking, browser, guard, language):
    url, appointment, payment, _client, admin = paid_booking
    tab = signed_in_tab(browser, url, admin, language)
    guard(tab)
    for path, shows_status in (("/admin/", False), ("/admin/appointments/", False),
                               (f"/admin/appointments/inspect/{appointment.pk}/", True),
                               ("/admin/payment_admin/", True),
                               (f"/admin/payment_admin/inspect/{payment.pk}/", True)):
        response = tab.goto(f"{url}{path}")
        assert response.status == 200, path
        if shows_status:
            assert PARTLY[language] in tab.locator("main").inner_text(), path
    tab.context.close()
