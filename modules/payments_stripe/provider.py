"""The "stripe" payment provider: PaymentIntents confirmed in the page with Stripe's Payment Element.

The checkout creates one PaymentIntent per payment (``capture_method=manual``
for metered sessions: the budget is held, what was used is captured later
and the rest released) and renders a page where Stripe.js collects the card
and confirms the intent. Stripe then sends the client back to the kernel's
return page; whichever path sees the result first (the return page, a
webhook, the kernel's sweeper) applies it through the payment services,
which are locked and idempotent. Webhooks are verified with the endpoint's
signing secret, stored once by event id, and never trusted for state: the
PaymentIntent is read again from the API, so events arriving out of order
cannot undo what Stripe holds now.

Every call that creates or moves money carries an idempotency key derived
from the payment's (or the refund's), so a retry after a timeout reaches the
same Stripe object instead of a second one.
"""

from __future__ import annotations

import json
import logging
import uuid
from decimal import Decimal

from django.http import HttpResponse, HttpResponseBadRequest
from django.urls import reverse
from django.utils import translation
from django.utils.functional import cached_property
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from modules.payments_stripe import conf
from site_core.base.money import Money
from site_core.payments import services
from site_core.payments.models import Payment, Refund
from site_core.payments.providers import CheckoutStep, PaymentProvider, ProviderError

logger = logging.getLogger(__name__)

S = Payment.State

#: Stripe's exponents where they differ from two decimals (docs.stripe.com/currencies).
STRIPE_ZERO_DECIMAL = {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "VND", "VUV", "XAF",
                       "XOF", "XPF"}
STRIPE_THREE_DECIMAL = {"BHD", "JOD", "KWD", "OMR", "TND"}
#: Statuses in which the client is still paying in the page (the intent can be confirmed).
PAYING = {"requires_payment_method", "requires_confirmation", "requires_action"}
#: Notifications about a PaymentIntent: the intent is read again and applied.
INTENT_EVENTS = {
    "payment_intent.succeeded", "payment_intent.amount_capturable_updated", "payment_intent.payment_failed",
    "payment_intent.canceled", "payment_intent.processing", "payment_intent.requires_action",
    "payment_intent.created", "payment_intent.partially_funded",
}
#: Notifications about refunds: the payment's refunds are read again and applied.
REFUND_EVENTS = {"charge.refunded", "charge.refund.updated", "refund.created", "refund.updated", "refund.failed"}
#: Stripe.js locales of the site's languages; anything else lets Stripe pick.
STRIPE_LOCALES = {"fr": "fr", "en": "en"}
#: Why a payment attempt failed, for the client, by Stripe's error or decline code.
DECLINE_REASONS = {
    "insufficient_funds": _("insufficient funds"),
    "expired_card": _("the card has expired"),
    "incorrect_cvc": _("the security code is wrong"),
    "incorrect_number": _("the card number is wrong"),
    "lost_card": _("the card was declined"),
    "stolen_card": _("the card was declined"),
    "card_declined": _("the card was declined"),
    "processing_error": _("the bank could not process the card"),
    "authentication_required": _("the bank did not confirm the payment"),
    "payment_intent_authentication_failure": _("the bank did not confirm the payment"),
}


def stripe_exponent(currency: str) -> int:
    currency = currency.upper()
    if currency in STRIPE_ZERO_DECIMAL:
        return 0
    if currency in STRIPE_THREE_DECIMAL:
        return 3
    # ISK is zero-decimal, but Stripe still counts it in hundredths (always ending in 00).
    return 2


def to_stripe_amount(amount: int, currency: str) -> int:
    """Our minor units as Stripe's "smallest currency unit" (the same for EUR: 4250 → 4250; 5 ISK → 500)."""
    value = Money(amount, currency).to_decimal().scaleb(stripe_exponent(currency))
    # Stripe takes three-decimal currencies in thousandths, but only whole hundredths of them.
    whole = 10 if currency.upper() in STRIPE_THREE_DECIMAL else 1
    if value != value.to_integral_value() or int(value) % whole:
        raise ProviderError(gettext("Stripe cannot take this amount in %(currency)s.") % {"currency": currency})
    return int(value)


def from_stripe_amount(amount, currency) -> int:
    """Stripe's smallest unit back to our minor units (0 if unreadable)."""
    try:
        value = Decimal(int(amount)).scaleb(-stripe_exponent(currency))
        return Money.from_decimal(value, currency.upper()).amount
    except (TypeError, ValueError, AttributeError):
        return 0


def intent_metadata(payment) -> dict:
    # The order's random id keeps two sites (or a staging copy) sharing one Stripe account apart.
    return {"cabinet_payment": str(payment.pk), "cabinet_order": payment.order.public_id.hex}


def refund_metadata(refund) -> dict:
    return {"cabinet_refund": str(refund.pk), "cabinet_payment": str(refund.payment_id)}


def decline_reason(intent) -> str:
    error = intent.get("last_payment_error") or {}
    reason = DECLINE_REASONS.get(error.get("decline_code") or "") or DECLINE_REASONS.get(error.get("code") or "")
    if reason:
        return str(reason)
    return gettext("the payment method was refused") if error else gettext("the payment was not completed")


def _currency(intent):
    return (intent.get("currency") or "").upper() or None


class StripeProvider(PaymentProvider):
    identifier = "stripe"
    name = _("Card")
    can_authorize = True
    can_refund = True
    can_partially_refund = True

    def is_available(self):
        return conf.configured()

    @cached_property
    def api(self):
        from modules.payments_stripe.client import StripeAPI

        return StripeAPI()

    # --- Paying ------------------------------------------------------------
    def checkout(self, payment, request):
        if payment.reference:
            return self._resume(payment, request)
        # Pending from here: if Stripe does not answer, the next attempt reuses
        # this payment and its idempotency key (one PaymentIntent, not two).
        payment = services.mark_pending(payment, "creating the Stripe PaymentIntent")
        intent = self.api.create_payment_intent(self._intent_params(payment),
                                                idempotency_key=payment.idempotency_key)
        if not intent.get("id") or not intent.get("client_secret"):
            raise ProviderError(gettext("Stripe did not create the payment."), retryable=True)
        payment = services.set_reference(payment, intent["id"])
        return self._payment_page(payment, intent, request)

    def _resume(self, payment, request):
        """Paying again with an intent already made: the same page while it can still be confirmed."""
        intent = self.api.retrieve_payment_intent(payment.reference)
        if intent.get("status") in PAYING and intent.get("client_secret"):
            return self._payment_page(payment, intent, request)
        self._apply_intent(payment, intent)
        if intent.get("status") == "canceled":
            raise ProviderError(gettext("This card payment was canceled. Please start again."), retryable=True,
                                code="canceled")
        # Paid, held or processing: the return page says which.
        return CheckoutStep(redirect_url=reverse("payments:return", args=[payment.pk]))

    def _intent_params(self, payment):
        # Everything here must be the same at every retry: Stripe refuses an
        # idempotency key sent again with other parameters.
        order = payment.order
        description = ", ".join(line.description for line in order.lines.all())
        return {
            "amount": to_stripe_amount(payment.amount, payment.currency),
            "currency": payment.currency.lower(),
            "capture_method": "manual" if payment.capture_mode == "manual" else "automatic",
            "automatic_payment_methods": {"enabled": True},
            "description": (description or f"Order {order.public_id.hex[:12]}")[:1000],
            "metadata": intent_metadata(payment),
        }

    def _payment_page(self, payment, intent, request):
        language = (translation.get_language() or "")[:2]
        return CheckoutStep(template="payments_stripe/payment_element.html", context={
            "stripe_config": {
                "publishableKey": conf.publishable_key(),
                "clientSecret": intent["client_secret"],
                "returnUrl": request.build_absolute_uri(reverse("payments:return", args=[payment.pk])),
                "locale": STRIPE_LOCALES.get(language, "auto"),
                "unexpectedError": gettext("The payment could not be sent. Nothing was charged; please try "
                                           "again in a moment."),
            },
            "declined_before": bool(intent.get("last_payment_error")),
        })

    def handle_return(self, payment, request):
        intent_id = request.GET.get("payment_intent", "")
        if intent_id and intent_id != payment.reference:
            # The query string is the browser's; only our stored reference is used.
            logger.warning("Stripe return for payment %s with intent %s, expected %s", payment.pk, intent_id,
                           payment.reference)
        payment = Payment.objects.get(pk=payment.pk)
        if payment.state not in (S.CREATED, S.PENDING) or not payment.reference:
            return
        intent = self.api.retrieve_payment_intent(payment.reference)
        self._apply_intent(payment, intent)
        if intent.get("status") == "requires_payment_method" and intent.get("id") == payment.reference:
            # The client was sent back without paying (a refused bank check, a
            # failed redirect): this attempt ends here, the next one starts afresh.
            self._give_up(payment, decline_reason(intent))

    def _give_up(self, payment, reason):
        services.fail(payment, reason)
        try:
            # So that the page, if still open somewhere, cannot complete this attempt later.
            self.api.cancel_payment_intent(payment.reference, idempotency_key=f"{payment.idempotency_key}:cancel")
        except ProviderError as exc:
            logger.warning("Stripe intent %s of failed payment %s not canceled: %s", payment.reference, payment.pk,
                           exc)

    def refresh(self, payment):
        """Reads the PaymentIntent again and applies it (return page, webhook, sweeper)."""
        payment = Payment.objects.get(pk=payment.pk)
        if not payment.reference:
            return
        self._apply_intent(payment, self.api.retrieve_payment_intent(payment.reference))

    def _apply_intent(self, payment, intent):
        """Moves the payment to what the PaymentIntent says, through the (idempotent) services."""
        payment = Payment.objects.get(pk=payment.pk)
        if intent.get("id") != payment.reference:
            logger.error("Stripe intent %s read for payment %s (reference %s); ignored", intent.get("id"),
                         payment.pk, payment.reference)
            return
        claimed = (intent.get("metadata") or {}).get("cabinet_payment")
        if claimed and claimed != str(payment.pk):
            logger.error("Stripe intent %s carries payment %s, not %s; ignored", payment.reference, claimed,
                         payment.pk)
            return
        status, currency = intent.get("status"), _currency(intent)
        if status == "succeeded":
            received = from_stripe_amount(intent.get("amount_received"), currency or payment.currency)
            if payment.capture_mode == "manual" and payment.state in (S.CREATED, S.PENDING):
                # Captured (from the Dashboard) before this site saw the authorization.
                payment = services.mark_authorized(
                    payment, amount=from_stripe_amount(intent.get("amount"), currency or payment.currency),
                    currency=currency)
            services.confirm_capture(payment, amount=received, currency=currency)
        elif status == "requires_capture":
            if payment.capture_mode != "manual":
                logger.error("Stripe holds payment %s for a manual capture, but it is automatic", payment.pk)
                return
            services.mark_authorized(
                payment, amount=from_stripe_amount(intent.get("amount_capturable"), currency or payment.currency),
                currency=currency)
        elif status == "processing":
            services.mark_pending(payment, "Stripe is processing the payment")
        elif status == "canceled":
            if payment.state in (S.CREATED, S.PENDING):
                services.fail(payment, gettext("the payment was canceled"))
            elif payment.state == S.AUTHORIZED:
                # Released at Stripe (an expired authorization, the Dashboard): no money is held any more.
                logger.warning("Stripe released the authorization of payment %s (%s)", payment.pk,
                               intent.get("cancellation_reason") or "no reason")
                services.void(payment, reason="authorization released at Stripe")
        elif status in PAYING and intent.get("last_payment_error"):
            # The client may try again with another card on the same intent, in the page.
            logger.info("Stripe intent %s of payment %s declined an attempt: %s", payment.reference, payment.pk,
                        (intent.get("last_payment_error") or {}).get("code"))

    # --- Moving money after authorization -----------------------------------
    def _reference(self, payment):
        if not payment.reference:
            raise ProviderError(gettext("Stripe has no record of this payment."))
        return payment.reference

    def capture(self, payment, amount):
        intent_id = self._reference(payment)
        # The amount is part of the key: a retry of the same capture reaches the
        # same Stripe capture, another amount is another request (which Stripe refuses).
        try:
            intent = self.api.capture_payment_intent(
                intent_id, amount=to_stripe_amount(amount, payment.currency),
                idempotency_key=f"{payment.idempotency_key}:capture:{amount}")
        except ProviderError as exc:
            if exc.retryable or exc.code != "payment_intent_unexpected_state":
                raise
            # Captured already (by a concurrent path, or the Dashboard)? Then see what was taken.
            intent = self.api.retrieve_payment_intent(intent_id)
            if intent.get("status") != "succeeded":
                raise exc from None
        captured = from_stripe_amount(intent.get("amount_received"), payment.currency)
        if intent.get("status") != "succeeded" or (captured, _currency(intent)) != (amount, payment.currency):
            logger.error("Stripe captured %s %s (%s) for payment %s, %s %s was asked", captured, _currency(intent),
                         intent.get("status"), payment.pk, amount, payment.currency)
            raise ProviderError(gettext("Stripe captured another amount than the one asked."))

    def void(self, payment):
        intent_id = self._reference(payment)
        try:
            intent = self.api.cancel_payment_intent(intent_id, idempotency_key=f"{payment.idempotency_key}:cancel")
        except ProviderError as exc:
            if exc.retryable or exc.code != "payment_intent_unexpected_state":
                raise
            # Released already (a retry, an expired authorization, the Dashboard)? Then it is done.
            intent = self.api.retrieve_payment_intent(intent_id)
            if intent.get("status") != "canceled":
                raise exc from None
        if intent.get("status") != "canceled":
            raise ProviderError(gettext("Stripe did not release the authorization (%(status)s).")
                                % {"status": intent.get("status")})

    def refund(self, refund):
        payment = refund.payment
        result = self.api.create_refund({
            "payment_intent": self._reference(payment),
            "amount": to_stripe_amount(refund.amount, payment.currency),
            "metadata": refund_metadata(refund),
        }, idempotency_key=refund.idempotency_key)
        status = result.get("status")
        if status in ("pending", "requires_action"):
            logger.info("Stripe refund %s for payment %s is %s at Stripe", result.get("id"), payment.pk, status)
        elif status != "succeeded":
            raise ProviderError(gettext("Stripe did not make the refund (%(status)s).") % {"status": status},
                                code=f"refund_{status}")
        return result.get("id", "")

    # --- Notifications --------------------------------------------------------
    def handle_webhook(self, request):
        from modules.payments_stripe.client import verify_webhook

        secret = conf.webhook_secret()
        if not secret:
            # Cannot be checked; Stripe delivers again later (for three days).
            logger.error("Stripe webhook not verified: STRIPE_WEBHOOK_SECRET is unset")
            return HttpResponse("webhooks not configured", status=503)
        try:
            verify_webhook(request.body, request.headers.get("Stripe-Signature", ""), secret)
        except (ValueError, UnicodeDecodeError) as exc:
            logger.warning("Stripe webhook refused: %s", exc)
            return HttpResponseBadRequest("bad signature")
        try:
            event = json.loads(request.body)
            event_id, event_type = str(event["id"]), str(event["type"])
            obj = event["data"]["object"]
            if not isinstance(obj, dict):
                raise TypeError("data.object is not an object")
        except (ValueError, KeyError, TypeError):
            logger.warning("Stripe webhook refused: signed, but not a Stripe event")
            return HttpResponseBadRequest("malformed event")
        stored, created = services.record_webhook(self.identifier, event_id, event_type, event)
        if not created and stored.processed_at:
            return HttpResponse("already processed")
        try:
            result = self._process(event_type, obj)
        except ProviderError as exc:
            if exc.retryable:
                # Stored but not processed: Stripe's next delivery finishes it.
                logger.warning("Stripe webhook %s (%s) not processed now: %s", event_id, event_type, exc)
                return HttpResponse("try again later", status=503)
            logger.error("Stripe webhook %s (%s) could not be applied: %s", event_id, event_type, exc)
            result = f"not applied: {exc.code or 'refused'}"
        services.mark_webhook_processed(stored, result)
        return HttpResponse(result)

    def _process(self, event_type, obj):
        if event_type in INTENT_EVENTS:
            payment = self._payment_for_intent(obj)
            if payment is None:
                logger.info("Stripe %s about intent %s not ours; ignored", event_type, obj.get("id"))
                return "ignored: unknown payment"
            # Read again: events arrive out of order, and the event's copy may be stale.
            self.refresh(payment)
            return "applied"
        if event_type in REFUND_EVENTS:
            intent_id = obj.get("payment_intent") or ""
            payment = (Payment.objects.filter(provider=self.identifier, reference=intent_id).first()
                       if intent_id else None)
            if payment is None:
                logger.info("Stripe %s about intent %s not ours; ignored", event_type, intent_id or "?")
                return "ignored: unknown payment"
            return self._sync_refunds(payment)
        logger.info("Stripe %s event ignored", event_type)
        return "ignored: event type"

    def _payment_for_intent(self, obj):
        intent_id = str(obj.get("id") or "")
        if not intent_id:
            return None
        payment = Payment.objects.filter(provider=self.identifier, reference=intent_id).first()
        if payment is not None:
            return payment
        metadata = obj.get("metadata") or {}
        claimed, order = str(metadata.get("cabinet_payment") or ""), str(metadata.get("cabinet_order") or "")
        try:
            order_id = uuid.UUID(hex=order)
        except ValueError:
            return None
        if not claimed.isdigit():
            return None
        payment = Payment.objects.filter(provider=self.identifier, pk=int(claimed), reference="",
                                         order__public_id=order_id).first()
        if payment is None:
            return None
        # The answer to our create call was lost (a timeout): the intent is ours, as Stripe holds it now.
        intent = self.api.retrieve_payment_intent(intent_id)
        if (intent.get("metadata") or {}) != intent_metadata(payment):
            logger.error("Stripe intent %s does not carry payment %s's metadata; ignored", intent_id, payment.pk)
            return None
        return services.set_reference(payment, intent_id)

    def _sync_refunds(self, payment):
        """Applies what Stripe holds for the refunds this site asked for (one whose answer was lost included)."""
        rows = {str(row.pk): row for row in Refund.objects.filter(payment=payment)}
        by_reference = {row.reference: row for row in rows.values() if row.reference}
        completed = 0
        for remote in self.api.list_refunds(payment.reference):
            metadata = remote.get("metadata") or {}
            row = by_reference.get(remote.get("id"))
            if row is None and metadata.get("cabinet_payment") == str(payment.pk):
                row = rows.get(str(metadata.get("cabinet_refund") or ""))
            if row is None:
                # Refunds made in Stripe's Dashboard have no row here (the kernel has no service to record them).
                logger.warning("Stripe refund %s of payment %s was not made from this site; ignored",
                               remote.get("id"), payment.pk)
                continue
            status = remote.get("status")
            if status in ("succeeded", "pending") and row.state == Refund.State.CREATED:
                services.complete_refund(row, reference=remote.get("id", ""))
                completed += 1
            elif status in ("failed", "canceled") and row.state == Refund.State.DONE:
                logger.error("Stripe refund %s (refund %s of payment %s) is %s: the money did not go back",
                             remote.get("id"), row.pk, payment.pk, status)
            elif status in ("succeeded", "pending") and row.state == Refund.State.FAILED:
                logger.error("Stripe made refund %s that this site recorded as failed (refund %s)",
                             remote.get("id"), row.pk)
        return f"applied: {completed} refund(s) completed" if completed else "applied"
