"""Prices in the booking admin: typed and read in the currency, never in cents (CSRF enforced)."""

import pytest
from django.test import Client
from wagtail.users.models import UserProfile


@pytest.fixture
def expert_client(practice, expert_setup):
    expert, _page = expert_setup
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(expert.user)
    return expert, browser


def _post_with_token(browser, url, data):
    page = browser.get(url)
    assert page.status_code == 200
    return browser.post(url, {**data, "csrfmiddlewaretoken": page.cookies["csrftoken"].value
                              if "csrftoken" in page.cookies else browser.cookies["csrftoken"].value}), page


OFFERING = {"mode": "video", "enabled": "on", "price_per_minute": "0", "short_minutes": "15", "short_price": "0",
            "long_minutes": "45", "long_price": "0", "instant_rate": "0"}


@pytest.mark.parametrize(("language", "typed"), [("fr", "45,50"), ("en", "45.50"), ("en", "45,5")])
def test_an_expert_types_a_price_in_the_currency_in_the_admin(expert_client, language, typed):
    from modules.booking.models import Offering

    expert, browser = expert_client
    profile = UserProfile.get_for_user(expert.user)
    profile.preferred_language = language
    profile.save()
    offering = Offering.objects.get(expert=expert, mode="video")
    url = f"/admin/booking_offerings/edit/{offering.pk}/"
    response, form = _post_with_token(browser, url, {**OFFERING, "expert": expert.pk, "long_price": typed})
    assert "cents" not in form.content.decode() and "centimes" not in form.content.decode()
    assert response.status_code == 302
    offering.refresh_from_db()
    assert offering.long_price == 4550
    shown = browser.get(url).content.decode()
    assert f'value="{"45,50" if language == "fr" else "45.50"}"' in shown
    listing = browser.get("/admin/booking_offerings/").content.decode()
    assert ("45,50\u00a0€" if language == "fr" else "€45.50") in listing


@pytest.mark.parametrize(("language", "typed", "message"), [
    ("fr", "45,505", "Saisissez au plus 2 décimales."), ("en", "-1", "Enter an amount of zero or more."),
    ("en", "4 5", "no spaces"), ("fr", "1e9", "chiffres"), ("en", "150", "Enter at most €100.00."),
])
def test_a_bad_price_is_refused_and_nothing_is_written(expert_client, language, typed, message):
    from django.utils.html import escape

    from modules.booking.models import Offering

    expert, browser = expert_client
    profile = UserProfile.get_for_user(expert.user)
    profile.preferred_language = language
    profile.save()
    offering = Offering.objects.get(expert=expert, mode="chat")
    url = f"/admin/booking_offerings/edit/{offering.pk}/"
    response, _form = _post_with_token(browser, url, {
        **OFFERING, "mode": "chat", "expert": expert.pk, "price_per_minute": typed, "long_price": "55"})
    assert response.status_code == 200
    assert escape(message) in response.content.decode()
    offering.refresh_from_db()
    assert offering.price_per_minute == 250 and offering.long_price == 5500


@pytest.mark.parametrize(("language", "message"), [
    ("en", "A session paid by the minute cannot be free"), ("fr", "ne peut pas être gratuite")])
def test_the_free_tick_in_the_admin(expert_client, language, message):
    from modules.booking.models import Offering

    expert, browser = expert_client
    profile = UserProfile.get_for_user(expert.user)
    profile.preferred_language = language
    profile.save()
    offering = Offering.objects.get(expert=expert, mode="video")
    url = f"/admin/booking_offerings/edit/{offering.pk}/"
    refused, _form = _post_with_token(browser, url, {
        **OFFERING, "expert": expert.pk, "price_per_minute": "2", "long_price": "80", "free_products": "per_minute"})
    assert refused.status_code == 200 and message in refused.content.decode()
    offering.refresh_from_db()
    assert offering.free_products == []
    done, _form = _post_with_token(browser, url, {**OFFERING, "expert": expert.pk, "long_price": "80",
                                                 "short_minutes": "20", "free_products": "short"})
    assert done.status_code == 302
    offering.refresh_from_db()
    assert offering.free_products == ["short"] and ("short", 0, 20) in offering.products()
