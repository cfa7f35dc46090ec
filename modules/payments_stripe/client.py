"""Stripe's API through its official SDK (``stripe.StripeClient``).

This is the only file that knows the SDK. It builds the client from the
settings, sends every call that creates or moves money with the
idempotency key it is given, turns the SDK's errors into
:class:`~site_core.payments.providers.ProviderError` (retryable or not), and
returns Stripe's JSON as plain dicts (Stripe's documented shapes). Webhook
signatures are checked with the SDK's own ``WebhookSignature``.

All of Stripe's HTTP goes through one ``stripe.HTTPClient``
(:func:`http_client_instance`), so tests fake Stripe at that transport.
"""

from __future__ import annotations

import logging

import stripe
from django.utils.translation import gettext as _

from modules.payments_stripe import conf
from site_core.payments.providers import ProviderError

logger = logging.getLogger(__name__)

#: Seconds to wait for Stripe before giving up (the client is waiting on a page).
TIMEOUT_SECONDS = 30
#: How old a webhook's signature may be (Stripe's own default): older deliveries are replays.
WEBHOOK_TOLERANCE_SECONDS = stripe.Webhook.DEFAULT_TOLERANCE


def http_client_instance():
    """The HTTP client the SDK sends through. Tests replace this function to return
    a ``stripe.HTTPClient`` whose other end is a fake Stripe."""
    return stripe.RequestsClient(timeout=TIMEOUT_SECONDS)


def build_sdk_client():
    return stripe.StripeClient(
        conf.secret_key(),
        http_client=http_client_instance(),
        # Never retried blindly inside a request: every call that moves money
        # carries an idempotency key, and the caller (the client reloading,
        # the webhook's redelivery, the sweeper) decides when to try again.
        max_network_retries=0,
    )


def _error(exc: stripe.StripeError, what: str) -> ProviderError:
    status = exc.http_status or 0
    code = exc.code or getattr(exc.error, "type", None) or f"HTTP_{status}"
    message = exc.user_message or _("no details")
    logger.warning("Stripe %s failed: HTTP %s %s (%s) request=%s", what, status, code, exc.user_message,
                   exc.request_id)
    if isinstance(exc, stripe.AuthenticationError | stripe.PermissionError):
        logger.error("Stripe %s: the secret key was refused (%s)", what, exc.user_message)
        return ProviderError(_("Stripe did not accept the site's key."), code="authentication")
    if isinstance(exc, stripe.IdempotencyError):
        # The same key was sent with other parameters: a bug here, never retried.
        logger.error("Stripe %s: idempotency key reused with other parameters", what)
        return ProviderError(_("Stripe refused the request (%(code)s): %(message)s")
                             % {"code": "idempotency_error", "message": message}, code="idempotency_error")
    if isinstance(exc, stripe.CardError):
        return ProviderError(_("The card was declined: %(message)s") % {"message": message},
                             code=exc.code or "card_declined")
    retryable = isinstance(exc, stripe.RateLimitError) or status == 409 or status >= 500
    return ProviderError(_("Stripe refused the request (%(code)s): %(message)s") % {"code": code, "message": message},
                         retryable=retryable, code=code)


def _plain(obj) -> dict:
    if obj is None:
        return {}
    return obj.to_dict(recursive=True) if isinstance(obj, stripe.StripeObject) else dict(obj)


class StripeAPI:
    """The Stripe calls the provider makes, each returning Stripe's JSON as a dict."""

    def __init__(self, sdk_client=None):
        self.sdk = sdk_client or build_sdk_client()

    def _call(self, what, fn, *args, **kwargs):
        try:
            return _plain(fn(*args, **kwargs))
        except stripe.APIConnectionError as exc:
            # A timeout or a lost connection: Stripe may or may not have done it.
            # Trying again with the same idempotency key reaches the same object.
            logger.warning("Stripe %s did not answer: %s", what, exc.user_message)
            raise ProviderError(_("Stripe did not answer in time."), retryable=True, code="timeout") from exc
        except stripe.StripeError as exc:
            raise _error(exc, what) from exc

    # --- PaymentIntents ------------------------------------------------------------
    def create_payment_intent(self, params, *, idempotency_key):
        return self._call("create payment intent", self.sdk.v1.payment_intents.create, params=params,
                          options={"idempotency_key": idempotency_key})

    def retrieve_payment_intent(self, intent_id):
        return self._call("retrieve payment intent", self.sdk.v1.payment_intents.retrieve, intent_id)

    def capture_payment_intent(self, intent_id, *, amount, idempotency_key):
        return self._call("capture payment intent", self.sdk.v1.payment_intents.capture, intent_id,
                          params={"amount_to_capture": amount}, options={"idempotency_key": idempotency_key})

    def cancel_payment_intent(self, intent_id, *, idempotency_key, reason=None):
        params = {"cancellation_reason": reason} if reason else {}
        return self._call("cancel payment intent", self.sdk.v1.payment_intents.cancel, intent_id,
                          params=params, options={"idempotency_key": idempotency_key})

    # --- Refunds --------------------------------------------------------------------
    def create_refund(self, params, *, idempotency_key):
        return self._call("create refund", self.sdk.v1.refunds.create, params=params,
                          options={"idempotency_key": idempotency_key})

    def retrieve_refund(self, refund_id):
        return self._call("retrieve refund", self.sdk.v1.refunds.retrieve, refund_id)

    def list_refunds(self, intent_id):
        """Every refund of a PaymentIntent (a payment has a handful: pages are followed)."""
        page = self._call("list refunds", self.sdk.v1.refunds.list,
                          params={"payment_intent": intent_id, "limit": 100})
        refunds = list(page.get("data") or [])
        while page.get("has_more") and refunds:
            page = self._call("list refunds", self.sdk.v1.refunds.list,
                              params={"payment_intent": intent_id, "limit": 100,
                                      "starting_after": refunds[-1]["id"]})
            refunds.extend(page.get("data") or [])
        return refunds


def verify_webhook(payload: bytes, signature_header: str, secret: str) -> None:
    """Raises ValueError unless ``payload`` was signed by Stripe with ``secret`` recently
    (the SDK's check: HMAC-SHA256 over ``"<timestamp>.<payload>"``, within the tolerance)."""
    try:
        stripe.WebhookSignature.verify_header(payload, signature_header, secret,
                                              tolerance=WEBHOOK_TOLERANCE_SECONDS)
    except stripe.SignatureVerificationError as exc:
        raise ValueError(str(exc)) from exc
