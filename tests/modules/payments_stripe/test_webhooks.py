"""Stripe's notifications at /payments/webhooks/stripe/: signed, stored once, never trusted for state."""

import json
import logging
import time

import pytest

from site_core.payments import services
from site_core.payments.models import Order, Payment, PaymentLog, Refund, WebhookEvent
from tests.modules.payments_stripe.fake_stripe import DECLINED, PROCESSING

pytestmark = pytest.mark.django_db

URL = "/payments/webhooks/stripe/"
INTENTS = r"/v1/payment_intents"
INTENT = INTENTS + r"/[^/]+"


@pytest.fixture
def started(buyer, stripe_gateway, make_order):
    """A payment whose client has the Payment Element open and has not come back."""
    def start(total=4200, capture_mode="automatic"):
        return stripe_gateway.start_without_completing(buyer, make_order(total=total, capture_mode=capture_mode))

    return start


def post(client, body, headers):
    return client.post(URL, data=body, content_type="application/json", **headers)


def deliver(client, fake, event_type, payment, **kwargs):
    return post(client, *fake.signed(fake.intent_event(event_type, payment.reference, **kwargs)))


def test_replayed_five_times_in_sequence_confirms_once(client, fake, started):
    payment = started()
    fake.confirm(payment.reference)
    body, headers = fake.signed(fake.intent_event("payment_intent.succeeded", payment.reference))

    answers = [post(client, body, headers) for _ in range(5)]

    assert [answer.status_code for answer in answers] == [200] * 5
    assert answers[0].content == b"applied" and answers[-1].content == b"already processed"
    payment.refresh_from_db()
    assert payment.state == Payment.State.CAPTURED and payment.captured_amount == 4200
    assert payment.order.state == Order.State.PAID
    assert WebhookEvent.objects.filter(provider="stripe").count() == 1
    assert PaymentLog.objects.filter(payment=payment, to_state="captured").count() == 1
    assert len(fake.calls_to("GET", INTENT)) == 1  # read again once, not trusted from the event


@pytest.mark.parametrize("tampering", ["amount", "status", "intent", "other_secret", "no_signature",
                                       "signature_of_another_event"])
def test_tampered_notifications_are_refused_and_write_nothing(client, fake, started, tampering):
    payment = started()
    fake.confirm(payment.reference)
    event = fake.intent_event("payment_intent.succeeded", payment.reference)
    body, headers = fake.signed(event)
    signed_body = body
    if tampering == "amount":
        body = body.replace(b'"amount": 4200', b'"amount": 42', 1)
    elif tampering == "status":
        body = body.replace(b'"status": "succeeded"', b'"status": "canceled"', 1)
    elif tampering == "intent":
        body = body.replace(payment.reference.encode(), b"pi_another", 1)
    elif tampering == "other_secret":
        body, headers = fake.signed(event, secret="whsec_someone_else")
    elif tampering == "no_signature":
        headers = {}
    elif tampering == "signature_of_another_event":
        _other, headers = fake.signed(fake.event("charge.refunded", {"id": "ch_1"}))
    if tampering in ("amount", "status", "intent"):
        assert body != signed_body
    state_before = Payment.objects.get(pk=payment.pk).state

    response = post(client, body, headers)

    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()
    assert Payment.objects.get(pk=payment.pk).state == state_before
    assert not fake.calls_to("GET", INTENT)


def test_a_stale_signature_is_refused_as_a_replay(client, fake, started):
    payment = started()
    fake.confirm(payment.reference)
    event = fake.intent_event("payment_intent.succeeded", payment.reference)
    body, headers = fake.signed(event, timestamp=int(time.time()) - 301)

    response = post(client, body, headers)

    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()
    assert Payment.objects.get(pk=payment.pk).state == Payment.State.PENDING


def test_signed_but_not_an_event_is_refused(client, fake):
    body, headers = fake.signed({"id": "evt_1", "type": "payment_intent.succeeded", "data": {"object": ["x"]}})
    assert post(client, body, headers).status_code == 400
    body, headers = fake.signed({"hello": "world"})
    assert post(client, body, headers).status_code == 400
    assert not WebhookEvent.objects.exists() and not fake.calls


def test_without_a_webhook_secret_notifications_wait_for_the_configuration(client, fake, started, settings, caplog):
    payment = started()
    fake.confirm(payment.reference)
    body, headers = fake.signed(fake.intent_event("payment_intent.succeeded", payment.reference))
    settings.STRIPE_WEBHOOK_SECRET = ""

    with caplog.at_level(logging.ERROR):
        response = post(client, body, headers)

    assert response.status_code == 503
    assert not WebhookEvent.objects.exists()
    assert any("STRIPE_WEBHOOK_SECRET" in record.getMessage() for record in caplog.records)


def test_an_intent_that_is_not_ours_is_acknowledged_and_ignored(client, fake, stripe_gateway, caplog):
    intent = fake._create_intent({"amount": "999", "currency": "eur", "metadata": {"order": "elsewhere"}})
    body, headers = fake.signed(fake.event("payment_intent.succeeded", intent))

    with caplog.at_level(logging.INFO):
        response = post(client, body, headers)

    assert response.status_code == 200 and response.content == b"ignored: unknown payment"
    event = WebhookEvent.objects.get(provider="stripe")
    assert event.processed_at is not None and event.result == "ignored: unknown payment"
    assert not Payment.objects.exists()
    assert any(intent["id"] in record.getMessage() for record in caplog.records)


def test_an_event_type_we_do_not_use_is_acknowledged(client, fake):
    body, headers = fake.signed(fake.event("customer.created", {"id": "cus_1", "object": "customer"}))
    response = post(client, body, headers)
    assert response.status_code == 200 and response.content == b"ignored: event type"


def test_a_failure_arriving_after_the_success_does_not_unpay(client, fake, started):
    payment = started()
    fake.confirm(payment.reference, DECLINED)
    failed = fake.signed(fake.intent_event("payment_intent.payment_failed", payment.reference))
    fake.confirm(payment.reference)  # the client tried another card in the page
    succeeded = fake.signed(fake.intent_event("payment_intent.succeeded", payment.reference))

    assert post(client, *succeeded).status_code == 200
    assert post(client, *failed).status_code == 200  # delivered late

    payment.refresh_from_db()
    assert payment.state == Payment.State.CAPTURED and payment.order.state == Order.State.PAID
    assert WebhookEvent.objects.filter(provider="stripe").count() == 2


def test_a_failure_whose_client_may_still_try_another_card_keeps_the_payment_open(client, fake, started):
    payment = started()
    fake.confirm(payment.reference, DECLINED)

    assert deliver(client, fake, "payment_intent.payment_failed", payment).status_code == 200

    payment.refresh_from_db()
    assert payment.state == Payment.State.PENDING  # the same intent can still be paid in the page


def test_a_held_budget_is_recorded_from_the_notification(client, fake, started):
    payment = started(total=6000, capture_mode="manual")
    fake.confirm(payment.reference)

    assert deliver(client, fake, "payment_intent.amount_capturable_updated", payment).status_code == 200

    payment.refresh_from_db()
    assert payment.state == Payment.State.AUTHORIZED and payment.authorized_amount == 6000
    assert payment.order.state == Order.State.PAID


def test_a_capture_notified_after_our_own_changes_nothing(client, fake, started):
    payment = started(total=6000, capture_mode="manual")
    fake.confirm(payment.reference)
    deliver(client, fake, "payment_intent.amount_capturable_updated", payment)
    services.capture(Payment.objects.get(pk=payment.pk), 2500)

    assert deliver(client, fake, "payment_intent.succeeded", payment).status_code == 200

    payment.refresh_from_db()
    assert payment.state == Payment.State.CAPTURED and payment.captured_amount == 2500
    assert PaymentLog.objects.filter(payment=payment, to_state="captured").count() == 1


def test_an_authorization_released_at_stripe_releases_it_here(client, fake, started):
    payment = started(total=6000, capture_mode="manual")
    fake.confirm(payment.reference)
    deliver(client, fake, "payment_intent.amount_capturable_updated", payment)
    fake._cancel_intent({"cancellation_reason": "automatic"}, payment.reference)  # expired after 7 days

    assert deliver(client, fake, "payment_intent.canceled", payment).status_code == 200

    payment.refresh_from_db()
    assert payment.state == Payment.State.CANCELED


def test_a_canceled_intent_fails_an_open_payment(client, fake, started):
    payment = started()
    fake._cancel_intent({}, payment.reference)
    assert deliver(client, fake, "payment_intent.canceled", payment).status_code == 200
    payment.refresh_from_db()
    assert payment.state == Payment.State.FAILED


def test_processing_then_succeeded(client, fake, started):
    payment = started()
    fake.confirm(payment.reference, PROCESSING)
    assert deliver(client, fake, "payment_intent.processing", payment).status_code == 200
    payment.refresh_from_db()
    assert payment.state == Payment.State.PENDING
    fake.settle(payment.reference)
    assert deliver(client, fake, "payment_intent.succeeded", payment).status_code == 200
    payment.refresh_from_db()
    assert payment.state == Payment.State.CAPTURED


def test_the_notification_finds_a_payment_whose_creation_answer_was_lost(client, buyer, fake, make_order):
    order = make_order(total=3900)
    fake.fail_next("POST", INTENTS, "timeout_after")
    buyer.post(f"/payments/checkout/{order.public_id}/pay/stripe/")
    payment = Payment.objects.get(order=order)
    assert payment.reference == ""
    (intent_id,) = fake.intents
    fake.confirm(intent_id)  # e.g. paid from another tab that did get the page

    body, headers = fake.signed(fake.intent_event("payment_intent.succeeded", intent_id))
    assert post(client, body, headers).status_code == 200

    payment.refresh_from_db()
    assert payment.reference == intent_id and payment.state == Payment.State.CAPTURED


def test_metadata_of_another_site_is_not_enough_to_claim_a_payment(client, buyer, fake, make_order):
    order = make_order()
    fake.fail_next("POST", INTENTS, "timeout_before")
    buyer.post(f"/payments/checkout/{order.public_id}/pay/stripe/")
    payment = Payment.objects.get(order=order)
    stranger = fake._create_intent({"amount": "5000", "currency": "eur", "metadata": {
        "cabinet_payment": str(payment.pk), "cabinet_order": "0" * 32}})
    fake.confirm(stranger["id"])

    response = post(client, *fake.signed(fake.intent_event("payment_intent.succeeded", stranger["id"])))

    assert response.content == b"ignored: unknown payment"
    payment.refresh_from_db()
    assert payment.reference == "" and payment.state == Payment.State.PENDING


def test_a_notification_that_cannot_be_applied_now_is_kept_and_finished_on_redelivery(client, fake, started):
    payment = started()
    fake.confirm(payment.reference)
    body, headers = fake.signed(fake.intent_event("payment_intent.succeeded", payment.reference))
    fake.fail_next("GET", INTENT, "timeout_before")

    first = post(client, body, headers)

    assert first.status_code == 503
    stored = WebhookEvent.objects.get(provider="stripe")
    assert stored.processed_at is None
    assert post(client, body, headers).status_code == 200
    payment.refresh_from_db()
    assert payment.state == Payment.State.CAPTURED
    assert WebhookEvent.objects.filter(provider="stripe").count() == 1


def test_a_refund_whose_answer_was_lost_is_completed_by_the_notification(client, buyer, stripe_gateway, fake,
                                                                         make_order):
    payment = stripe_gateway.pay(buyer, make_order(total=5000))
    fake.fail_next("POST", r"/v1/refunds", "timeout_after")
    with pytest.raises(services.PaymentRefused):
        services.refund(payment, 2000)
    row = Refund.objects.get(payment=payment)
    assert row.state == Refund.State.CREATED
    (remote,) = fake.refunds.values()

    response = post(client, *fake.signed(fake.event("refund.updated", remote)))

    assert response.status_code == 200
    row.refresh_from_db()
    payment.refresh_from_db()
    assert row.state == Refund.State.DONE and row.reference == remote["id"]
    assert payment.refunded_amount == 2000
    # charge.refunded says it again: nothing more.
    charge = {"id": remote["charge"], "object": "charge", "payment_intent": payment.reference, "refunded": False}
    assert post(client, *fake.signed(fake.event("charge.refunded", charge))).status_code == 200
    payment.refresh_from_db()
    assert payment.refunded_amount == 2000


def test_a_refund_made_in_the_dashboard_is_ignored_and_logged(client, buyer, stripe_gateway, fake, make_order,
                                                              caplog):
    payment = stripe_gateway.pay(buyer, make_order(total=5000))
    remote = fake._create_refund({"payment_intent": payment.reference, "amount": "1000"})

    with caplog.at_level(logging.WARNING):
        response = post(client, *fake.signed(fake.event("refund.created", remote)))

    assert response.status_code == 200
    payment.refresh_from_db()
    assert payment.refunded_amount == 0 and not Refund.objects.exists()
    assert any("not made from this site" in record.getMessage() for record in caplog.records)


def test_the_event_is_stored_as_received(client, fake, started):
    payment = started()
    fake.confirm(payment.reference)
    body, headers = fake.signed(fake.intent_event("payment_intent.succeeded", payment.reference, event_id="evt_1"))
    post(client, body, headers)
    stored = WebhookEvent.objects.get(provider="stripe", event_id="evt_1")
    assert stored.event_type == "payment_intent.succeeded" and stored.payload == json.loads(body)


@pytest.mark.parametrize("number", [float("nan"), float("inf")])
def test_a_signed_event_with_a_number_json_cannot_hold_is_refused(client, fake, started, number):
    """Python's json reads NaN and Infinity, which PostgreSQL's jsonb refuses: a 400, not a 500."""
    payment = started()
    fake.confirm(payment.reference)
    event = fake.intent_event("payment_intent.succeeded", payment.reference)
    event["data"]["object"]["amount_details"] = {"tip": number}
    body, headers = fake.signed(event)  # the Stripe SDK's own signing helper

    response = post(client, body, headers)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_event" and response.json()["field"] == "payload"
    assert not WebhookEvent.objects.exists()
    assert Payment.objects.get(pk=payment.pk).state == Payment.State.PENDING


def test_a_raising_receiver_neither_fails_the_webhook_nor_stops_the_others(
        client, fake, started, listen, django_capture_on_commit_callbacks):
    """The provider is answered from the committed state: order_paid is recorded with the
    capture, one receiver's failure is kept for a retry, the other receivers still get it."""
    from site_core import events
    from site_core.events.models import Delivery

    def broken(kwargs):
        raise RuntimeError("a receiver with a bug")

    listen(events.order_paid, fail=broken)
    healthy = listen(events.order_paid)
    payment = started()
    fake.confirm(payment.reference)
    with django_capture_on_commit_callbacks(execute=True):
        answer = deliver(client, fake, "payment_intent.succeeded", payment)
    assert answer.status_code == 200 and answer.content == b"applied"
    payment.refresh_from_db()
    assert payment.state == Payment.State.CAPTURED and payment.order.state == Order.State.PAID
    assert [r["order_id"] for r in healthy] == [payment.order_id]
    failing = Delivery.objects.get(event__name="order_paid", receiver__endswith="listen_order_paid_0")
    assert failing.state == Delivery.State.PENDING and "a receiver with a bug" in failing.last_error
    # The provider sends it again: nothing is applied twice, nothing announced twice.
    with django_capture_on_commit_callbacks(execute=True):
        again = deliver(client, fake, "payment_intent.succeeded", payment)
    assert again.status_code == 200 and len(healthy) == 1
