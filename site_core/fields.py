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
