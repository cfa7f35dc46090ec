"""Driver of the simulated 'test' card provider for the contract test."""

import json
import uuid

from modules.payments_test import gateway
from modules.payments_test.models import SimulatedCharge
from modules.payments_test.provider import sign
from site_core.payments.models import Payment

from .base import GatewayDriver


class TestCardDriver(GatewayDriver):
    identifier = "test"

    def install(self, settings, monkeypatch):
        settings.CABINET_TEST_PAYMENTS = True

    def start_without_completing(self, client, order):
        response = client.post(f"/payments/checkout/{order.public_id}/pay/test/")
        assert response.status_code == 200, response.status_code
        return Payment.objects.get(order=order, provider="test")

    def pay(self, client, order):
        payment = self.start_without_completing(client, order)
        response = client.post(f"/payments-test/pay/{payment.pk}/", {"card_number": gateway.SUCCESS})
        assert response.status_code == 302
        client.get(response["Location"])
        payment.refresh_from_db()
        return payment

    def complete_at_gateway(self, payment):
        gateway.pay_with_card(payment.reference, gateway.SUCCESS)

    def signed_success_webhook(self, payment):
        body = json.dumps({"id": f"evt_{uuid.uuid4().hex}", "type": "charge.succeeded",
                           "data": {"id": payment.reference, "amount": payment.amount}}).encode()
        return body, {"HTTP_X_CABINET_TEST_SIGNATURE": sign(body.decode())}

    def signed_webhook_with(self, payment, *, event_id=None, event_type=None, note=None):
        event = {"id": event_id if event_id is not None else f"evt_{uuid.uuid4().hex}",
                 "type": event_type if event_type is not None else "charge.succeeded",
                 "data": {"id": payment.reference, "amount": payment.amount}}
        if note is not None:
            event["data"]["note"] = note
        body = json.dumps(event).encode()
        return body, {"HTTP_X_CABINET_TEST_SIGNATURE": sign(body.decode())}

    def _charge(self, payment):
        return SimulatedCharge.objects.get(pk=payment.reference)

    def gateway_captured(self, payment):
        return self._charge(payment).amount_captured

    def gateway_refunded(self, payment):
        return self._charge(payment).amount_refunded

    def gateway_voided(self, payment):
        return self._charge(payment).status == "canceled"
