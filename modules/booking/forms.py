"""The three steps of the booking form (seed 000) and the expert's switches."""

from allauth.account import app_settings as account_settings
from allauth.account.forms import LoginForm, SignupForm
from allauth.utils import get_form_class
from django import forms
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from modules.booking.models import Mode, Product
from site_core.base.validators import is_time_zone, normalize_phone

WHEN_NOW = "now"
WHEN_LATER = "appointment"


def valid_time_zone(value, fallback):
    """``value`` if it names a time zone (the browser's, sent in a hidden field), else ``fallback``."""
    return value if is_time_zone(value) else fallback


class ModeForm(forms.Form):
    """Step 1: how, when, the phone to call, an optional promo code."""

    mode = forms.ChoiceField(label=_("How do you want to consult?"), widget=forms.RadioSelect)
    when = forms.ChoiceField(label=_("When?"), widget=forms.RadioSelect, initial=WHEN_LATER)
    phone = forms.CharField(label=_("Your phone number"), required=False, max_length=32,
                            help_text=_("For phone consultations: the expert calls you on this number."),
                            widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}))
    promo_code = forms.CharField(label=_("Promo code (optional)"), required=False, max_length=40)
    time_zone = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, modes, instant_modes, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["mode"].choices = [(m, Mode(m).label) for m in modes]
        when = [(WHEN_LATER, _("By appointment"))]
        if instant_modes:
            when.insert(0, (WHEN_NOW, _("Now")))
        self.fields["when"].choices = when
        self.instant_modes = instant_modes

    def clean_promo_code(self):
        return self.cleaned_data["promo_code"].strip().upper()

    def clean(self):
        data = super().clean()
        mode = data.get("mode")
        if mode == Mode.PHONE:
            if not data.get("phone"):
                self.add_error("phone", _("Enter the phone number the expert should call."))
            else:
                try:
                    data["phone"] = normalize_phone(data["phone"])
                except ValidationError as exc:
                    self.add_error("phone", exc)
        else:
            data["phone"] = ""
        if data.get("when") == WHEN_NOW and mode and mode not in self.instant_modes:
            self.add_error("when", _("This expert does not take immediate sessions in this mode."))
        return data


class ProductForm(forms.Form):
    """Step 2: per minute, short or long package; per minute, the maximum budget."""

    product = forms.ChoiceField(label=_("What would you like?"), widget=forms.RadioSelect)
    budget_minutes = forms.IntegerField(
        label=_("Maximum budget, in minutes"), required=False, min_value=1, max_value=240,
        help_text=_("Per minute: this amount is reserved on your card; you pay only the minutes used."),
    )

    def __init__(self, *args, products, per_minute_price=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product"].choices = products
        self.per_minute_price = per_minute_price

    def clean(self):
        data = super().clean()
        if data.get("product") == Product.PER_MINUTE and not data.get("budget_minutes"):
            if "budget_minutes" not in self.errors:
                self.add_error("budget_minutes", _("Your budget must buy at least one minute."))
        if data.get("product") != Product.PER_MINUTE:
            data["budget_minutes"] = None
        return data


class SlotForm(forms.Form):
    """Step 2, by appointment: one of the free times, shown in the client's time zone."""

    starts_at = forms.ChoiceField(label=_("Choose a time"), widget=forms.RadioSelect)
    note = forms.CharField(label=_("A word for the expert (optional)"), required=False, max_length=2000,
                           widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, slots, **kwargs):
        super().__init__(*args, **kwargs)
        self.slots = {slot.isoformat(): slot for slot in slots}
        self.fields["starts_at"].choices = [(key, key) for key in self.slots]

    def clean_starts_at(self):
        return self.slots[self.cleaned_data["starts_at"]]


def guest_signup_form(data=None):
    """Step 3 for a visitor without an account: the sign-up page's own form (allauth's
    ``ACCOUNT_FORMS["signup"]``), so the same fields, checks, adapter and policy apply."""
    form = get_form_class(account_settings.FORMS, "signup", SignupForm)(data)
    if "password1" in form.fields:
        # The rules as one sentence: the field's help is a paragraph here, not a list.
        form.fields["password1"].help_text = " ".join(password_validation.password_validators_help_texts())
    return form


def guest_login_form(request, data=None):
    """Step 3 for a visitor who has an account: allauth's login form (``ACCOUNT_FORMS["login"]``).
    Its fields are those of the log-in page ("login", "password"), so django-axes counts a
    failure here on the same login + address counter as there."""
    return get_form_class(account_settings.FORMS, "login", LoginForm)(data, request=request)
