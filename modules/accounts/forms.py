from allauth.account.forms import SignupForm as AllauthSignupForm
from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from site_core.base.validators import normalize_phone
from site_core.practice.models import User, time_zone_choices


class SignupForm(AllauthSignupForm):
    first_name = forms.CharField(label=_("First name"), max_length=150)
    last_name = forms.CharField(label=_("Last name"), max_length=150)

    field_order = ["first_name", "last_name", "email", "password1", "password2"]

    def save(self, request):
        user = super().save(request)
        user.first_name = self.cleaned_data["first_name"].strip()
        user.last_name = self.cleaned_data["last_name"].strip()
        user.save(update_fields=["first_name", "last_name"])
        return user


class ProfileForm(forms.ModelForm):
    """What a client may change about themselves in the portal."""

    time_zone = forms.ChoiceField(
        label=_("Time zone"), required=False,
        choices=lambda: [("", _("The practice's time zone"))] + time_zone_choices(),
    )
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)

    class Meta:
        model = User
        fields = ["first_name", "last_name", "phone", "time_zone", "language"]
        labels = {
            "first_name": _("First name"),
            "last_name": _("Last name"),
            "phone": _("Phone number"),
        }

    def clean_phone(self):
        return normalize_phone(self.cleaned_data["phone"])
