"""The contract every payment provider keeps, run against each registered provider.

Each provider has a driver in drivers/ that fakes its gateway at the HTTP
transport; the provider's own code runs unchanged.
"""

import importlib

import pytest

from site_core.payments import services
from site_core.payments.models import Order, Payment, PaymentLog, Refund, WebhookEvent

DRIVERS = {
    "test": "tests.site_core.payments.drivers.test_card.TestCardDriver",
    "stripe": "tests.site_core.payments.drivers.stripe.StripeDriver",
    "paypal": "tests.site_core.payments.drivers.paypal.PayPalDriver",
}


def load_driver(identifier):
    module_name, _, class_name = DRIVERS[identifier].rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            pytest.fail(f"No contract driver for provider {identifier!r} ({module_name})")
        raise
    return getattr(module, class_name)()


@pytest.fixture(params=list(DRIVERS))
def driver(request, settings, monkeypatch):
    instance = load_driver(request.param)
    instance.install(settings, monkeypatch)
    return instance


@pytest.fixture
def paying_client(client, client_user):
    client.force_login(client_user)
    return client


@pytest.mark.django_db
def test_authorize_then_capture_less_than_authorized(driver, paying_client, make_order):
    order = make_order(total=6000, capture_mode="manual")
    payment = driver.pay(paying_client, order)
    assert payment.state == Payment.State.AUTHORIZED
    assert payment.authorized_amount == 6000 and payment.captured_amount == 0
    order.refresh_from_db()
    assert order.state == Order.State.PAID  # secured: the budget is held

    services.capture(payment, 4000)
    payment.refresh_from_db()
    assert payment.state == Payment.State.CAPTURED and payment.captured_amount == 4000
    assert driver.gateway_captured(payment) == 4000


@pytest.mark.django_db
def test_capture_above_authorized_is_refused(driver, paying_client, make_order):
    payment = driver.pay(paying_client, make_order(total=3000, capture_mode="manual"))
    with pytest.raises(services.PaymentRefused):
        services.capture(payment, 3001)
    payment.refresh_from_db()
    assert payment.state == Payment.State.AUTHORIZED and payment.captured_amount == 0
    assert driver.gateway_captured(payment) == 0


@pytest.mark.django_db
def test_void_releases_the_authorization(driver, paying_client, make_order):
    payment = driver.pay(paying_client, make_order(total=2500, capture_mode="manual"))
    services.void(payment)
    payment.refresh_from_db()
    assert payment.state == Payment.State.CANCELED
    assert driver.gateway_voided(payment)


@pytest.mark.django_db
def test_full_refund(driver, paying_client, make_order):
    payment = driver.pay(paying_client, make_order(total=5000))
    assert payment.state == Payment.State.CAPTURED
    services.refund(payment, 5000, reason="expert missed the call")
    payment.refresh_from_db()
    assert payment.refunded_amount == 5000
    assert Refund.objects.get(payment=payment).state == Refund.State.DONE
    assert driver.gateway_refunded(payment) == 5000


@pytest.mark.django_db
def test_partial_refunds_and_refusal_above_what_remains(driver, paying_client, make_order):
    payment = driver.pay(paying_client, make_order(total=5000))
    services.refund(payment, 1000)
    services.refund(payment, 500)
    with pytest.raises(services.PaymentRefused):
        services.refund(payment, 3501)
    payment.refresh_from_db()
    assert payment.refunded_amount == 1500
    assert Refund.objects.filter(payment=payment).count() == 2
    assert driver.gateway_refunded(payment) == 1500


@pytest.mark.django_db
def test_replayed_webhook_confirms_once(driver, client, make_order, client_user):
    client.force_login(client_user)
    order = make_order(total=4200)
    payment = driver.start_without_completing(client, order)
    driver.complete_at_gateway(payment)
    body, headers = driver.signed_success_webhook(payment)
    url = f"/payments/webhooks/{driver.identifier}/"
    for _ in range(5):
        response = client.post(url, data=body, content_type="application/json", **headers)
        assert response.status_code == 200
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.state == Payment.State.CAPTURED and payment.captured_amount == 4200
    assert order.state == Order.State.PAID
    assert WebhookEvent.objects.filter(provider=driver.identifier).count() == 1
    assert PaymentLog.objects.filter(payment=payment, to_state="captured").count() == 1


@pytest.mark.django_db
def test_tampered_webhook_is_refused_and_writes_nothing(driver, client, make_order, client_user):
    client.force_login(client_user)
    order = make_order(total=4200)
    payment = driver.start_without_completing(client, order)
    driver.complete_at_gateway(payment)
    body, headers = driver.signed_success_webhook(payment)
    body, headers = driver.tamper(body, headers)
    state_before = Payment.objects.get(pk=payment.pk).state
    response = client.post(f"/payments/webhooks/{driver.identifier}/", data=body,
                           content_type="application/json", **headers)
    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()
    assert Payment.objects.get(pk=payment.pk).state == state_before


def nested_lists(depth):
    value = "bottom"
    for _ in range(depth):
        value = [value]
    return value


#: Notifications a gateway could sign that no column can hold (PostgreSQL refuses a NUL in text
#: and jsonb, and a lone surrogate in jsonb): (what is wrong, the field named in the answer).
UNSTORABLE = {
    "id_too_long": ({"event_id": "evt_" + "x" * 125}, "id"),
    "empty_id": ({"event_id": ""}, "id"),
    "nul_in_id": ({"event_id": "evt_1\x00"}, "id"),
    "type_too_long": ({"event_type": "payment_intent." + "x" * 86}, "type"),
    "nul_in_type": ({"event_type": "charge.succeeded\x00"}, "type"),
    "nul_in_payload": ({"note": "a\x00b"}, "payload"),
    "lone_surrogate_in_payload": ({"note": "\ud800"}, "payload"),
    "deeply_nested_payload": ({"note": nested_lists(200)}, "payload"),
}


@pytest.mark.django_db
@pytest.mark.parametrize("fault", list(UNSTORABLE))
def test_a_signed_event_that_cannot_be_stored_is_a_clear_400(driver, client, make_order, client_user, fault,
                                                              caplog):
    """Not a 500, that the gateway would retry for days: refused, nothing stored, a warning logged."""
    client.force_login(client_user)
    payment = driver.start_without_completing(client, make_order(total=4200))
    driver.complete_at_gateway(payment)
    changes, field = UNSTORABLE[fault]
    body, headers = driver.signed_webhook_with(payment, **changes)
    state_before = Payment.objects.get(pk=payment.pk).state

    with caplog.at_level("WARNING", logger="site_core.payments"):
        response = client.post(f"/payments/webhooks/{driver.identifier}/", data=body,
                               content_type="application/json", **headers)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    answer = response.json()
    assert answer["code"] == "invalid_event" and answer["field"] == field
    assert answer["detail"]
    assert not WebhookEvent.objects.exists()
    assert Payment.objects.get(pk=payment.pk).state == state_before
    assert any(record.levelname == "WARNING" and driver.identifier in record.getMessage()
               for record in caplog.records)


@pytest.mark.django_db
def test_the_longest_storable_event_is_stored(driver, client, make_order, client_user):
    client.force_login(client_user)
    payment = driver.start_without_completing(client, make_order(total=4200))
    driver.complete_at_gateway(payment)
    event_id = "evt_" + "x" * 124
    body, headers = driver.signed_webhook_with(payment, event_id=event_id, note="é ✓ 😀")

    response = client.post(f"/payments/webhooks/{driver.identifier}/", data=body,
                           content_type="application/json", **headers)

    assert response.status_code == 200
    stored = WebhookEvent.objects.get(provider=driver.identifier)
    assert stored.event_id == event_id and len(stored.event_id) == 128


@pytest.mark.django_db
def test_a_body_nested_too_deeply_for_any_parser_is_a_400(client, make_order, client_user, caplog):
    """100 000 levels overflow json's recursion (a RecursionError, a 500 that the gateway would retry):
    the body is measured before anything parses it."""
    from modules.payments_test.provider import sign

    body = b'{"id": "evt_deep", "type": "charge.succeeded", "data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with caplog.at_level("WARNING", logger="site_core.payments"):
        response = client.post("/payments/webhooks/test/", data=body, content_type="application/json",
                               HTTP_X_CABINET_TEST_SIGNATURE=sign(body.decode()))
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_event" and response.json()["field"] == "payload"
    assert not WebhookEvent.objects.exists()


@pytest.mark.parametrize("raw, depth", [
    (b"{}", 1), (b'{"a": [1, {"b": []}]}', 4), (b'{"a": "[[[[{{{{"}', 1),
    (b'{"a": "\\\\", "b": [[]]}', 3), (b'{"a": "\\"[[["}', 1), (b"[" * 5 + b"]" * 5, 5), (b"", 0),
])
def test_nesting_is_measured_outside_strings(raw, depth):
    from site_core.payments.services import json_nesting_depth

    assert json_nesting_depth(raw) == depth
