from django import forms
from django.utils.translation import gettext_lazy as _

from site_core.base.validators import normalize_phone


class ContactForm(forms.Form):
    name = forms.CharField(label=_("Your name"), max_length=120)
    email = forms.EmailField(label=_("Your email"))
    phone = forms.CharField(label=_("Your phone (optional)"), max_length=32, required=False)
    proposed_times = forms.CharField(
        label=_("Dates and times that suit you (optional)"), required=False, max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    message = forms.CharField(label=_("Your message"), max_length=4000, widget=forms.Textarea(attrs={"rows": 6}))
    # Left empty by people; bots fill every field.
    website = forms.CharField(required=False, label=_("Leave this field empty"),
                              widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}))

    def clean_website(self):
        if self.cleaned_data.get("website"):
            raise forms.ValidationError(_("This field must stay empty."))
        return ""

    def clean_phone(self):
        return normalize_phone(self.cleaned_data["phone"])
