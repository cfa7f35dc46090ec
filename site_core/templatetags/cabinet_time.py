"""``{% local_time value zone %}`` and ``{% zone_name zone %}``: times in the viewer's zone, the
zone named in the page's language (site_core.base.local_time, which emails use directly)."""

from django import template

from site_core.base import local_time as clock

register = template.Library()


@register.simple_tag
def local_time(value, zone, fmt="datetime"):
    """``{% local_time appointment.starts_at zone %}`` → "lundi 2 novembre 2026, 04:00 (heure de
    Montréal)"; ``fmt`` is "datetime" (default), "time", "short" or a Django date format."""
    return clock.local_time(value, zone, fmt)


@register.simple_tag
def zone_name(zone, at=None):
    """``{% zone_name zone %}`` → "heure de Montréal"."""
    return clock.zone_name(zone, at=at)
