"""The "test" payment provider: the simulated card gateway, with signed webhooks."""

import hashlib
import hmac
import json
import logging
import time

from django.conf import settings
from django.http import HttpResponse, HttpResponseBadRequest
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from modules.payments_test import gateway
from modules.payments_test.models import SimulatedCharge
from site_core.payments import services
from site_core.payments.models import Payment, Refund
from site_core.payments.providers import CheckoutStep, PaymentProvider, ProviderError

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "HTTP_X_CABINET_TEST_SIGNATURE"
TOLERANCE_SECONDS = 300


def webhook_secret():
    return hashlib.sha256(f"payments-test-webhook:{settings.SECRET_KEY}".encode()).hexdigest()


def sign(payload: str, timestamp=None) -> str:
    """The signature header for ``payload`` (tests and the simulated gateway use it)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(webhook_secret().encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(payload: str, header: str) -> bool:
    try:
        parts = dict(item.split("=", 1) for item in (header or "").split(","))
        timestamp = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs(time.time() - timestamp) > TOLERANCE_SECONDS:
        return False
    expected = sign(payload, timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


class TestCardProvider(PaymentProvider):
    identifier = "test"
    name = _("Test card (simulated)")
    can_authorize = True

    def is_available(self):
        return bool(settings.DEBUG or getattr(settings, "CABINET_TEST_PAYMENTS", False))

    def checkout(self, payment, request):
        try:
            charge = gateway.create_charge(idempotency_key=payment.idempotency_key, amount=payment.amount,
                                           currency=payment.currency,
                                           manual_capture=payment.capture_mode == "manual")
        except gateway.GatewayError as exc:
            raise ProviderError(str(exc)) from exc
        if not payment.reference:
            services.set_reference(payment, charge.id)
        services.mark_pending(payment, "card form shown")
        return CheckoutStep(template="payments_test/card_form.html", context={
            "charge": charge,
            "action_url": reverse("payments_test:pay", args=[payment.pk]),
            "cards": [(gateway.SUCCESS, _("succeeds")), (gateway.DECLINE, _("is declined")),
                      (gateway.REQUIRES_ACTION, _("asks for 3-D Secure"))],
        })

    def refresh(self, payment):
        if not payment.reference:
            return
        charge = SimulatedCharge.objects.filter(pk=payment.reference).first()
        if charge is None:
            return
        self.apply(payment, charge)

    def apply(self, payment, charge):
        if charge.status == "requires_capture":
            services.mark_authorized(payment, amount=charge.amount, currency=charge.currency, reference=charge.id)
        elif charge.status == "succeeded":
            if payment.capture_mode == "manual" and payment.state != Payment.State.AUTHORIZED:
                services.mark_authorized(payment, amount=charge.amount, currency=charge.currency)
            services.confirm_capture(payment, amount=charge.amount_captured, currency=charge.currency,
                                     reference=charge.id)
        elif charge.status == "failed":
            services.fail(payment, charge.failure_message)
        elif charge.status == "requires_action":
            services.mark_pending(payment, "waiting for 3-D Secure")

    def capture(self, payment, amount):
        try:
            gateway.capture(payment.reference, amount)
        except (gateway.GatewayError, SimulatedCharge.DoesNotExist) as exc:
            raise ProviderError(str(exc)) from exc

    def void(self, payment):
        try:
            gateway.cancel(payment.reference)
        except (gateway.GatewayError, SimulatedCharge.DoesNotExist) as exc:
            raise ProviderError(str(exc)) from exc

    def refund(self, refund):
        try:
            row = gateway.refund(refund.payment.reference, refund.amount, refund.idempotency_key)
        except (gateway.GatewayError, SimulatedCharge.DoesNotExist) as exc:
            raise ProviderError(str(exc)) from exc
        return row.id

    def handle_webhook(self, request):
        payload = request.body.decode("utf-8", errors="replace")
        if not verify(payload, request.META.get(SIGNATURE_HEADER, "")):
            logger.warning("payments_test webhook with a bad signature refused")
            return HttpResponseBadRequest("bad signature")
        try:
            data = json.loads(payload)
            event_id, event_type, obj = data["id"], data["type"], data["data"]
        except (ValueError, KeyError, TypeError):
            return HttpResponseBadRequest("malformed event")
        event, created = services.record_webhook(self.identifier, event_id, event_type, data)
        if not created and event.processed_at:
            return HttpResponse("already processed")
        result = self._process(event_type, obj)
        services.mark_webhook_processed(event, result)
        return HttpResponse(result)

    def _process(self, event_type, obj):
        if event_type.startswith("charge."):
            payment = Payment.objects.filter(provider=self.identifier, reference=obj.get("id", "")).first()
            charge = SimulatedCharge.objects.filter(pk=obj.get("id", "")).first()
            if payment is None or charge is None:
                logger.info("payments_test webhook %s about an unknown charge %s ignored", event_type, obj.get("id"))
                return "ignored: unknown charge"
            # The gateway is re-read rather than trusting the event's copy, so
            # events arriving out of order cannot move a payment backwards.
            self.apply(payment, charge)
            return "applied"
        if event_type == "refund.succeeded":
            refund = Refund.objects.filter(payment__provider=self.identifier,
                                           reference=obj.get("id", "")).first()
            if refund is None:
                return "ignored: unknown refund"
            services.complete_refund(refund, reference=obj["id"])
            return "applied"
        return "ignored: event type"
