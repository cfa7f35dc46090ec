"""``{{ number|phone }}``: a phone number as people of the practice's country read it."""

from django import template

from site_core.base.phones import shown

register = template.Library()


@register.filter
def phone(value):
    return shown(value) if value else ""
