"""The client's checkout for an order, the return from a gateway, and webhooks."""

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from site_core.access import ratelimits
from site_core.base.context import current_site
from site_core.payments import services
from site_core.payments.forms import PromoCodeForm
from site_core.payments.models import Order, Payment
from site_core.payments.providers import ProviderError
from site_core.payments.registry import UnknownProvider, get_provider, providers

logger = logging.getLogger(__name__)


def _own_order(request, public_id):
    order = get_object_or_404(Order.objects.select_related("expert", "promo_code"), public_id=public_id)
    if order.client_id != request.user.pk or order.site_id != getattr(current_site(), "pk", None):
        raise Http404
    return order


def _after_payment(order):
    if order.state == Order.State.PAID:
        return redirect(order.success_url or reverse("payments:paid", args=[order.public_id]))
    return None


@login_required
def checkout(request, public_id):
    order = _own_order(request, public_id)
    done = _after_payment(order)
    if done:
        return done
    if order.state == Order.State.CANCELED:
        return render(request, "payments/order_canceled.html", {"order": order}, status=410)
    status = 200
    promo_form = PromoCodeForm()
    can_add_promo = order.promo_code_id is None and not order.payments.exists()
    retry_after = None
    if request.method == "POST" and can_add_promo:
        promo_form = PromoCodeForm(request.POST)
        if promo_form.is_valid():
            try:
                ratelimits.hit(request, "promo_code")  # guessing codes costs attempts
                order = services.apply_promo_code(order, promo_form.cleaned_data["code"])
            except ratelimits.RateLimited as refused:
                promo_form.add_error("code", refused.message)
                status, retry_after = 429, refused.retry_after
            except services.PromoCodeError as exc:
                promo_form.add_error("code", str(exc))
                status = 400
            else:
                messages.success(request, _("Promo code applied."))
                done = _after_payment(order)
                return done or redirect("payments:checkout", public_id=order.public_id)
        else:
            status = 400
    available = [p for p in providers() if order.capture_mode != "manual" or p.can_authorize]
    failed = order.payments.filter(state=Payment.State.FAILED).order_by("-created_at").first()
    response = render(request, "payments/checkout.html", {
        "order": order, "providers": available, "promo_form": promo_form,
        "can_add_promo": can_add_promo, "failed_payment": failed,
    }, status=status)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


@login_required
@require_POST
def pay(request, public_id, provider):
    order = _own_order(request, public_id)
    done = _after_payment(order)
    if done:
        return done
    try:
        gateway = get_provider(provider)
    except UnknownProvider:
        raise Http404 from None
    if order.capture_mode == "manual" and not gateway.can_authorize:
        return HttpResponseBadRequest(_("This payment method cannot hold a budget."))
    try:
        payment = services.start_payment(order, gateway.identifier)
        step = gateway.checkout(payment, request)
    except services.PaymentRefused as exc:
        messages.error(request, str(exc))
        return redirect("payments:checkout", public_id=order.public_id)
    except ProviderError as exc:
        logger.warning("Checkout with %s failed for order %s: %s", provider, order.pk, exc)
        if exc.retryable:
            messages.error(request, _("The payment service did not answer. Nothing was charged; please try again "
                                      "in a moment."))
        else:
            messages.error(request, _("The payment service refused the payment (%(reason)s). Nothing was charged; "
                                      "you can choose another payment method.") % {"reason": exc})
        return redirect("payments:checkout", public_id=order.public_id)
    if step.redirect_url:
        return redirect(step.redirect_url)
    return render(request, step.template, {"order": order, "payment": payment, "provider": gateway, **step.context})


@login_required
def payment_return(request, payment_id):
    payment = get_object_or_404(Payment.objects.select_related("order"), pk=payment_id)
    order = _own_order(request, payment.order.public_id)
    try:
        get_provider(payment.provider, any_site=True).handle_return(payment, request)
    except ProviderError as exc:
        logger.warning("Return from %s for payment %s: %s", payment.provider, payment.pk, exc)
    payment.refresh_from_db()
    order.refresh_from_db()
    done = _after_payment(order)
    if done:
        return done
    if payment.state == Payment.State.FAILED:
        messages.error(request, _("The payment was declined: %(reason)s. Nothing was charged.")
                       % {"reason": payment.failure_reason or _("no reason given")})
        return redirect("payments:checkout", public_id=order.public_id)
    return render(request, "payments/pending.html", {"order": order, "payment": payment})


@login_required
def paid(request, public_id):
    order = _own_order(request, public_id)
    return render(request, "payments/paid.html", {"order": order})


@csrf_exempt
@require_POST
def webhook(request, provider):
    try:
        gateway = get_provider(provider, any_site=True)
    except UnknownProvider:
        raise Http404 from None
    try:
        services.check_webhook_body(request.body)
        return gateway.handle_webhook(request)
    except services.WebhookRefused as exc:
        # Verified but unstorable (services.check_webhook): a 400 stops the provider's retries.
        logger.warning("%s webhook refused: %s", provider, exc)
        return JsonResponse({"detail": str(exc), "code": "invalid_event", "field": exc.field}, status=400)
