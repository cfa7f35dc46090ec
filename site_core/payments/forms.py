from django import forms
from django.utils.translation import gettext_lazy as _
from wagtail.admin.forms import WagtailAdminModelForm

from site_core.base.forms import MoneyField
from site_core.base.money import practice_currency


class PromoCodeForm(forms.Form):
    code = forms.CharField(label=_("Promo code"), max_length=40)


class RefundForm(forms.Form):
    amount = MoneyField(label=_("Amount to refund"))
    reason = forms.CharField(label=_("Reason (kept in the history)"), max_length=300, required=False)
    confirm = forms.BooleanField(label=_("I confirm this refund"), required=False)

    def __init__(self, *args, currency, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["amount"].currency = currency


class PromoCodeAdminForm(WagtailAdminModelForm):
    """A promo code in the admin: its amounts are typed in its currency, which is the practice's
    for a new code (the currency is not a field: a code in another currency would never apply)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        currency = self.instance.currency if self.instance.pk else practice_currency()
        self.instance.currency = currency
        for name in ("amount", "minimum_amount"):
            if name in self.fields:
                self.fields[name].currency = currency
