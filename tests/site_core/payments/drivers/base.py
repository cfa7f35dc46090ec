"""What the provider contract test needs from each provider's test driver.

A driver plays the gateway's side for one provider, without any network:
it configures the provider (settings, keys) and fakes the gateway's HTTP at
the transport (Stripe: the SDK's HTTP client; PayPal: the SDK's HTTP
client), so the provider's real code runs.
"""


class GatewayDriver:
    #: The provider's identifier (Payment.provider).
    identifier = ""

    def install(self, settings, monkeypatch):
        """Configure the provider (keys/settings) and install the fake gateway."""
        raise NotImplementedError

    def pay(self, client, order):
        """Pays ``order`` as its (logged-in) client would through the site, with a card
        that succeeds: POST /payments/checkout/<id>/pay/<identifier>/, then whatever
        the gateway's page would do (approve at the fake gateway), then GET the
        return URL. Returns the Payment, refreshed. For a manual-capture order the
        payment ends AUTHORIZED, otherwise CAPTURED."""
        raise NotImplementedError

    def start_without_completing(self, client, order):
        """Starts paying (checkout step done, gateway object created) but the client has
        not finished: the payment is CREATED or PENDING. Returns the Payment."""
        raise NotImplementedError

    def complete_at_gateway(self, payment):
        """The gateway now holds the payment as succeeded (captured in full), without our
        site being told yet (the webhook will tell it)."""
        raise NotImplementedError

    def signed_success_webhook(self, payment):
        """(body: bytes, headers: dict of request.META-style keys) of a correctly signed
        notification saying ``payment`` succeeded."""
        raise NotImplementedError

    def signed_webhook_with(self, payment, *, event_id=None, event_type=None, note=None):
        """(body, headers) of the success notification of ``payment``, correctly signed, with its
        event id and/or type replaced and, given ``note``, a text field holding it added inside
        the event's object: what a gateway could sign that the site cannot store."""
        raise NotImplementedError

    def tamper(self, body, headers):
        """The same notification with its body changed after signing."""
        return body.replace(b'"', b"'", 1) if b'"amount' not in body else body.replace(b'"amount', b'"amounx', 1), headers

    def gateway_captured(self, payment):
        """Amount (minor units) the fake gateway recorded as captured for this payment."""
        raise NotImplementedError

    def gateway_refunded(self, payment):
        """Amount (minor units) the fake gateway recorded as refunded for this payment."""
        raise NotImplementedError

    def gateway_voided(self, payment):
        """True if the fake gateway recorded the authorization as released."""
        raise NotImplementedError
