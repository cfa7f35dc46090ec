"""One money field everywhere: amounts typed and read in the currency, stored in minor units."""

import pytest
from django.utils import translation

from site_core.base.forms import MoneyField, MoneyInput
from site_core.base.money import Money


def clean(text, currency="EUR", **kwargs):
    return MoneyField(currency=currency, **kwargs).clean(text)


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize(("typed", "stored"), [
    ("45", 4500), ("45,5", 4550), ("45.50", 4550), ("0,05", 5), (" 45,50 ", 4550), ("45,50 €", 4550),
    ("€45.50", 4550), ("0", 0),
])
def test_either_separator_is_read_in_either_language(language, typed, stored):
    with translation.override(language):
        assert clean(typed) == stored


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize(("typed", "message"), [
    ("-1", "zero or more"), ("4 5", "no spaces"), ("abc", "digits"), ("1e9", "digits"),
    ("45,505", "at most 2 decimals"), ("1.000,50", "digits"), ("1,000.50", "digits"),
    ("1000000", "at most"),
])
def test_bad_amounts_are_refused_with_a_message(language, typed, message):
    from django.core.exceptions import ValidationError

    with translation.override("en"):
        with pytest.raises(ValidationError) as refused:
            clean(typed)
        assert message in refused.value.messages[0]
    with translation.override("fr"), pytest.raises(ValidationError) as refused_fr:
        clean(typed)
    assert refused_fr.value.messages[0] != refused.value.messages[0]  # said in French too


def test_the_french_messages_read_in_french():
    from django.core.exceptions import ValidationError

    with translation.override("fr"), pytest.raises(ValidationError) as refused:
        clean("45,505")
    assert refused.value.messages == ["Saisissez au plus 2 décimales."]
    with translation.override("fr"), pytest.raises(ValidationError) as refused:
        clean("200", max_major=100)
    assert refused.value.messages == ["Saisissez au plus 100,00\u00a0€."]


def test_a_currency_without_decimals_takes_whole_amounts_only():
    from django.core.exceptions import ValidationError

    assert clean("4500", currency="JPY") == 4500
    with translation.override("en"), pytest.raises(ValidationError) as refused:
        clean("45,50", currency="JPY")
    assert "no decimals" in refused.value.messages[0]


def test_the_widget_shows_the_amount_as_the_language_writes_it():
    widget = MoneyInput(currency="EUR")
    with translation.override("fr"):
        html = widget.render("price", 4550)
        assert 'value="45,50"' in html and html.index("45,50") < html.index("€")
        assert Money(4550, "EUR").format() == "45,50\u00a0€"
    with translation.override("en"):
        html = widget.render("price", 4550)
        assert 'value="45.50"' in html and html.index("€") < html.index("45.50")
        assert Money(4550, "EUR").format() == "€45.50"
    assert 'value="4500"' in MoneyInput(currency="JPY").render("price", 4500)
    assert 'value="45,5x"' in MoneyInput(currency="EUR").render("price", "45,5x")  # shown back as typed
