"""Driver of the PayPal provider for the contract test: PayPal faked at the SDK's HTTP transport."""

from urllib.parse import urlsplit

from site_core.base.money import Money
from site_core.payments.models import Payment
from tests.modules.payments_paypal.fake_paypal import FakePayPal

from .base import GatewayDriver

CLIENT_ID = "AZfake-client-id-for-tests"
CLIENT_SECRET = "EFfake-client-secret-for-tests"
WEBHOOK_ID = "8PT597110X687430LKGECATA"


def local(url):
    """The path and query of an absolute URL, as the test client wants them."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


class PayPalDriver(GatewayDriver):
    identifier = "paypal"

    def install(self, settings, monkeypatch):
        from modules.payments_paypal import client

        settings.PAYPAL_CLIENT_ID = CLIENT_ID
        settings.PAYPAL_CLIENT_SECRET = CLIENT_SECRET
        settings.PAYPAL_WEBHOOK_ID = WEBHOOK_ID
        settings.PAYPAL_ENVIRONMENT = "sandbox"
        self.fake = FakePayPal(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, webhook_id=WEBHOOK_ID)
        monkeypatch.setattr(client, "http_client_instance", self.fake.session)

    def start_without_completing(self, client, order):
        response = client.post(f"/payments/checkout/{order.public_id}/pay/paypal/")
        assert response.status_code == 302, response.status_code
        assert response["Location"].startswith(f"{self.fake.web}/checkoutnow?token="), response["Location"]
        payment = Payment.objects.get(order=order, provider="paypal")
        assert payment.state == Payment.State.PENDING and payment.reference in self.fake.orders
        return payment

    def pay(self, client, order):
        payment = self.start_without_completing(client, order)
        back_to_site = self.fake.approve(payment.reference)
        response = client.get(local(back_to_site))
        assert response.status_code in (200, 302), response.status_code
        payment.refresh_from_db()
        return payment

    def complete_at_gateway(self, payment):
        self.fake.complete(payment.reference)

    def signed_success_webhook(self, payment):
        event = self.fake.event("PAYMENT.CAPTURE.COMPLETED", self.fake.capture_resource(payment.reference),
                                summary=f"Payment completed for {payment.currency} {payment.money.to_decimal()}")
        return self.fake.signed(event)

    def signed_webhook_with(self, payment, *, event_id=None, event_type=None, note=None):
        event = self.fake.event("PAYMENT.CAPTURE.COMPLETED", self.fake.capture_resource(payment.reference))
        if event_id is not None:
            event["id"] = event_id
        if event_type is not None:
            event["event_type"] = event_type
        if note is not None:
            event["resource"]["note_to_payer"] = note
        # Remembered as signed by the fake: its verify-webhook-signature endpoint answers SUCCESS.
        return self.fake.signed(event)

    def _minor(self, payment, value):
        return Money.from_decimal(value, payment.currency).amount

    def gateway_captured(self, payment):
        return self._minor(payment, self.fake.captured_total(payment.reference))

    def gateway_refunded(self, payment):
        return self._minor(payment, self.fake.refunded_total(payment.reference))

    def gateway_voided(self, payment):
        return self.fake.voided(payment.reference)
