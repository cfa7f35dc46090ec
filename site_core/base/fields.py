"""Model fields the kernel and modules share."""

from django import forms
from django.db import models


class ChoiceListField(models.JSONField):
    """A list of choices stored as JSON, edited as checkboxes.

    ``choices_callable`` is called when the form is built, so choices may come
    from the installed modules or themes.
    """

    def __init__(self, *args, choices_callable=None, **kwargs):
        self.choices_callable = choices_callable
        kwargs.setdefault("default", list)
        kwargs.setdefault("blank", True)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs.pop("choices_callable", None)
        return name, path, args, kwargs

    def formfield(self, **kwargs):
        choices = self.choices_callable() if self.choices_callable else []
        return forms.TypedMultipleChoiceField(
            choices=choices,
            required=not self.blank,
            label=self.verbose_name.capitalize() if self.verbose_name else None,
            help_text=self.help_text,
            widget=forms.CheckboxSelectMultiple,
        )


class MoneyFieldMixin:
    """An amount in integer minor units of the practice's currency (site_core.base.money), typed and
    shown in the currency by every generated form (site_core.base.forms.MoneyField): never in cents.

    ``max_major``: the highest amount a form takes, in major units (see site_core.base.forms.max_minor)."""

    def __init__(self, *args, max_major=None, **kwargs):
        self.max_major = max_major
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        if self.max_major is not None:
            kwargs["max_major"] = self.max_major
        return name, path, args, kwargs

    def formfield(self, **kwargs):
        from site_core.base.forms import DEFAULT_MAX_MAJOR, MoneyField, MoneyInput

        defaults = {
            "required": not self.blank,
            "label": self.verbose_name.capitalize() if self.verbose_name else None,
            "help_text": self.help_text,
            "max_major": self.max_major or DEFAULT_MAX_MAJOR,
        }
        if self.has_default():
            defaults["initial"] = self.get_default()
        widget = kwargs.get("widget")
        if widget is not None and not (isinstance(widget, MoneyInput)
                                       or (isinstance(widget, type) and issubclass(widget, MoneyInput))):
            kwargs.pop("widget")  # Wagtail's default integer widget: ours shows the currency
        defaults.update({k: v for k, v in kwargs.items() if k in ("required", "label", "help_text", "initial",
                                                                 "widget", "currency", "max_amount", "min_amount")})
        return MoneyField(**defaults)


class MoneyField(MoneyFieldMixin, models.PositiveIntegerField):
    """A price (per minute or of a package): minor units, zero or more."""


class BigMoneyField(MoneyFieldMixin, models.BigIntegerField):
    """A larger amount (a promo code's value, an order minimum): minor units."""
