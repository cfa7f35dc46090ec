from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _

from site_core.payments.models import Payment


@login_required
def cancel(request, payment_id):
    """Where PayPal sends a buyer who clicks "Cancel and return": back to the checkout.

    Nothing was charged and nothing changes here: the PayPal order stays
    unapproved, and paying with PayPal again reuses it.
    """
    payment = get_object_or_404(Payment.objects.select_related("order"), pk=payment_id, provider="paypal")
    if payment.order.client_id != request.user.pk:
        raise Http404
    messages.info(request, _("You left PayPal without paying. Nothing was charged; you can choose how to pay "
                             "again."))
    return redirect("payments:checkout", public_id=payment.order.public_id)
