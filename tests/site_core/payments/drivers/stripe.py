"""Driver of the Stripe provider for the contract test: Stripe faked at the SDK's HTTP client."""

import json
import re
from html import unescape

from site_core.payments.models import Payment
from tests.modules.payments_stripe.fake_stripe import SUCCEEDS, FakeStripe

from .base import GatewayDriver

SECRET_KEY = "sk_test_51FakeSecretKeyForTheTestsOnly"
PUBLISHABLE_KEY = "pk_test_51FakePublishableKeyForTheTestsOnly"
WEBHOOK_SECRET = "whsec_fake_signing_secret_for_the_tests"


def page_config(response):
    """The Stripe.js configuration the payment page hands its script (json_script)."""
    match = re.search(r'<script id="stripe-config" type="application/json">(.*?)</script>',
                      response.content.decode(), re.S)
    assert match, "no Stripe configuration in the page"
    return json.loads(unescape(match.group(1)))


def local(url):
    """The path and query of an absolute URL, as the test client wants them."""
    return url.removeprefix("http://testserver")


class StripeDriver(GatewayDriver):
    identifier = "stripe"

    def install(self, settings, monkeypatch):
        from modules.payments_stripe import client

        settings.STRIPE_SECRET_KEY = SECRET_KEY
        settings.STRIPE_PUBLISHABLE_KEY = PUBLISHABLE_KEY
        settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
        self.fake = FakeStripe(secret_key=SECRET_KEY, publishable_key=PUBLISHABLE_KEY,
                               webhook_secret=WEBHOOK_SECRET)
        monkeypatch.setattr(client, "http_client_instance", self.fake.http_client)

    def open_payment_page(self, client, order):
        """POSTs the choice of Stripe; returns (response, payment) with the Payment Element page shown."""
        response = client.post(f"/payments/checkout/{order.public_id}/pay/stripe/")
        assert response.status_code == 200, response.status_code
        payment = Payment.objects.get(order=order, provider="stripe", state=Payment.State.PENDING)
        assert payment.reference in self.fake.intents
        config = page_config(response)
        assert config["clientSecret"] == self.fake.intents[payment.reference]["client_secret"]
        return response, payment

    def start_without_completing(self, client, order):
        return self.open_payment_page(client, order)[1]

    def confirm_and_return(self, client, payment, payment_method=SUCCEEDS):
        """Stripe.js confirms in the page, then Stripe sends the browser to the return URL."""
        self.fake.confirm(payment.reference, payment_method)
        return client.get(local(self.fake.return_url(
            payment.reference, f"http://testserver/payments/return/{payment.pk}/")))

    def pay(self, client, order):
        _response, payment = self.open_payment_page(client, order)
        response = self.confirm_and_return(client, payment)
        assert response.status_code in (200, 302), response.status_code
        payment.refresh_from_db()
        return payment

    def complete_at_gateway(self, payment):
        self.fake.confirm(payment.reference)

    def signed_success_webhook(self, payment):
        event_type = ("payment_intent.amount_capturable_updated" if payment.capture_mode == "manual"
                      else "payment_intent.succeeded")
        return self.fake.signed(self.fake.intent_event(event_type, payment.reference))

    def signed_webhook_with(self, payment, *, event_id=None, event_type=None, note=None):
        event = self.fake.intent_event("payment_intent.succeeded", payment.reference)
        if event_id is not None:
            event["id"] = event_id
        if event_type is not None:
            event["type"] = event_type
        if note is not None:
            event["data"]["object"]["description"] = note
        # Signed by the Stripe SDK's own helper, as Stripe signs a delivery.
        return self.fake.signed(event)

    def gateway_captured(self, payment):
        return self.fake.captured(payment.reference)

    def gateway_refunded(self, payment):
        return self.fake.refunded(payment.reference)

    def gateway_voided(self, payment):
        return self.fake.canceled(payment.reference)
