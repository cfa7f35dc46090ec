from django import forms
from django.utils.translation import gettext_lazy as _


class PromoCodeForm(forms.Form):
    code = forms.CharField(label=_("Promo code"), max_length=40)


class RefundForm(forms.Form):
    amount = forms.DecimalField(label=_("Amount to refund"), min_value=0, decimal_places=2, max_digits=12)
    reason = forms.CharField(label=_("Reason (kept in the history)"), max_length=300, required=False)
    confirm = forms.BooleanField(label=_("I confirm this refund"), required=False)
