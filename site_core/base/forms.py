"""Form fields the kernel and modules share.

``MoneyField`` and ``MoneyInput`` are the one way an amount of money is typed and read, in the
admin and on the site: the person sees "45,00 €" (French) or "€45.00" (English) and types
``45,5`` or ``45.50``; the form hands back integer minor units (site_core.base.money). Model fields
declared with ``site_core.base.fields.MoneyField`` get this form field everywhere a form is generated
from the model (Django model forms, Wagtail's model, snippet and settings forms).
"""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import get_currency_symbol
from django import forms
from django.core.exceptions import ValidationError
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from site_core.base.local_time import babel_locale
from site_core.base.money import (
    Money,
    MoneyInputError,
    exponent,
    input_text,
    parse_amount,
    practice_currency,
)

#: The largest amount a money field takes unless it says otherwise, in major units of a currency
#: with cents (100 000,00 €); a currency without decimals (JPY) takes a hundred times more units.
DEFAULT_MAX_MAJOR = 100_000


def max_minor(max_major, currency: str) -> int:
    digits = exponent(currency)
    return int(max_major) * 10 ** digits * (100 if digits == 0 else 1)


def _currency_of(value) -> str:
    value = value() if callable(value) else value
    return (value or practice_currency()).upper()


def _symbol_first(currency: str) -> bool:
    """Whether the language writes the symbol before the amount ("€45.00") or after ("45,00 €")."""
    shown = Money(100, currency).format()
    return not shown[:1].isdigit()


class MoneyInput(forms.TextInput):
    """A text box for an amount, with the currency's symbol on the side the language puts it
    ("€ [45.00]" in English, "[45,00] €" in French). Shows stored minor units as the language
    writes them, without grouping."""

    input_type = "text"

    def __init__(self, attrs=None, currency=None):
        attrs = {"inputmode": "decimal", "autocomplete": "off", "size": "10", **(attrs or {})}
        super().__init__(attrs)
        self.currency = currency

    def format_value(self, value):
        if value is None or value == "":
            return ""
        if isinstance(value, Money):
            return input_text(value.amount, value.currency)
        if isinstance(value, int):
            return input_text(value, _currency_of(self.currency))
        if isinstance(value, Decimal):
            currency = _currency_of(self.currency)
            return input_text(Money.from_decimal(value, currency).amount, currency)
        return str(value)  # what the person typed, shown back as typed

    def render(self, name, value, attrs=None, renderer=None):
        currency = _currency_of(self.currency)
        box = super().render(name, value, attrs, renderer)
        symbol = get_currency_symbol(currency, locale=babel_locale())
        if _symbol_first(currency):
            return format_html('<span class="money-input"><span class="money-input__symbol">{}</span> {}</span>',
                               symbol, box)
        return format_html('<span class="money-input">{} <span class="money-input__symbol">{}</span></span>',
                           box, symbol)


class MoneyField(forms.Field):
    """An amount typed in the currency (``currency``: a code, a callable, or None for the
    practice's), cleaned to integer minor units between ``min_amount`` and ``max_amount``
    (minor units; the highest by default ``max_major`` major units, see ``max_minor``)."""

    widget = MoneyInput
    default_error_messages = {
        "min": _("Enter at least %(amount)s."),
        "max": _("Enter at most %(amount)s."),
    }

    def __init__(self, *, currency=None, min_amount=0, max_amount=None, max_major=DEFAULT_MAX_MAJOR, **kwargs):
        self._currency = currency
        self.min_amount = min_amount
        self.max_amount = max_amount
        self.max_major = max_major
        super().__init__(**kwargs)
        self.widget.currency = currency

    @property
    def currency(self) -> str:
        return _currency_of(self._currency)

    @currency.setter
    def currency(self, value):
        self._currency = value
        self.widget.currency = value

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        try:
            return parse_amount(value, self.currency)
        except MoneyInputError as exc:
            raise ValidationError(str(exc), code="invalid") from None

    def validate(self, value):
        super().validate(value)
        if value is None:
            return
        currency = self.currency
        highest = self.max_amount if self.max_amount is not None else max_minor(self.max_major, currency)
        if value > highest:
            raise ValidationError(self.error_messages["max"], code="max",
                                  params={"amount": Money(highest, currency).format()})
        if value < self.min_amount:
            raise ValidationError(self.error_messages["min"], code="min",
                                  params={"amount": Money(self.min_amount, currency).format()})

