"""Amounts of money: integers in the currency's minor unit, plus the currency.

Never floats. 12,50 € is ``Money(1250, "EUR")``; 500 ¥ is ``Money(500, "JPY")``
(the yen has no minor unit). Prices, captures, refunds, commissions and
ledger entries all use this one type.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from babel.numbers import format_currency

# ISO 4217 exponents that are not 2.
_EXPONENTS = {"JPY": 0, "KRW": 0, "CLP": 0, "VND": 0, "ISK": 0, "XOF": 0, "XAF": 0, "BHD": 3, "KWD": 3, "TND": 3}


def exponent(currency: str) -> int:
    return _EXPONENTS.get(currency.upper(), 2)


class CurrencyMismatch(ValueError):
    pass


@dataclass(frozen=True, order=False)
class Money:
    amount: int
    currency: str

    def __post_init__(self):
        if not isinstance(self.amount, int) or isinstance(self.amount, bool):
            raise TypeError(f"Money amounts are integers in minor units, not {type(self.amount).__name__}")
        if len(self.currency) != 3 or not self.currency.isalpha() or not self.currency.isupper():
            raise ValueError(f"Not an ISO 4217 currency code: {self.currency!r}")

    @classmethod
    def zero(cls, currency):
        return cls(0, currency)

    @classmethod
    def from_decimal(cls, value, currency):
        """Money from a major-unit decimal ("12.50" EUR → 1250), rounded half up."""
        quantum = Decimal(1).scaleb(-exponent(currency))
        major = Decimal(str(value)).quantize(quantum, rounding=ROUND_HALF_UP)
        return cls(int(major.scaleb(exponent(currency))), currency)

    def to_decimal(self) -> Decimal:
        return Decimal(self.amount).scaleb(-exponent(self.currency))

    def _same(self, other):
        if not isinstance(other, Money):
            return NotImplemented
        if other.currency != self.currency:
            raise CurrencyMismatch(f"{self.currency} and {other.currency}")
        return other

    def __add__(self, other):
        other = self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other):
        other = self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __lt__(self, other):
        return self.amount < self._same(other).amount

    def __le__(self, other):
        return self.amount <= self._same(other).amount

    def __gt__(self, other):
        return self.amount > self._same(other).amount

    def __ge__(self, other):
        return self.amount >= self._same(other).amount

    def __mul__(self, factor: int):
        if not isinstance(factor, int):
            raise TypeError("Multiply money by an integer; use percent_of for rates")
        return Money(self.amount * factor, self.currency)

    def percent(self, basis_points: int) -> Money:
        """``basis_points``/10000 of this amount, rounded half up (1500 = 15 %)."""
        return Money(int((Decimal(self.amount) * basis_points / 10000).quantize(Decimal(1), ROUND_HALF_UP)), self.currency)

    def __bool__(self):
        return self.amount != 0

    def format(self, language=None) -> str:
        from site_core.base.local_time import babel_locale

        return format_currency(self.to_decimal(), self.currency, locale=babel_locale(language))

    def __str__(self):
        return self.format()


class MoneyInputError(ValueError):
    """What was typed is not an amount of this currency; ``args[0]`` says why, for a person."""


def parse_amount(text, currency: str) -> int:
    """Minor units from what a person typed in a money field: ``45``, ``45,5``, ``45.50``
    (either decimal separator, whatever the language), optionally with the currency's
    symbol or code around it ("45,50 €", "€45.50"). No thousands separator, no space inside
    the number, no sign, no more decimals than the currency has (none for JPY)."""
    from babel.numbers import get_currency_symbol
    from django.utils.translation import gettext as _

    from site_core.base.local_time import babel_locale

    value = str(text).strip().replace("\u00a0", " ").replace("\u202f", " ")
    for mark in sorted({get_currency_symbol(currency, locale=babel_locale()), currency, "€", "$", "£"},
                       key=len, reverse=True):
        if value.startswith(mark):
            value = value[len(mark):].strip()
        if value.endswith(mark):
            value = value[:-len(mark)].strip()
    if value.startswith("-"):
        raise MoneyInputError(_("Enter an amount of zero or more."))
    digits = exponent(currency)
    whole, separator, fraction = value.replace(",", ".", 1).partition(".")
    if not whole.isascii() or not whole.isdigit() or (separator and not (fraction.isascii() and fraction.isdigit())):
        if digits:
            raise MoneyInputError(_("Enter an amount such as 45 or 45,50: digits, and a comma or a point "
                                    "before the cents (no spaces, no thousands separator)."))
        raise MoneyInputError(_("Enter a whole amount such as 4500: digits only."))
    if len(fraction) > digits:
        if not digits:
            raise MoneyInputError(_("This currency has no decimals: enter a whole amount."))
        raise MoneyInputError(_("Enter at most %(digits)d decimals.") % {"digits": digits})
    return int(whole) * 10 ** digits + int((fraction or "0").ljust(digits, "0") or 0)


def input_text(amount: int, currency: str, language=None) -> str:
    """An amount as a money field shows it for editing: no symbol, no grouping, the
    language's decimal separator ("45,50" in French, "45.50" in English, "4500" for JPY)."""
    from babel.numbers import get_decimal_symbol

    from site_core.base.local_time import babel_locale

    digits = exponent(currency)
    shown = f"{Decimal(int(amount)).scaleb(-digits):.{digits}f}"
    return shown.replace(".", get_decimal_symbol(babel_locale(language))) if digits else shown


def practice_currency() -> str:
    """The currency of the practice whose site serves the current request (EUR outside a request)."""
    from site_core.base.context import practice_settings

    practice = practice_settings()
    return practice.currency if practice is not None else "EUR"
