"""The interface every payment provider implements (after pretix's BasePaymentProvider, trimmed).

A provider talks to its gateway; it never changes our tables itself: it
calls site_core.payments.services (mark_pending, mark_authorized,
confirm_capture, fail, ...), which lock, check amounts and log.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class ProviderError(Exception):
    """The gateway refused or could not be reached. ``retryable``: try again later."""

    def __init__(self, message, *, retryable=False, code=""):
        super().__init__(message)
        self.retryable = retryable
        self.code = code


@dataclass
class CheckoutStep:
    """What the checkout does next for a payment: render a page, or send the client elsewhere."""

    template: str = ""
    context: dict = field(default_factory=dict)
    redirect_url: str = ""


class PaymentProvider:
    identifier = ""
    name = ""
    #: Can authorize now and capture less later (metered sessions).
    can_authorize = False
    can_refund = True
    can_partially_refund = True

    def is_available(self) -> bool:
        """Configured and allowed here (keys present, or test mode on)."""
        return True

    # --- Paying ----------------------------------------------------------
    def checkout(self, payment, request) -> CheckoutStep:
        """Start (or resume) paying ``payment``: create the gateway object with
        ``payment.idempotency_key`` and say what the client sees next."""
        raise NotImplementedError

    def handle_return(self, payment, request) -> None:
        """The client came back from the gateway: read the gateway's state and apply it."""
        self.refresh(payment)

    def refresh(self, payment) -> None:
        """Read the payment's state at the gateway and apply it through the services."""
        raise NotImplementedError

    # --- Moving money after authorization -------------------------------
    def capture(self, payment, amount: int) -> None:
        """Capture ``amount`` (≤ authorized) of an authorized payment; raise ProviderError if refused."""
        raise NotImplementedError

    def void(self, payment) -> None:
        """Release an authorization."""
        raise NotImplementedError

    def refund(self, refund) -> str:
        """Send ``refund.amount`` back; return the gateway's refund id; raise ProviderError if refused."""
        raise NotImplementedError

    # --- Notifications --------------------------------------------------
    def handle_webhook(self, request):
        """Verify, store (site_core.payments.services.record_webhook) and apply a notification.

        Returns an HttpResponse: 400 for a bad signature (nothing written),
        200 for anything accepted, including events about unknown objects.
        """
        raise NotImplementedError
