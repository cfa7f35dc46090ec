"""The "paypal" payment provider: PayPal Checkout on Orders v2.

The client is sent to PayPal to approve an order we created (intent CAPTURE,
or AUTHORIZE for metered sessions). Once it is approved, the first path to
see it (our return page, the CHECKOUT.ORDER.APPROVED webhook, or the kernel's
sweeper for a client who closed the tab) captures or authorizes it, and the
result is applied through the payment services, which are idempotent.
Webhooks are verified by PayPal itself (verify-webhook-signature), stored
once, and never trusted for amounts: the object is read again from the API.

Every call that creates or moves money carries a PayPal-Request-Id derived
from the payment's (or refund's) idempotency key, so a retry after a
timeout reaches the same PayPal object instead of a second one.
"""

from __future__ import annotations

import json
import logging
from decimal import Decimal, InvalidOperation

from django.http import HttpResponse, HttpResponseBadRequest
from django.urls import reverse
from django.utils import translation
from django.utils.functional import cached_property
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from modules.payments_paypal import conf
from site_core.base.money import Money
from site_core.payments import services
from site_core.payments.models import Payment, Refund
from site_core.payments.providers import CheckoutStep, PaymentProvider, ProviderError

logger = logging.getLogger(__name__)

S = Payment.State

#: PayPal takes no decimals for these, although ISO 4217 gives them two.
PAYPAL_NO_DECIMALS = {"HUF", "TWD"}
#: Capture states meaning the money was taken (a refund later does not undo the capture).
CAPTURED = {"COMPLETED", "PARTIALLY_REFUNDED", "REFUNDED"}
#: Authorization states meaning the money is (or was) held for us.
HELD = {"CREATED", "CAPTURED", "PARTIALLY_CAPTURED"}
#: Errors of a capture/authorize call that mean the buyer's funding was refused.
DECLINED_ISSUES = {"INSTRUMENT_DECLINED", "TRANSACTION_REFUSED", "PAYER_CANNOT_PAY", "COMPLIANCE_VIOLATION",
                   "MAX_NUMBER_OF_PAYMENT_ATTEMPTS_EXCEEDED"}
#: Errors saying the order was already captured/authorized (by a concurrent path).
ALREADY_DONE_ISSUES = {"ORDER_ALREADY_CAPTURED", "ORDER_ALREADY_AUTHORIZED", "ORDER_ALREADY_COMPLETED"}
#: Webhook events about a capture or authorization: their order is read again.
PAYMENT_EVENTS = {
    "PAYMENT.CAPTURE.COMPLETED", "PAYMENT.CAPTURE.DENIED", "PAYMENT.CAPTURE.DECLINED",
    "PAYMENT.CAPTURE.PENDING", "PAYMENT.AUTHORIZATION.CREATED", "PAYMENT.AUTHORIZATION.VOIDED",
}
#: The transmission headers PayPal signs a notification with, by verify-webhook-signature field.
SIGNATURE_HEADERS = {
    "auth_algo": "PayPal-Auth-Algo",
    "cert_url": "PayPal-Cert-Url",
    "transmission_id": "PayPal-Transmission-Id",
    "transmission_sig": "PayPal-Transmission-Sig",
    "transmission_time": "PayPal-Transmission-Time",
}
PAYPAL_LOCALES = {"fr": "fr-FR", "en": "en-GB"}


def paypal_value(amount: int, currency: str) -> str:
    """Minor units as PayPal's major-unit string: 4250 EUR → "42.50", 500 JPY → "500"."""
    value = Money(amount, currency).to_decimal()
    if currency in PAYPAL_NO_DECIMALS:
        if value != value.to_integral_value():
            raise ProviderError(gettext("PayPal only accepts whole amounts in %(currency)s.")
                                % {"currency": currency})
        value = value.quantize(Decimal(1))
    return format(value, "f")


def minor_amount(money) -> tuple[int, str | None]:
    """PayPal's {"currency_code", "value"} as (minor units, currency); (0, None) if unreadable."""
    try:
        currency = str(money["currency_code"]).upper()
        return Money.from_decimal(Decimal(str(money["value"])), currency).amount, currency
    except (KeyError, TypeError, ValueError, InvalidOperation):
        return 0, None


def custom_id(payment) -> str:
    return f"cabinet-payment-{payment.pk}"


def refund_custom_id(refund) -> str:
    return f"cabinet-refund-{refund.pk}"


def invoice_id(payment) -> str:
    # PayPal refuses an invoice id used before on the account: the order's
    # random public id keeps two sites (or a staging copy) sharing one
    # PayPal account apart.
    return f"CAB-{payment.order.public_id.hex[:12].upper()}-{payment.pk}"


def approve_link(order) -> str:
    for link in order.get("links") or []:
        if isinstance(link, dict) and link.get("rel") in ("payer-action", "approve"):
            return link.get("href", "")
    return ""


def _purchase_unit(order) -> dict:
    units = order.get("purchase_units") or [{}]
    return units[0] if isinstance(units[0], dict) else {}


def _not_json(constant):
    raise ValueError(f"{constant} is not JSON")


def _related_order_id(resource) -> str:
    related = ((resource.get("supplementary_data") or {}).get("related_ids") or {})
    return related.get("order_id", "") if isinstance(related, dict) else ""


class PayPalProvider(PaymentProvider):
    identifier = "paypal"
    name = _("PayPal")
    can_authorize = True
    can_refund = True
    can_partially_refund = True

    def is_available(self):
        return conf.configured()

    @cached_property
    def api(self):
        # Imported here: the SDK is slow to import and only needed when PayPal is called.
        from modules.payments_paypal.client import PayPalAPI

        return PayPalAPI()

    # --- Paying ------------------------------------------------------------
    def checkout(self, payment, request):
        if payment.reference:
            return self._resume(payment)
        # Pending from here: if PayPal does not answer, the next attempt
        # reuses this payment and its PayPal-Request-Id (one order, not two).
        payment = services.mark_pending(payment, "creating the PayPal order")
        order = self.api.create_order(self._order_request(payment, request), request_id=payment.idempotency_key)
        if not order.get("id"):
            raise ProviderError(gettext("PayPal did not create the order."), retryable=True)
        payment = services.set_reference(payment, order["id"], paypal_intent=order.get("intent", ""))
        link = approve_link(order)
        if not link:
            raise ProviderError(gettext("PayPal gave no page to approve the payment."), retryable=True)
        return CheckoutStep(redirect_url=link)

    def _resume(self, payment):
        """Paying again with an order already made: back to PayPal if the buyer has not approved it yet."""
        order = self._read_order(payment)
        if order is None:
            raise ProviderError(gettext("The PayPal order has expired. Please try again."), code="expired")
        link = approve_link(order)
        if order.get("status") in ("CREATED", "PAYER_ACTION_REQUIRED") and link:
            return CheckoutStep(redirect_url=link)
        # Approved (the buyer did not come back) or already done: the return page finishes it.
        return CheckoutStep(redirect_url=reverse("payments:return", args=[payment.pk]))

    def _order_request(self, payment, request):
        from paypalserversdk.models.amount_with_breakdown import AmountWithBreakdown
        from paypalserversdk.models.order_request import OrderRequest
        from paypalserversdk.models.payment_source import PaymentSource
        from paypalserversdk.models.paypal_wallet import PaypalWallet
        from paypalserversdk.models.paypal_wallet_experience_context import (
            PaypalWalletExperienceContext,
        )
        from paypalserversdk.models.purchase_unit_request import PurchaseUnitRequest

        from site_core.practice.models import PracticeSettings

        order = payment.order
        description = ", ".join(line.description for line in order.lines.all()) or str(order.get_purpose_display())
        experience = PaypalWalletExperienceContext(
            brand_name=PracticeSettings.for_site(order.site).practice_name[:127],
            # Consultations are services: no delivery address to ask for.
            shipping_preference="NO_SHIPPING",
            # The buyer confirms at PayPal; our return page completes at once.
            user_action="PAY_NOW",
            return_url=request.build_absolute_uri(reverse("payments:return", args=[payment.pk])),
            cancel_url=request.build_absolute_uri(reverse("payments_paypal:cancel", args=[payment.pk])),
        )
        locale = PAYPAL_LOCALES.get((translation.get_language() or "")[:2])
        if locale:
            experience.locale = locale
        return OrderRequest(
            intent="AUTHORIZE" if payment.capture_mode == "manual" else "CAPTURE",
            purchase_units=[PurchaseUnitRequest(
                amount=AmountWithBreakdown(currency_code=payment.currency,
                                           value=paypal_value(payment.amount, payment.currency)),
                custom_id=custom_id(payment),
                invoice_id=invoice_id(payment),
                description=description[:127],
            )],
            payment_source=PaymentSource(paypal=PaypalWallet(experience_context=experience)),
        )

    def handle_return(self, payment, request):
        token = request.GET.get("token", "")
        if token and token != payment.reference:
            # The query string is the browser's; only our stored reference is used.
            logger.warning("PayPal return for payment %s with token %s, expected %s", payment.pk, token,
                           payment.reference)
        if payment.state in (S.CREATED, S.PENDING):
            self.refresh(payment)

    def refresh(self, payment):
        """Reads the order again and applies it; an order the buyer approved is captured (or
        authorized) first, whichever path gets here: return page, webhook or sweeper."""
        payment = Payment.objects.get(pk=payment.pk)
        if not payment.reference:
            return
        order = self._read_order(payment)
        if order is None:
            return
        if order.get("status") == "APPROVED" and payment.state in (S.CREATED, S.PENDING):
            order = self._capture_or_authorize(payment, order)
            if order is None:
                return
        self._apply_order(payment, order)

    def _capture_or_authorize(self, payment, order):
        """The order after completing it at PayPal; None when there is nothing to apply."""
        manual = payment.capture_mode == "manual"
        if order.get("intent") != ("AUTHORIZE" if manual else "CAPTURE"):
            logger.error("PayPal order %s has intent %s, payment %s is %s; not completed", payment.reference,
                         order.get("intent"), payment.pk, payment.capture_mode)
            return None
        try:
            if manual:
                return self.api.authorize_order(payment.reference,
                                                request_id=f"{payment.idempotency_key}-authorize")
            return self.api.capture_order(payment.reference, request_id=f"{payment.idempotency_key}-capture")
        except ProviderError as exc:
            if exc.code in DECLINED_ISSUES:
                services.fail(payment, gettext("PayPal refused the payment method"))
                return None
            if exc.code == "DUPLICATE_INVOICE_ID":
                # Another transaction on the PayPal account has this invoice id:
                # a new attempt (a new payment) gets a new one.
                logger.error("PayPal refused order %s of payment %s: duplicate invoice id", payment.reference,
                             payment.pk)
                services.fail(payment, gettext("PayPal refused the payment"))
                return None
            if exc.code in ALREADY_DONE_ISSUES:
                # Completed meanwhile by another path (same request id, or not): read what it did.
                return self._read_order(payment)
            raise

    def _read_order(self, payment):
        """The order as PayPal has it now; None (and the payment failed if still open) when PayPal has none."""
        try:
            return self.api.get_order(payment.reference)
        except ProviderError as exc:
            if exc.code in ("RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID"):
                # Orders the buyer never approved expire at PayPal.
                services.fail(payment, gettext("the PayPal order expired"))
                return None
            raise

    def _apply_order(self, payment, order):
        """Moves the payment to what the PayPal order says, through the (idempotent) services."""
        payment = Payment.objects.get(pk=payment.pk)
        if order.get("id") != payment.reference:
            logger.error("PayPal order %s read for payment %s (reference %s); ignored", order.get("id"),
                         payment.pk, payment.reference)
            return
        unit = _purchase_unit(order)
        money = unit.get("payments") or {}
        authorizations = [a for a in money.get("authorizations") or [] if isinstance(a, dict)]
        captures = [c for c in money.get("captures") or [] if isinstance(c, dict)]
        ours = custom_id(payment)
        theirs = {item.get("custom_id") for item in [unit, *authorizations, *captures]} - {None, ""}
        if theirs and theirs != {ours}:
            logger.error("PayPal order %s carries custom_id %s, payment %s expects %s; ignored",
                         payment.reference, sorted(theirs), payment.pk, ours)
            return
        taken = [c for c in captures if c.get("status") in CAPTURED]
        ids = {}
        if authorizations:
            ids["authorization_id"] = authorizations[-1].get("id", "")
        if taken:
            ids["capture_id"] = taken[-1].get("id", "")
        changed = {key: value for key, value in ids.items() if value and payment.provider_data.get(key) != value}
        if changed:
            payment = services.set_reference(payment, payment.reference, **changed)

        if payment.capture_mode == "manual" and authorizations:
            authorization = authorizations[-1]
            status = authorization.get("status")
            if status in HELD:
                amount, currency = minor_amount(authorization.get("amount") or {})
                payment = services.mark_authorized(payment, amount=amount, currency=currency)
            elif status == "DENIED":
                payment = services.fail(payment, gettext("PayPal refused the payment"))
            elif status in ("VOIDED", "EXPIRED") and payment.state in (S.CREATED, S.PENDING):
                payment = services.fail(payment, gettext("the PayPal authorization was released"))
            elif status in ("VOIDED", "EXPIRED") and payment.state == S.AUTHORIZED:
                logger.warning("PayPal authorization of payment %s is %s at PayPal", payment.pk, status)

        if taken:
            amounts = [minor_amount(c.get("amount") or {}) for c in taken]
            currencies = {currency for _amount, currency in amounts}
            currency = currencies.pop() if len(currencies) == 1 else None
            services.confirm_capture(payment, amount=sum(amount for amount, _currency in amounts),
                                     currency=currency)
        elif any(c.get("status") in ("DECLINED", "FAILED") for c in captures):
            services.fail(payment, gettext("PayPal refused the payment"))
        elif order.get("status") == "VOIDED":
            services.fail(payment, gettext("the PayPal order was canceled"))

    # --- Moving money after authorization -----------------------------------
    def _provider_id(self, payment, key):
        value = payment.provider_data.get(key)
        if not value and payment.reference:
            self.refresh(payment)
            value = Payment.objects.get(pk=payment.pk).provider_data.get(key)
        if not value:
            raise ProviderError(gettext("PayPal has no record of this payment's %(what)s.")
                                % {"what": key.replace("_", " ")})
        return value

    def capture(self, payment, amount):
        authorization_id = self._provider_id(payment, "authorization_id")
        # The amount is part of the request id: a retry of the same capture
        # reaches the same PayPal capture, a different amount is a new request.
        capture = self.api.capture_authorization(
            authorization_id, currency=payment.currency, value=paypal_value(amount, payment.currency),
            request_id=f"{payment.idempotency_key}-capture-{amount}",
        )
        status = capture.get("status")
        captured, currency = minor_amount(capture.get("amount") or {})
        if status not in ("COMPLETED", "PENDING"):
            raise ProviderError(gettext("PayPal refused the capture (%(status)s).") % {"status": status})
        if capture.get("amount") and (captured, currency) != (amount, payment.currency):
            logger.error("PayPal captured %s %s for payment %s, %s %s was asked", captured, currency, payment.pk,
                         amount, payment.currency)
            raise ProviderError(gettext("PayPal captured another amount than the one asked."))
        if capture.get("id"):
            services.set_reference(payment, payment.reference, capture_id=capture["id"])

    def void(self, payment):
        authorization_id = self._provider_id(payment, "authorization_id")
        try:
            result = self.api.void_authorization(authorization_id,
                                                 request_id=f"{payment.idempotency_key}-void")
        except ProviderError as exc:
            if exc.retryable:
                raise
            # Voided already (a retry, or from PayPal's dashboard)? Then it is done.
            result = self.api.get_authorization(authorization_id)
            if result.get("status") != "VOIDED":
                raise exc from None
        if result and result.get("status") not in (None, "VOIDED"):
            raise ProviderError(gettext("PayPal did not release the authorization (%(status)s).")
                                % {"status": result.get("status")})

    def refund(self, refund):
        payment = refund.payment
        capture_id = self._provider_id(payment, "capture_id")
        result = self.api.refund_capture(
            capture_id, currency=payment.currency, value=paypal_value(refund.amount, payment.currency),
            request_id=refund.idempotency_key, custom_id=refund_custom_id(refund),
        )
        status = result.get("status")
        if status == "PENDING":
            logger.info("PayPal refund %s for payment %s is pending at PayPal", result.get("id"), payment.pk)
        elif status != "COMPLETED":
            raise ProviderError(gettext("PayPal did not make the refund (%(status)s).") % {"status": status})
        return result.get("id", "")

    # --- Notifications --------------------------------------------------------
    def handle_webhook(self, request):
        try:
            raw = request.body.decode("utf-8")
            # NaN/Infinity are not JSON: the body is sent back to PayPal as it came.
            event = json.loads(raw, parse_constant=_not_json)
            event_id, event_type = str(event["id"]), str(event["event_type"])
            resource = event.get("resource") or {}
            if not isinstance(resource, dict):
                raise TypeError("resource is not an object")
        except (UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError):
            logger.warning("PayPal webhook refused: not a PayPal event")
            return HttpResponseBadRequest("malformed event")
        headers = {field: request.headers.get(header, "") for field, header in SIGNATURE_HEADERS.items()}
        if not all(headers.values()):
            logger.warning("PayPal webhook %s refused: transmission headers missing", event_id)
            return HttpResponseBadRequest("missing signature headers")
        webhook_id = conf.webhook_id()
        if not (webhook_id and conf.configured()):
            # Cannot be checked now; PayPal delivers again later (for three days).
            logger.error("PayPal webhook %s not verified: PAYPAL_WEBHOOK_ID or the app credentials are unset",
                         event_id)
            return HttpResponse("webhooks not configured", status=503)
        try:
            verdict = self.api.verify_webhook_signature(webhook_id=webhook_id, raw_event=raw, **headers)
        except ProviderError as exc:
            logger.warning("PayPal webhook %s not verified now: %s", event_id, exc)
            return HttpResponse("verification unavailable", status=503)
        if verdict != "SUCCESS":
            logger.warning("PayPal webhook %s (%s) refused: verification %s", event_id, event_type, verdict)
            return HttpResponseBadRequest("bad signature")
        stored, created = services.record_webhook(self.identifier, event_id, event_type, event)
        if not created and stored.processed_at:
            return HttpResponse("already processed")
        try:
            result = self._process(event_type, resource)
        except ProviderError as exc:
            # Stored but not processed: PayPal's next delivery finishes it.
            logger.warning("PayPal webhook %s (%s) not processed now: %s", event_id, event_type, exc)
            return HttpResponse("try again later", status=503)
        services.mark_webhook_processed(stored, result)
        return HttpResponse(result)

    def _payment_for_order(self, order_id):
        if not order_id:
            return None
        return Payment.objects.filter(provider=self.identifier, reference=order_id).first()

    def _process(self, event_type, resource):
        if event_type == "CHECKOUT.ORDER.APPROVED":
            payment = self._payment_for_order(resource.get("id", ""))
            if payment is None:
                logger.info("PayPal %s about unknown order %s ignored", event_type, resource.get("id"))
                return "ignored: unknown order"
            # The buyer approved but may never come back to our return page.
            self.refresh(payment)
            return "applied"
        if event_type in PAYMENT_EVENTS:
            order_id = _related_order_id(resource)
            if not order_id and resource.get("id"):
                reread = (self.api.get_authorization if event_type.startswith("PAYMENT.AUTHORIZATION.")
                          else self.api.get_capture)
                try:
                    order_id = _related_order_id(reread(resource["id"]))
                except ProviderError as exc:
                    if exc.retryable:
                        raise
            payment = self._payment_for_order(order_id)
            if payment is None:
                logger.info("PayPal %s about %s (order %s) not ours; ignored", event_type, resource.get("id"),
                            order_id or "?")
                return "ignored: unknown payment"
            # The order is read again: the event's copy is neither trusted nor needed.
            self.refresh(payment)
            return "applied"
        if event_type == "PAYMENT.CAPTURE.REFUNDED":
            return self._refunded(resource)
        logger.info("PayPal %s event ignored", event_type)
        return "ignored: event type"

    def _refunded(self, resource):
        refund_id = resource.get("id", "")
        rows = Refund.objects.filter(payment__provider=self.identifier)
        row = rows.filter(reference=refund_id).first() if refund_id else None
        claimed = str(resource.get("custom_id") or "")
        if row is None and claimed.startswith("cabinet-refund-") and claimed.removeprefix("cabinet-refund-").isdigit():
            row = rows.filter(pk=int(claimed.removeprefix("cabinet-refund-"))).first()
        if row is None:
            # Refunds made in PayPal's dashboard have no row here (the kernel has no service to record them).
            logger.warning("PayPal refund %s not made from this site; ignored", refund_id)
            return "ignored: unknown refund"
        try:
            remote = self.api.get_refund(refund_id)
        except ProviderError as exc:
            if exc.retryable:
                raise
            logger.warning("PayPal refund %s could not be read again (%s); ignored", refund_id, exc)
            return "ignored: unknown refund"
        if remote.get("custom_id") not in (None, "", refund_custom_id(row)):
            logger.error("PayPal refund %s belongs to %s, not refund %s; ignored", refund_id,
                         remote.get("custom_id"), row.pk)
            return "ignored: unknown refund"
        if remote.get("status") != "COMPLETED":
            return f"refund {remote.get('status', '?').lower()}"
        if row.state == Refund.State.FAILED:
            # Recorded as failed here (a timeout) but made at PayPal: someone must look.
            logger.error("PayPal completed refund %s that this site recorded as failed (refund %s)", refund_id,
                         row.pk)
            return "refund failed here, completed at PayPal"
        services.complete_refund(row, reference=refund_id)
        return "applied"
