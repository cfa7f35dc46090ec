"""Times as a person reads them: in their own time zone, with that zone named in their language.

"14:00" alone is a trap when the client is in Montréal and the practice in Paris, so every
time shown to a person (pages, emails) goes through ``local_time``: it converts the aware
datetime to the viewer's zone (the conversion is done by zoneinfo for that date, so a date
after a clock change gets that date's offset) and names the zone, e.g. French
``lundi 2 novembre 2026, 04:00 (heure de Montréal)``, English
``Monday 2 November 2026, 04:00 (Montreal time)``. Templates use the same function through
``{% local_time value zone %}`` (site_core/templatetags/cabinet_time.py).

The city comes from CLDR through Babel (``get_timezone_location(..., return_city=True)``),
so it is translated where CLDR translates it ("Londres", "Calcutta"). Two cases Babel gets
wrong for a person are handled here:

- an IANA alias is folded by CLDR into another city (America/Montreal is a link to
  America/Toronto: Babel says "Toronto"). A person who chose Montréal reads Montréal: an
  alias keeps its own city, translated by our catalogue (``pgettext("time zone city", ...)``);
- zones with no city (UTC, Etc/GMT+5) are named by their offset ("UTC", "UTC−05:00").
"""

from __future__ import annotations

import unicodedata
from contextlib import nullcontext
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.core import get_global
from babel.dates import get_timezone_gmt, get_timezone_location
from django.conf import settings
from django.utils import translation
from django.utils.formats import date_format
from django.utils.translation import pgettext, pgettext_lazy

#: The date and time of an appointment as pages and emails show it ("lundi 2 novembre 2026, 14:00").
DATETIME = "l j F Y, H:i"
#: A time alone ("14:00"), for a list of slots under a named day.
TIME = "H:i"
#: A day and time without the year ("2 novembre, 14:00"), for a deadline.
SHORT_DATETIME = "j F, H:i"

_FORMATS = {"datetime": DATETIME, "time": TIME, "short": SHORT_DATETIME}
_VOWELS = set("aeiouy")
#: Cities of IANA aliases CLDR folds into another zone, whose name a language spells its own
#: way (listed so that the catalogue keeps them; others are shown as IANA spells them).
ALIAS_CITIES = [pgettext_lazy("time zone city", "Montreal")]


def babel_locale(language=None) -> str:
    """The Babel locale for a site language ("fr" → "fr_FR", "en" → "en_GB")."""
    language = (language or translation.get_language() or settings.LANGUAGE_CODE).replace("-", "_")
    return {"fr": "fr_FR", "en": "en_GB"}.get(language[:2], language)


def as_zone(zone) -> ZoneInfo:
    """A ZoneInfo from a ZoneInfo or an IANA name; an empty or unknown name is the server's zone."""
    if isinstance(zone, ZoneInfo):
        return zone
    try:
        return ZoneInfo(str(zone or settings.TIME_ZONE))
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(settings.TIME_ZONE)


def _city(zone: ZoneInfo, locale: str) -> str | None:
    key = zone.key
    if "/" not in key or key.startswith("Etc/"):
        return None
    canonical = get_global("zone_aliases").get(key, key)
    if canonical != key:
        # CLDR names the zone it links to (Montreal → Toronto): keep the alias's own city.
        return pgettext("time zone city", key.rpartition("/")[2].replace("_", " "))
    return get_timezone_location(zone, locale=locale, return_city=True)


def _starts_with_vowel(text: str) -> bool:
    first = unicodedata.normalize("NFD", text[:1].lower())[:1]
    return first in _VOWELS


def zone_name(zone, *, at: datetime | None = None, language=None) -> str:
    """The zone as a person calls it, in ``language`` (the active one by default):
    "heure de Montréal", "heure d’Amsterdam", "Montreal time", or "UTC−05:00" for a zone
    without a city. ``at`` picks the offset of zones named by it (a date across a clock change)."""
    zone = as_zone(zone)
    with translation.override(language) if language else nullcontext():
        locale = babel_locale()
        city = _city(zone, locale)
        if city is None:
            if zone.key in ("UTC", "Etc/UTC", "GMT", "Etc/GMT", "Universal", "Zulu"):
                return "UTC"
            return get_timezone_gmt(at.astimezone(zone) if at else datetime.now(zone), locale=locale)
        if _starts_with_vowel(city):
            # French elides before a vowel ("heure d’Amsterdam"); other languages repeat the msgstr.
            return pgettext("time zone, city starting with a vowel", "%(city)s time") % {"city": city}
        return pgettext("time zone", "%(city)s time") % {"city": city}


def local_time(value: datetime | None, zone, fmt: str = "datetime", *, language=None) -> str:
    """``value`` (an aware datetime) in ``zone``, formatted (``fmt``: "datetime", "time", "short"
    or a Django date format) in ``language`` (the active one by default), the zone named:
    "lundi 2 novembre 2026, 04:00 (heure de Montréal)". "" for None."""
    if value is None:
        return ""
    zone = as_zone(zone)
    local = value.astimezone(zone)
    with translation.override(language) if language else nullcontext():
        shown = date_format(local, _FORMATS.get(fmt, fmt), use_l10n=True)
        return f"{shown} ({zone_name(zone, at=local)})"

