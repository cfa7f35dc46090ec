"""PayPal's notifications at /payments/webhooks/paypal/: verified by PayPal, stored once, never trusted."""

import json
import logging

import pytest

from site_core.payments import services
from site_core.payments.models import Order, Payment, PaymentLog, Refund, WebhookEvent

pytestmark = pytest.mark.django_db

URL = "/payments/webhooks/paypal/"
VERIFY = r"/v1/notifications/verify-webhook-signature"
ORDERS = r"/v2/checkout/orders"


@pytest.fixture
def started(buyer, fake, paypal, make_order):
    """A payment whose client was sent to PayPal and has not come back."""
    def start(total=4200, capture_mode="automatic"):
        return paypal.start_without_completing(buyer, make_order(total=total, capture_mode=capture_mode))

    return start


def post(client, body, headers):
    return client.post(URL, data=body, content_type="application/json", **headers)


def capture_completed(fake, payment):
    return fake.signed(fake.event("PAYMENT.CAPTURE.COMPLETED", fake.capture_resource(payment.reference)))


def test_replayed_five_times_confirms_once(client, fake, started):
    payment = started()
    fake.complete(payment.reference)
    body, headers = capture_completed(fake, payment)

    answers = [post(client, body, headers) for _ in range(5)]

    assert [answer.status_code for answer in answers] == [200] * 5
    assert answers[0].content == b"applied" and answers[-1].content == b"already processed"
    payment.refresh_from_db()
    assert payment.state == Payment.State.CAPTURED and payment.captured_amount == 4200
    assert payment.order.state == Order.State.PAID
    assert WebhookEvent.objects.filter(provider="paypal").count() == 1
    assert PaymentLog.objects.filter(payment=payment, to_state="captured").count() == 1
    assert len(fake.calls_to("POST", VERIFY)) == 5  # each delivery is verified before anything else
    assert len(fake.calls_to("GET", ORDERS + r"/[^/]+")) == 1


def test_verification_sends_the_headers_the_webhook_id_and_the_event_as_received(client, fake, started):
    payment = started()
    fake.complete(payment.reference)
    body, headers = capture_completed(fake, payment)
    post(client, body, headers)

    (call,) = fake.calls_to("POST", VERIFY)
    sent = json.loads(call.body)
    assert sent["webhook_id"] == fake.webhook_id
    assert sent["transmission_id"] == headers["HTTP_PAYPAL_TRANSMISSION_ID"]
    assert sent["transmission_sig"] == headers["HTTP_PAYPAL_TRANSMISSION_SIG"]
    assert sent["cert_url"] == headers["HTTP_PAYPAL_CERT_URL"] and sent["auth_algo"] == "SHA256withRSA"
    assert body.decode() in call.body  # byte for byte, not re-serialised
    assert call.headers["Authorization"].startswith("Bearer A21AA")


@pytest.mark.parametrize("tampering", ["amount", "event_type", "resource_id", "other_signature", "webhook_id"])
def test_tampered_notifications_are_refused_and_write_nothing(client, fake, started, tampering):
    payment = started()
    fake.complete(payment.reference)
    event = fake.event("PAYMENT.CAPTURE.COMPLETED", fake.capture_resource(payment.reference))
    body, headers = fake.signed(event)
    signed_body = body
    if tampering == "amount":
        body = body.replace(b'"value":"42.00"', b'"value":"4200.00"', 1)
    elif tampering == "event_type":
        body = body.replace(b"PAYMENT.CAPTURE.COMPLETED", b"PAYMENT.CAPTURE.REFUNDED", 1)
    elif tampering == "resource_id":
        body = body.replace(payment.reference.encode(), b"ANOTHERORDER00000", 1)
    elif tampering == "other_signature":
        _other_body, other_headers = fake.signed(fake.event("CHECKOUT.ORDER.APPROVED", {"id": "X"}))
        headers = {**headers, "HTTP_PAYPAL_TRANSMISSION_SIG": other_headers["HTTP_PAYPAL_TRANSMISSION_SIG"]}
    elif tampering == "webhook_id":
        body, headers = fake.signed(event, webhook_id="ANOTHERWEBHOOK")
    if tampering in ("amount", "event_type", "resource_id"):
        assert body != signed_body
    state_before = Payment.objects.get(pk=payment.pk).state

    response = post(client, body, headers)

    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()
    assert Payment.objects.get(pk=payment.pk).state == state_before
    assert not fake.calls_to("GET", ORDERS + r"/[^/]+")


@pytest.mark.parametrize("broken", ["not json", "no headers", "no id", "resource not an object", "NaN"])
def test_malformed_notifications_are_refused_without_asking_paypal(client, fake, broken):
    event = fake.event("PAYMENT.CAPTURE.COMPLETED", {"id": "CAPTURE1"})
    if broken == "no id":
        del event["id"]
    if broken == "resource not an object":
        event["resource"] = ["CAPTURE1"]
    body, headers = fake.signed(event)
    if broken == "not json":
        body = b"{not json"
    if broken == "NaN":
        body = body.replace(b'"event_version":"1.0"', b'"event_version":NaN')
        assert b"NaN" in body
    if broken == "no headers":
        headers = {}
    response = post(client, body, headers)
    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()
    assert not fake.calls


def test_without_a_webhook_id_notifications_wait_for_the_configuration(client, fake, started, settings, caplog):
    payment = started()
    fake.complete(payment.reference)
    body, headers = capture_completed(fake, payment)
    settings.PAYPAL_WEBHOOK_ID = ""
    with caplog.at_level(logging.ERROR):
        response = post(client, body, headers)
    assert response.status_code == 503
    assert not WebhookEvent.objects.exists() and not fake.calls_to("POST", VERIFY)
    assert any("PAYPAL_WEBHOOK_ID" in record.getMessage() for record in caplog.records)


def test_verification_unavailable_asks_paypal_to_deliver_again(client, fake, started):
    payment = started()
    fake.complete(payment.reference)
    body, headers = capture_completed(fake, payment)
    fake.fail_next("POST", VERIFY, "timeout_before")

    assert post(client, body, headers).status_code == 503
    assert not WebhookEvent.objects.exists()
    assert post(client, body, headers).status_code == 200
    payment.refresh_from_db()
    assert payment.state == Payment.State.CAPTURED


def test_a_notification_that_cannot_be_applied_now_is_kept_and_finished_on_redelivery(client, fake, started):
    payment = started()
    fake.complete(payment.reference)
    body, headers = capture_completed(fake, payment)
    fake.fail_next("GET", ORDERS + r"/[^/]+", "timeout_before")

    assert post(client, body, headers).status_code == 503
    event = WebhookEvent.objects.get()
    assert event.processed_at is None
    payment.refresh_from_db()
    assert payment.state == Payment.State.PENDING

    assert post(client, body, headers).status_code == 200
    event.refresh_from_db()
    payment.refresh_from_db()
    assert event.processed_at is not None and event.result == "applied"
    assert payment.state == Payment.State.CAPTURED and WebhookEvent.objects.count() == 1


def test_an_event_about_an_unknown_order_is_accepted_ignored_and_logged(client, fake, buyer, make_order, caplog):
    # An order made by another shop on the same PayPal account.
    foreign = fake._create_order(headers={}, raw="", body={
        "intent": "CAPTURE",
        "purchase_units": [{"amount": {"currency_code": "EUR", "value": "10.00"}, "custom_id": "elsewhere"}],
        "payment_source": {"paypal": {"experience_context": {"return_url": "https://a.example/r",
                                                             "cancel_url": "https://a.example/c"}}},
    })[1]
    fake.complete(foreign["id"])
    body, headers = fake.signed(fake.event("PAYMENT.CAPTURE.COMPLETED", fake.capture_resource(foreign["id"])))

    with caplog.at_level(logging.INFO):
        response = post(client, body, headers)

    assert response.status_code == 200 and response.content == b"ignored: unknown payment"
    event = WebhookEvent.objects.get()
    assert event.processed_at is not None and event.result == "ignored: unknown payment"
    assert not Payment.objects.exists()
    assert not fake.calls_to("GET", ORDERS + r"/[^/]+")
    assert any("not ours" in record.getMessage() for record in caplog.records)


def test_an_event_of_a_type_we_do_not_use_is_accepted_and_ignored(client, fake):
    body, headers = fake.signed(fake.event("CUSTOMER.DISPUTE.CREATED", {"dispute_id": "PP-D-1"},
                                           resource_type="dispute"))
    response = post(client, body, headers)
    assert response.status_code == 200 and response.content == b"ignored: event type"
    assert WebhookEvent.objects.get().event_type == "CUSTOMER.DISPUTE.CREATED"


def test_the_event_is_not_trusted_paypal_is_asked_again(client, fake, started):
    payment = started()
    fake.complete(payment.reference)
    resource = fake.capture_resource(payment.reference)
    # PayPal captured nothing for this payment (the buyer has not even approved), whatever the event says.
    fake.orders[payment.reference].capture_ids.clear()
    fake.orders[payment.reference].status = "PAYER_ACTION_REQUIRED"
    body, headers = fake.signed(fake.event("PAYMENT.CAPTURE.COMPLETED", resource))

    assert post(client, body, headers).status_code == 200

    payment.refresh_from_db()
    assert payment.state == Payment.State.PENDING and payment.captured_amount == 0
    assert not fake.calls_to("POST", ORDERS + r"/[^/]+/capture")


def test_approved_order_is_captured_when_the_buyer_never_comes_back(client, fake, started):
    payment = started(total=3500)
    fake.approve(payment.reference)
    order_json = fake.order_json(payment.reference)
    body, headers = fake.signed(fake.event("CHECKOUT.ORDER.APPROVED", order_json))

    assert post(client, body, headers).content == b"applied"
    assert post(client, *fake.signed(fake.event("CHECKOUT.ORDER.APPROVED", order_json))).status_code == 200

    payment.refresh_from_db()
    assert payment.state == Payment.State.CAPTURED and payment.captured_amount == 3500
    (capture_call,) = fake.calls_to("POST", ORDERS + r"/[^/]+/capture")
    assert capture_call.request_id == f"{payment.idempotency_key}-capture"
    assert len(fake.orders[payment.reference].capture_ids) == 1


def test_authorization_created_holds_the_budget_of_a_metered_session(client, fake, started):
    payment = started(total=6000, capture_mode="manual")
    fake.complete(payment.reference)
    authorization = fake.authorizations[fake.orders[payment.reference].authorization_ids[0]]
    body, headers = fake.signed(fake.event("PAYMENT.AUTHORIZATION.CREATED", authorization))

    assert post(client, body, headers).content == b"applied"

    payment.refresh_from_db()
    assert payment.state == Payment.State.AUTHORIZED and payment.authorized_amount == 6000
    assert payment.provider_data["authorization_id"] == authorization["id"]


def test_a_capture_event_without_its_order_id_is_traced_through_paypal(client, fake, started):
    payment = started()
    fake.complete(payment.reference)
    resource = fake.capture_resource(payment.reference)
    del resource["supplementary_data"]
    body, headers = fake.signed(fake.event("PAYMENT.CAPTURE.COMPLETED", resource))

    assert post(client, body, headers).content == b"applied"
    assert fake.calls_to("GET", r"/v2/payments/captures/" + resource["id"])
    payment.refresh_from_db()
    assert payment.state == Payment.State.CAPTURED


def test_denied_capture_fails_the_payment(client, fake, started):
    payment = started()
    fake.capture_outcome = "DECLINED"
    fake.complete(payment.reference)
    body, headers = fake.signed(fake.event("PAYMENT.CAPTURE.DENIED", fake.capture_resource(payment.reference)))

    assert post(client, body, headers).status_code == 200

    payment.refresh_from_db()
    assert payment.state == Payment.State.FAILED
    assert payment.order.state == Order.State.OPEN


def test_capture_amount_mismatch_from_a_webhook_is_not_marked_paid(client, fake, started, caplog):
    payment = started(total=4200)
    fake.amount_override = "4.20"
    fake.complete(payment.reference)
    body, headers = capture_completed(fake, payment)
    with caplog.at_level(logging.ERROR):
        assert post(client, body, headers).status_code == 200
    payment.refresh_from_db()
    assert payment.state == Payment.State.PENDING
    assert PaymentLog.objects.filter(payment=payment, message__contains="does not match").exists()
    assert any("does not match" in record.getMessage() for record in caplog.records)


def test_refund_notification_completes_a_refund_still_in_flight(client, fake, paypal, buyer, make_order):
    payment = paypal.pay(buyer, make_order(total=5000))
    # The refund was asked of PayPal and made there; our side has not heard back yet.
    row = Refund.objects.create(payment=payment, amount=2000)
    refund = fake._refund_capture(
        headers={}, raw="", id=payment.provider_data["capture_id"],
        body={"amount": {"currency_code": "EUR", "value": "20.00"}, "custom_id": f"cabinet-refund-{row.pk}"},
    )[1]
    body, headers = fake.signed(fake.event("PAYMENT.CAPTURE.REFUNDED", refund, resource_type="refund"))

    assert post(client, body, headers).content == b"applied"
    assert post(client, *fake.signed(fake.event("PAYMENT.CAPTURE.REFUNDED", refund,
                                                resource_type="refund"))).status_code == 200

    row.refresh_from_db()
    payment.refresh_from_db()
    assert row.state == Refund.State.DONE and row.reference == refund["id"]
    assert payment.refunded_amount == 2000
    assert fake.calls_to("GET", r"/v2/payments/refunds/" + refund["id"])


def test_refund_notification_for_a_refund_already_done_changes_nothing(client, fake, paypal, buyer, make_order):
    payment = paypal.pay(buyer, make_order(total=5000))
    services.refund(payment, 1500)
    row = Refund.objects.get(payment=payment, amount=1500)
    refund = fake.refunds[row.reference]
    body, headers = fake.signed(fake.event("PAYMENT.CAPTURE.REFUNDED", refund, resource_type="refund"))

    assert post(client, body, headers).status_code == 200

    payment.refresh_from_db()
    assert payment.refunded_amount == 1500
    assert PaymentLog.objects.filter(payment=payment, message="refunded").count() == 1
    assert fake.refunded_total(payment.reference) == 15


def test_refund_made_in_paypals_dashboard_is_ignored_and_logged(client, fake, paypal, buyer, make_order, caplog):
    payment = paypal.pay(buyer, make_order(total=5000))
    refund = fake._refund_capture(headers={}, raw="", id=payment.provider_data["capture_id"],
                                  body={"amount": {"currency_code": "EUR", "value": "5.00"}})[1]
    body, headers = fake.signed(fake.event("PAYMENT.CAPTURE.REFUNDED", refund, resource_type="refund"))
    with caplog.at_level(logging.WARNING):
        response = post(client, body, headers)
    assert response.status_code == 200 and response.content == b"ignored: unknown refund"
    payment.refresh_from_db()
    assert payment.refunded_amount == 0
    assert any("not made from this site" in record.getMessage() for record in caplog.records)
