"""A client paying with PayPal, as the site and PayPal see it."""

import json
import logging

import pytest

from site_core.payments.models import Order, Payment, PaymentLog
from tests.site_core.payments.drivers.paypal import local

pytestmark = pytest.mark.django_db

ORDERS = r"/v2/checkout/orders"


def pay_url(order):
    return f"/payments/checkout/{order.public_id}/pay/paypal/"


def test_checkout_creates_a_paypal_order_and_sends_the_client_to_approve_it(buyer, fake, make_order):
    order = make_order(total=4250)
    response = buyer.post(pay_url(order))

    payment = Payment.objects.get(order=order)
    assert response.status_code == 302
    assert response["Location"] == f"https://www.sandbox.paypal.com/checkoutnow?token={payment.reference}"
    assert payment.state == Payment.State.PENDING and payment.reference in fake.orders
    (call,) = fake.calls_to("POST", ORDERS)
    assert call.request_id == payment.idempotency_key
    sent = json.loads(call.body)
    assert sent["intent"] == "CAPTURE"
    (unit,) = sent["purchase_units"]
    assert unit["amount"] == {"currency_code": "EUR", "value": "42.50"}
    assert unit["custom_id"] == f"cabinet-payment-{payment.pk}"
    assert unit["invoice_id"].startswith("CAB-") and unit["invoice_id"].endswith(f"-{payment.pk}")
    assert unit["description"] == "Consultation 30 min"
    context = sent["payment_source"]["paypal"]["experience_context"]
    assert context["return_url"] == f"http://testserver/payments/return/{payment.pk}/"
    assert context["cancel_url"] == f"http://testserver/payments-paypal/cancel/{payment.pk}/"
    assert context["shipping_preference"] == "NO_SHIPPING" and context["user_action"] == "PAY_NOW"
    assert context["brand_name"] == "Cabinet Test" and context["locale"] == "fr-FR"


def test_approving_at_paypal_and_coming_back_captures_and_marks_the_order_paid(buyer, fake, paypal, make_order):
    order = make_order(total=4500)
    payment = paypal.pay(buyer, order)
    order.refresh_from_db()

    assert payment.state == Payment.State.CAPTURED and payment.captured_amount == 4500
    assert order.state == Order.State.PAID
    (capture_call,) = fake.calls_to("POST", ORDERS + r"/[^/]+/capture")
    assert capture_call.request_id == f"{payment.idempotency_key}-capture"
    (capture_id,) = fake.orders[payment.reference].capture_ids
    assert payment.provider_data["capture_id"] == capture_id
    assert list(PaymentLog.objects.filter(payment=payment).exclude(to_state="")
                .values_list("to_state", flat=True)) == ["created", "pending", "captured"]


def test_the_return_page_answers_with_the_paid_page_and_a_reload_captures_nothing_more(buyer, fake, make_order):
    order = make_order()
    buyer.post(pay_url(order))
    payment = Payment.objects.get(order=order)
    back = local(fake.approve(payment.reference))

    first = buyer.get(back)
    again = buyer.get(back)

    assert first.status_code == 302 and first["Location"] == f"/payments/paid/{order.public_id}/"
    assert again.status_code == 302
    assert len(fake.calls_to("POST", ORDERS + r"/[^/]+/capture")) == 1


def test_a_metered_session_authorizes_the_budget(buyer, fake, paypal, make_order):
    order = make_order(total=6000, capture_mode="manual")
    payment = paypal.pay(buyer, order)

    (create,) = fake.calls_to("POST", ORDERS)
    assert json.loads(create.body)["intent"] == "AUTHORIZE"
    (authorize,) = fake.calls_to("POST", ORDERS + r"/[^/]+/authorize")
    assert authorize.request_id == f"{payment.idempotency_key}-authorize"
    assert not fake.calls_to("POST", ORDERS + r"/[^/]+/capture")
    assert payment.state == Payment.State.AUTHORIZED and payment.authorized_amount == 6000
    assert payment.provider_data["authorization_id"] == fake.orders[payment.reference].authorization_ids[0]
    order.refresh_from_db()
    assert order.state == Order.State.PAID


def test_cancel_at_paypal_brings_the_client_back_to_the_checkout_with_nothing_charged(buyer, fake, make_order):
    order = make_order()
    buyer.post(pay_url(order))
    payment = Payment.objects.get(order=order)

    response = buyer.get(local(fake.cancel(payment.reference)), follow=True)

    assert response.redirect_chain[-1][0] == f"/payments/checkout/{order.public_id}/"
    assert "Aucun montant n’a été débité" in response.content.decode()  # French by default
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.state == Payment.State.PENDING and payment.captured_amount == 0
    assert order.state == Order.State.OPEN
    assert fake.captured_total(payment.reference) == 0
    assert not fake.calls_to("POST", ORDERS + r"/[^/]+/(capture|authorize)")

    # Choosing PayPal again goes back to the same PayPal order.
    again = buyer.post(pay_url(order))
    assert again["Location"].endswith(f"token={payment.reference}")
    assert len(fake.calls_to("POST", ORDERS)) == 1 and Payment.objects.filter(order=order).count() == 1


def test_cancel_page_is_only_for_the_paying_client(client, make_user, buyer, fake, make_order):
    order = make_order()
    buyer.post(pay_url(order))
    payment = Payment.objects.get(order=order)
    buyer.logout()
    anonymous = client.get(f"/payments-paypal/cancel/{payment.pk}/")
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    client.force_login(make_user())
    assert client.get(f"/payments-paypal/cancel/{payment.pk}/").status_code == 404
    assert client.get(local(fake.approve(payment.reference))).status_code == 404
    payment.refresh_from_db()
    assert payment.state == Payment.State.PENDING
    assert not fake.calls_to("POST", ORDERS + r"/[^/]+/capture")


def test_timeout_at_order_creation_then_retry_reaches_the_same_paypal_order(buyer, fake, make_order):
    order = make_order()
    fake.fail_next("POST", ORDERS, "timeout_after")  # PayPal made the order; its answer was lost

    first = buyer.post(pay_url(order), follow=True)

    payment = Payment.objects.get(order=order)
    assert first.redirect_chain[-1][0] == f"/payments/checkout/{order.public_id}/"
    assert payment.state == Payment.State.PENDING and payment.reference == ""
    assert len(fake.orders) == 1

    second = buyer.post(pay_url(order))

    payment.refresh_from_db()
    calls = fake.calls_to("POST", ORDERS)
    assert [call.request_id for call in calls] == [payment.idempotency_key] * 2
    assert len(fake.orders) == 1 and Payment.objects.filter(order=order).count() == 1
    assert payment.reference == next(iter(fake.orders))
    assert second["Location"].endswith(f"token={payment.reference}")


def test_timeout_while_capturing_leaves_the_payment_pending_and_a_reload_finishes_it(buyer, fake, make_order):
    order = make_order(total=3000)
    buyer.post(pay_url(order))
    payment = Payment.objects.get(order=order)
    back = local(fake.approve(payment.reference))
    fake.fail_next("POST", ORDERS + r"/[^/]+/capture", "timeout_after")

    waiting = buyer.get(back)

    assert waiting.status_code == 200 and 'http-equiv="refresh"' in waiting.content.decode()
    payment.refresh_from_db()
    assert payment.state == Payment.State.PENDING

    done = buyer.get(back)

    payment.refresh_from_db()
    assert done.status_code == 302 and payment.state == Payment.State.CAPTURED
    # PayPal did capture the first time: the reload reads the order and finds it captured.
    (capture_call,) = fake.calls_to("POST", ORDERS + r"/[^/]+/capture")
    assert capture_call.request_id == f"{payment.idempotency_key}-capture"
    assert len(fake.orders[payment.reference].capture_ids) == 1


def test_a_capture_that_never_reached_paypal_is_sent_again_with_the_same_request_id(buyer, fake, make_order):
    order = make_order(total=3000)
    buyer.post(pay_url(order))
    payment = Payment.objects.get(order=order)
    back = local(fake.approve(payment.reference))
    fake.fail_next("POST", ORDERS + r"/[^/]+/capture", "timeout_before")

    buyer.get(back)
    buyer.get(back)

    payment.refresh_from_db()
    assert payment.state == Payment.State.CAPTURED
    captures = fake.calls_to("POST", ORDERS + r"/[^/]+/capture")
    assert [c.request_id for c in captures] == [f"{payment.idempotency_key}-capture"] * 2
    assert len(fake.orders[payment.reference].capture_ids) == 1


def test_paypal_unreachable_at_checkout_says_nothing_was_charged(buyer, fake, make_order):
    order = make_order()
    fake.fail_next("POST", ORDERS, "timeout_before")
    response = buyer.post(pay_url(order), follow=True)
    assert "Aucun montant n’a été débité" in response.content.decode()  # French by default
    assert not fake.orders


def test_paypal_server_error_is_a_retryable_provider_error(fake, make_order):
    from modules.payments_paypal.provider import PayPalProvider
    from site_core.payments.providers import ProviderError

    fake.fail_next("GET", ORDERS + r"/[^/]+", 503)
    with pytest.raises(ProviderError) as error:
        PayPalProvider().api.get_order("ANYTHING")
    assert error.value.retryable


def test_declined_funding_fails_the_payment_and_the_client_can_try_again(buyer, fake, make_order):
    order = make_order()
    buyer.post(pay_url(order))
    payment = Payment.objects.get(order=order)
    fake.capture_outcome = "INSTRUMENT_DECLINED"

    response = buyer.get(local(fake.approve(payment.reference)), follow=True)

    payment.refresh_from_db()
    assert payment.state == Payment.State.FAILED
    assert response.redirect_chain[-1][0] == f"/payments/checkout/{order.public_id}/"
    assert fake.captured_total(payment.reference) == 0

    fake.capture_outcome = "COMPLETED"
    buyer.post(pay_url(order))
    assert Payment.objects.filter(order=order).count() == 2 and len(fake.orders) == 2


def test_an_invoice_id_paypal_already_knows_fails_the_attempt_and_the_next_one_gets_a_new_one(buyer, fake,
                                                                                              make_order):
    order = make_order()
    buyer.post(pay_url(order))
    first = Payment.objects.get(order=order)
    fake.fail_next("POST", ORDERS + r"/[^/]+/capture", (422, "DUPLICATE_INVOICE_ID"))
    buyer.get(local(fake.approve(first.reference)))
    first.refresh_from_db()
    assert first.state == Payment.State.FAILED

    buyer.post(pay_url(order))
    second = Payment.objects.exclude(pk=first.pk).get(order=order)
    invoices = [json.loads(c.body)["purchase_units"][0]["invoice_id"] for c in fake.calls_to("POST", ORDERS)]
    assert len(set(invoices)) == 2 and invoices[1].endswith(f"-{second.pk}")


def test_a_declined_capture_fails_the_payment(buyer, fake, make_order):
    order = make_order()
    buyer.post(pay_url(order))
    payment = Payment.objects.get(order=order)
    fake.capture_outcome = "DECLINED"
    buyer.get(local(fake.approve(payment.reference)))
    payment.refresh_from_db()
    assert payment.state == Payment.State.FAILED and payment.captured_amount == 0


def test_a_pending_capture_keeps_the_payment_pending(buyer, fake, make_order):
    order = make_order()
    buyer.post(pay_url(order))
    payment = Payment.objects.get(order=order)
    fake.capture_outcome = "PENDING"
    response = buyer.get(local(fake.approve(payment.reference)))
    payment.refresh_from_db()
    assert response.status_code == 200 and payment.state == Payment.State.PENDING


def test_captured_amount_that_does_not_match_is_not_marked_paid_and_is_logged(buyer, fake, make_order, caplog):
    order = make_order(total=5000)
    buyer.post(pay_url(order))
    payment = Payment.objects.get(order=order)
    fake.amount_override = "1.00"

    with caplog.at_level(logging.ERROR):
        buyer.get(local(fake.approve(payment.reference)))

    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.state == Payment.State.PENDING and payment.captured_amount == 0
    assert order.state == Order.State.OPEN
    assert PaymentLog.objects.filter(payment=payment, message__contains="does not match").exists()
    assert any("does not match" in record.getMessage() for record in caplog.records)


def test_captured_currency_that_does_not_match_is_not_marked_paid(buyer, fake, make_order):
    order = make_order(total=5000)
    buyer.post(pay_url(order))
    payment = Payment.objects.get(order=order)
    fake.orders[payment.reference].unit["amount"]["currency_code"] = "USD"
    buyer.get(local(fake.approve(payment.reference)))
    payment.refresh_from_db()
    assert payment.state == Payment.State.PENDING
    assert PaymentLog.objects.filter(payment=payment, message__contains="does not match").exists()


def test_an_order_of_another_payment_is_never_applied(buyer, fake, make_order, caplog):
    order = make_order()
    buyer.post(pay_url(order))
    payment = Payment.objects.get(order=order)
    fake.orders[payment.reference].unit["custom_id"] = "cabinet-payment-999999"
    with caplog.at_level(logging.ERROR):
        buyer.get(local(fake.approve(payment.reference)))
    payment.refresh_from_db()
    assert payment.state == Payment.State.PENDING
    assert any("custom_id" in record.getMessage() for record in caplog.records)


def test_an_order_that_expired_at_paypal_gives_way_to_a_new_one(buyer, fake, make_order):
    order = make_order()
    buyer.post(pay_url(order))
    first = Payment.objects.get(order=order)
    del fake.orders[first.reference]

    buyer.post(pay_url(order))
    first.refresh_from_db()
    assert first.state == Payment.State.FAILED

    response = buyer.post(pay_url(order))
    second = Payment.objects.exclude(pk=first.pk).get(order=order)
    assert second.reference in fake.orders and response["Location"].endswith(f"token={second.reference}")


def test_coming_back_to_the_checkout_after_approving_finishes_on_the_return_page(buyer, fake, make_order):
    order = make_order()
    buyer.post(pay_url(order))
    payment = Payment.objects.get(order=order)
    fake.approve(payment.reference)  # approved, but the browser never came back

    response = buyer.post(pay_url(order), follow=True)

    payment.refresh_from_db()
    assert payment.state == Payment.State.CAPTURED
    assert response.redirect_chain[0][0] == f"/payments/return/{payment.pk}/"
    assert len(fake.calls_to("POST", ORDERS)) == 1


def test_english_visitors_see_paypal_in_english(buyer, fake, make_order):
    order = make_order()
    buyer.post(f"/en{pay_url(order)}")
    payment = Payment.objects.get(order=order)
    context = json.loads(fake.calls_to("POST", ORDERS)[0].body)["payment_source"]["paypal"]["experience_context"]
    assert context["locale"] == "en-GB"
    assert context["return_url"] == f"http://testserver/en/payments/return/{payment.pk}/"


def test_zero_decimal_currency_is_sent_in_whole_units(buyer, fake, paypal, make_order):
    order = make_order(total=5000, currency="JPY")
    payment = paypal.pay(buyer, order)
    unit = json.loads(fake.calls_to("POST", ORDERS)[0].body)["purchase_units"][0]
    assert unit["amount"] == {"currency_code": "JPY", "value": "5000"}
    assert payment.state == Payment.State.CAPTURED and payment.captured_amount == 5000


@pytest.mark.parametrize(("amount", "currency", "value"), [
    (4250, "EUR", "42.50"), (1, "USD", "0.01"), (500, "JPY", "500"), (150000, "HUF", "1500"),
    (123456, "GBP", "1234.56"),
])
def test_amounts_are_sent_in_major_units(amount, currency, value):
    from modules.payments_paypal.provider import minor_amount, paypal_value

    assert paypal_value(amount, currency) == value
    assert minor_amount({"currency_code": currency, "value": value}) == (amount, currency)


def test_paypal_refuses_cents_of_forints():
    from modules.payments_paypal.provider import paypal_value
    from site_core.payments.providers import ProviderError

    with pytest.raises(ProviderError):
        paypal_value(150050, "HUF")


def test_unreadable_amounts_read_as_nothing():
    from modules.payments_paypal.provider import minor_amount

    assert minor_amount({"value": "12.00"}) == (0, None)
    assert minor_amount({"currency_code": "EUR", "value": "douze"}) == (0, None)
