"""Columns for Wagtail admin listings."""

from django.utils.text import capfirst
from wagtail.admin.ui.tables import Column

from site_core.base.money import Money, practice_currency


class MoneyColumn(Column):
    """A money field (minor units) shown as the language writes the amount ("45,00 €", "€45.00"),
    in ``currency_field``'s currency when the row has one, else the practice's."""

    def __init__(self, name, *, model, currency_field=None, **kwargs):
        kwargs.setdefault("label", capfirst(model._meta.get_field(name).verbose_name))
        kwargs.setdefault("sort_key", name)
        super().__init__(name, **kwargs)
        self.currency_field = currency_field

    def get_value(self, instance):
        amount = super().get_value(instance)
        if amount is None:
            return None
        currency = getattr(instance, self.currency_field, None) if self.currency_field else None
        return Money(int(amount), currency or practice_currency()).format()
