"""Phone numbers: stored in E.164 (+33612345678), read in the practice's country, shown in
national format to people of that country ("06 12 34 56 78") and international otherwise.

Built on django-phonenumber-field (itself on the phonenumbers library). Its region is fixed
when a field is declared; ours is the practice's country (PracticeSettings.country) of the
site serving the request, read when a number is typed or shown, so one code base serves a
French and a Swiss practice. Outside a request (tasks, migrations) the default is
``settings.CABINET_PHONE_REGION`` ("FR"); stored numbers are international anyway, so the
model field itself needs no practice (reading the practice's settings row, which has a phone
field too, would loop).
"""

from __future__ import annotations

import phonenumbers
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from phonenumber_field import formfields, modelfields, widgets
from phonenumber_field.phonenumber import PhoneNumber, to_python

#: 40 digits is no phone number: E.164 has at most 15, and people type a few spaces and dots.
MAX_TYPED = 32


def default_region() -> str:
    return getattr(settings, "CABINET_PHONE_REGION", "FR")


def practice_region() -> str:
    """The country of the practice whose site serves the current request (ISO 3166 alpha-2)."""
    from site_core.base.context import get_current_request, practice_settings

    practice = practice_settings() if get_current_request() is not None else None
    return (practice.country if practice is not None else "") or default_region()


def parse(value, region=None) -> PhoneNumber | None:
    """A valid PhoneNumber from what was typed or stored, or None (invalid, or empty)."""
    if isinstance(value, PhoneNumber):
        number = value
    else:
        text = str(value or "").strip()
        if not text or len(text) > MAX_TYPED:
            return None
        number = to_python(text, region=region or practice_region())
    return number if isinstance(number, PhoneNumber) and number.is_valid() else None


def shown(value, region=None) -> str:
    """A number as a person of the practice's country reads it: national format for a number of
    that country ("06 12 34 56 78"), international for others ("+41 22 123 45 67"); a stored
    value that is no valid number is shown as it is."""
    number = parse(value, region)
    if number is None:
        return str(value or "")
    region = region or practice_region()
    if phonenumbers.region_code_for_number(number) == region:
        return number.as_national
    return number.as_international


class _PracticeRegion:
    """``region``: the one given when built, else the practice's (read at each use)."""

    @property
    def region(self):
        return self._given_region or practice_region()

    @region.setter
    def region(self, value):
        self._given_region = value


class PhoneInput(_PracticeRegion, widgets.RegionalPhoneNumberWidget):
    """A tel box showing a number of the practice's country in national format."""

    def __init__(self, region=None, attrs=None):
        super().__init__(region=region, attrs={"autocomplete": "tel", **(attrs or {})})

    def format_value(self, value):
        number = parse(value, self.region)
        if number is None:
            return super().format_value(value)
        return shown(number, self.region)


class PhoneFormField(_PracticeRegion, formfields.PhoneNumberField):
    """A phone number typed nationally (read in the practice's country) or with its +prefix."""

    widget = PhoneInput
    default_error_messages = {"invalid": _("Enter a valid phone number, e.g. +33 6 12 34 56 78.")}

    def __init__(self, *args, region=None, widget=None, **kwargs):
        # A widget of ours given no region follows the practice's too (the base class would
        # fix the region it reads now).
        kwargs["widget"] = widget or PhoneInput(region=region)
        kwargs.setdefault("max_length", MAX_TYPED)
        kwargs["error_messages"] = {**(kwargs.get("error_messages") or {}),
                                    "invalid": self.default_error_messages["invalid"]}
        super().__init__(*args, region=region, **kwargs)

    def to_python(self, value):
        if value in self.empty_values:
            return self.empty_value
        text = str(value).strip()
        if len(text) > MAX_TYPED or any(c.isalpha() for c in text):  # no vanity numbers ("0800-FLOWERS")
            from django.core.exceptions import ValidationError

            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


class PhoneField(modelfields.PhoneNumberField):
    """A phone number column: E.164, validated, typed and shown for the practice's country."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", 32)
        super().__init__(*args, **kwargs)

    @property
    def region(self):
        # Values are stored in E.164, so reading them needs no region; a national number
        # assigned in code is read in the default country. Forms use the practice's (formfield).
        return self._region or default_region()

    def formfield(self, **kwargs):
        kwargs.setdefault("form_class", PhoneFormField)
        kwargs.setdefault("region", self._region)  # None: the practice's, when the form is used
        return super().formfield(**kwargs)


def convert_stored(queryset, field, region_of, report=print) -> list[str]:
    """Rewrites ``field`` of every row in E.164, reading national numbers in ``region_of(row)``
    (for data migrations). A value that is no valid number is left as it was and listed in the
    returned report (and passed to ``report``), so that nothing a person typed is lost."""
    failures = []
    for row in queryset.exclude(**{field: ""}).iterator():
        raw = str(getattr(row, field) or "").strip()
        if not raw:
            continue
        region = region_of(row) or default_region()
        try:
            number = phonenumbers.parse(raw, region) if len(raw) <= MAX_TYPED else None
        except phonenumbers.NumberParseException:
            number = None
        if number is None or not phonenumbers.is_valid_number(number) or any(c.isalpha() for c in raw):
            line = f"{queryset.model._meta.label} #{row.pk} {field}: {raw!r} is not a valid number in {region}; kept"
            failures.append(line)
            report(line)
            continue
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        if e164 != raw:
            queryset.model._default_manager.filter(pk=row.pk).update(**{field: e164})
    return failures
