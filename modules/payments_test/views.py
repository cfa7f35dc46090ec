from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from modules.payments_test import gateway
from modules.payments_test.provider import TestCardProvider
from site_core.payments.models import Payment


def _own_payment(request, payment_id):
    payment = get_object_or_404(Payment.objects.select_related("order"), pk=payment_id, provider="test")
    if payment.order.client_id != request.user.pk or not TestCardProvider().is_available():
        raise Http404
    return payment


@login_required
@require_POST
def pay(request, payment_id):
    payment = _own_payment(request, payment_id)
    number = request.POST.get("card_number", "")
    if sum(ch.isdigit() for ch in number) != 16:
        return render(request, "payments_test/card_form.html", {
            "order": payment.order, "payment": payment,
            "action_url": reverse("payments_test:pay", args=[payment.pk]),
            "error": _("Enter the 16 digits of the card number."),
        }, status=400)
    charge = gateway.pay_with_card(payment.reference, number)
    if charge.status == "requires_action":
        return render(request, "payments_test/secure.html", {"payment": payment, "order": payment.order})
    return redirect("payments:return", payment_id=payment.pk)


@login_required
@require_POST
def secure(request, payment_id):
    payment = _own_payment(request, payment_id)
    gateway.confirm_action(payment.reference, approved=request.POST.get("decision") == "approve")
    return redirect("payments:return", payment_id=payment.pk)
