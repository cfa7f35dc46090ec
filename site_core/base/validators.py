"""Input checks shared by every form that asks for the same thing."""

import zoneinfo
from functools import cache

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _


def normalize_phone(value, region=None):
    """A phone number in E.164 (+33612345678), or ValidationError.

    National numbers are read in ``region`` (by default the practice's country); international
    ones (+...) as is. Letters and more than 32 characters are refused.
    """
    from site_core.base.phones import MAX_TYPED, practice_region

    value = str(value or "").strip()
    if not value:
        return ""
    try:
        number = phonenumbers.parse(value, region or practice_region()) if len(value) <= MAX_TYPED else None
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number) or any(c.isalpha() for c in value):
        raise ValidationError(_("Enter a valid phone number, e.g. +33 6 12 34 56 78."), code="phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@cache
def time_zones() -> frozenset[str]:
    """Every IANA time zone name this machine knows, read once."""
    return frozenset(zoneinfo.available_timezones()) | {"UTC"}


def is_time_zone(value) -> bool:
    """Whether ``value`` names an IANA time zone ("Europe/Paris"). Checked against the
    zone list, never by opening a file named after client input."""
    return isinstance(value, str) and value in time_zones()
