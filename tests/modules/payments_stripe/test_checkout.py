"""A client paying by card with Stripe's Payment Element, as the site and Stripe see it."""

import logging

import pytest

from modules.payments_stripe.provider import from_stripe_amount, to_stripe_amount
from site_core.payments.models import Order, Payment, PaymentLog
from site_core.payments.providers import ProviderError
from tests.modules.payments_stripe.fake_stripe import DECLINED, INSUFFICIENT_FUNDS, PROCESSING
from tests.site_core.payments.drivers.stripe import PUBLISHABLE_KEY, local, page_config

pytestmark = pytest.mark.django_db

INTENTS = r"/v1/payment_intents"
STRIPE_JS = "https://js.stripe.com/v3/"


def pay_url(order):
    return f"/payments/checkout/{order.public_id}/pay/stripe/"


def return_url(payment):
    return f"http://testserver/payments/return/{payment.pk}/"


# --- The payment page ----------------------------------------------------------------

def test_choosing_card_creates_a_payment_intent_and_shows_the_payment_element(buyer, fake, stripe_gateway,
                                                                               make_order):
    order = make_order(total=4250)
    response, payment = stripe_gateway.open_payment_page(buyer, order)

    page = response.content.decode()
    assert page.count(STRIPE_JS) == 1 and 'id="stripe-payment-element"' in page
    assert "payments_stripe/payment_element.js" in page
    config = page_config(response)
    assert config["publishableKey"] == PUBLISHABLE_KEY
    assert config["returnUrl"] == return_url(payment)
    assert config["locale"] == "fr"
    assert "sk_test" not in page  # the secret key never reaches a browser
    (call,) = fake.calls_to("POST", INTENTS)
    assert call.idempotency_key == payment.idempotency_key
    assert call.params == {
        "amount": "4250", "currency": "eur", "capture_method": "automatic",
        "automatic_payment_methods": {"enabled": "true"}, "description": "Consultation 30 min",
        "metadata": {"cabinet_payment": str(payment.pk), "cabinet_order": order.public_id.hex},
    }
    assert payment.state == Payment.State.PENDING
    assert list(PaymentLog.objects.filter(payment=payment).exclude(to_state="")
                .values_list("to_state", flat=True)) == ["created", "pending"]


def test_stripe_js_is_only_on_the_stripe_payment_page(buyer, fake, stripe_gateway, make_order, practice):
    order = make_order()
    chooser = buyer.get(f"/payments/checkout/{order.public_id}/")
    assert chooser.status_code == 200 and pay_url(order) in chooser.content.decode()
    assert STRIPE_JS not in chooser.content.decode()
    home = buyer.get("/")
    assert home.status_code == 200 and STRIPE_JS not in home.content.decode()
    payment_page, _payment = stripe_gateway.open_payment_page(buyer, order)
    assert STRIPE_JS in payment_page.content.decode()


@pytest.mark.parametrize(("secret", "publishable"), [("", ""), ("sk_test_x", ""), ("", "pk_test_x")])
def test_unconfigured_stripe_is_not_offered_and_loads_nothing(buyer, settings, make_order, practice, secret,
                                                              publishable):
    settings.STRIPE_SECRET_KEY, settings.STRIPE_PUBLISHABLE_KEY = secret, publishable
    order = make_order()

    chooser = buyer.get(f"/payments/checkout/{order.public_id}/")

    assert chooser.status_code == 200
    assert "pay/stripe/" not in chooser.content.decode() and STRIPE_JS not in chooser.content.decode()
    assert STRIPE_JS not in buyer.get("/").content.decode()
    assert buyer.post(pay_url(order)).status_code == 404
    assert not Payment.objects.exists()


def test_configured_stripe_is_offered_for_both_capture_modes(buyer, stripe_gateway, make_order):
    for mode in ("automatic", "manual"):
        order = make_order(capture_mode=mode)
        assert pay_url(order) in buyer.get(f"/payments/checkout/{order.public_id}/").content.decode()


def test_english_visitors_get_the_payment_element_in_english(buyer, fake, make_order):
    order = make_order()
    response = buyer.post(f"/en/payments/checkout/{order.public_id}/pay/stripe/")
    assert response.status_code == 200
    config = page_config(response)
    payment = Payment.objects.get(order=order)
    assert config["locale"] == "en" and config["returnUrl"] == f"http://testserver/en/payments/return/{payment.pk}/"


# --- Coming back from Stripe ------------------------------------------------------------

def test_paying_and_coming_back_captures_and_marks_the_order_paid(buyer, fake, stripe_gateway, make_order):
    order = make_order(total=4500)
    _page, payment = stripe_gateway.open_payment_page(buyer, order)

    response = stripe_gateway.confirm_and_return(buyer, payment)

    assert response.status_code == 302 and response["Location"] == f"/payments/paid/{order.public_id}/"
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.state == Payment.State.CAPTURED and payment.captured_amount == 4500
    assert order.state == Order.State.PAID
    assert list(PaymentLog.objects.filter(payment=payment).exclude(to_state="")
                .values_list("to_state", flat=True)) == ["created", "pending", "captured"]


def test_reloading_the_return_page_changes_nothing(buyer, fake, stripe_gateway, make_order):
    order = make_order()
    _page, payment = stripe_gateway.open_payment_page(buyer, order)
    fake.confirm(payment.reference)
    back = local(fake.return_url(payment.reference, return_url(payment)))

    first, again = buyer.get(back), buyer.get(back)

    assert first.status_code == again.status_code == 302
    assert PaymentLog.objects.filter(payment=payment, to_state="captured").count() == 1
    assert len(fake.calls_to("GET", INTENTS + "/[^/]+")) == 1  # a paid payment is not read again


def test_a_metered_session_holds_the_budget(buyer, fake, stripe_gateway, make_order):
    order = make_order(total=6000, capture_mode="manual")

    payment = stripe_gateway.pay(buyer, order)

    (create,) = fake.calls_to("POST", INTENTS)
    assert create.params["capture_method"] == "manual"
    assert payment.state == Payment.State.AUTHORIZED and payment.authorized_amount == 6000
    assert payment.captured_amount == 0 and fake.captured(payment.reference) == 0
    order.refresh_from_db()
    assert order.state == Order.State.PAID


def test_a_card_declined_after_a_redirect_fails_the_attempt_and_the_next_one_starts_afresh(
        buyer, fake, stripe_gateway, make_order):
    order = make_order()
    _page, payment = stripe_gateway.open_payment_page(buyer, order)

    response = stripe_gateway.confirm_and_return(buyer, payment, INSUFFICIENT_FUNDS)

    assert response.status_code == 302 and response["Location"] == f"/payments/checkout/{order.public_id}/"
    payment.refresh_from_db()
    # The reason is written in the client's language (French by default).
    assert payment.state == Payment.State.FAILED and payment.failure_reason == "provision insuffisante"
    assert fake.canceled(payment.reference)  # the old page cannot complete it any more
    chooser = buyer.get(response["Location"])
    assert "provision insuffisante" in chooser.content.decode()

    _page, second = stripe_gateway.open_payment_page(buyer, order)
    assert second.pk != payment.pk and second.reference != payment.reference
    assert second.idempotency_key != payment.idempotency_key


def test_a_decline_in_the_page_keeps_the_same_intent_for_another_card(buyer, fake, stripe_gateway, make_order):
    order = make_order(total=3000)
    _page, payment = stripe_gateway.open_payment_page(buyer, order)
    fake.confirm(payment.reference, DECLINED)  # shown in the page by Stripe.js, no redirect

    again = buyer.post(pay_url(order))  # the client reloads the page

    assert again.status_code == 200
    assert page_config(again)["clientSecret"] == fake.intents[payment.reference]["client_secret"]
    assert "Your last attempt was declined" in again.content.decode() or "refus" in again.content.decode()
    assert len(fake.intents) == 1 and Payment.objects.filter(order=order).count() == 1
    response = stripe_gateway.confirm_and_return(buyer, payment)
    assert response.status_code == 302
    payment.refresh_from_db()
    assert payment.state == Payment.State.CAPTURED


def test_a_processing_payment_waits_on_the_pending_page(buyer, fake, stripe_gateway, make_order):
    order = make_order()
    _page, payment = stripe_gateway.open_payment_page(buyer, order)

    response = stripe_gateway.confirm_and_return(buyer, payment, PROCESSING)

    assert response.status_code == 200 and 'http-equiv="refresh"' in response.content.decode()
    payment.refresh_from_db()
    assert payment.state == Payment.State.PENDING
    fake.settle(payment.reference)
    assert buyer.get(f"/payments/return/{payment.pk}/").status_code == 302
    payment.refresh_from_db()
    assert payment.state == Payment.State.CAPTURED


def test_coming_back_to_the_checkout_after_paying_goes_to_the_return_page(buyer, fake, stripe_gateway, make_order):
    order = make_order()
    _page, payment = stripe_gateway.open_payment_page(buyer, order)
    fake.confirm(payment.reference)  # paid, but the browser never reached the return page

    response = buyer.post(pay_url(order))

    assert response.status_code == 302
    payment.refresh_from_db()
    assert payment.state == Payment.State.CAPTURED
    assert len(fake.calls_to("POST", INTENTS)) == 1


def test_the_return_page_trusts_the_stored_intent_not_the_query_string(buyer, fake, stripe_gateway, make_order,
                                                                       caplog):
    order = make_order()
    _page, payment = stripe_gateway.open_payment_page(buyer, order)
    other_order = make_order()
    _other_page, other = stripe_gateway.open_payment_page(buyer, other_order)
    fake.confirm(other.reference)

    with caplog.at_level(logging.WARNING):
        buyer.get(f"/payments/return/{payment.pk}/?payment_intent={other.reference}&redirect_status=succeeded")

    payment.refresh_from_db()
    assert payment.state == Payment.State.FAILED  # its own intent was never paid
    assert any(other.reference in record.getMessage() for record in caplog.records)


# --- Timeouts and refusals -----------------------------------------------------------

def test_timeout_at_creation_then_retry_reaches_the_same_payment_intent(buyer, fake, make_order):
    order = make_order()
    fake.fail_next("POST", INTENTS, "timeout_after")  # Stripe made the intent; its answer was lost

    first = buyer.post(pay_url(order), follow=True)

    payment = Payment.objects.get(order=order)
    assert first.redirect_chain[-1][0] == f"/payments/checkout/{order.public_id}/"
    page = first.content.decode()
    assert "try again in a moment" in page or "instant" in page
    assert payment.state == Payment.State.PENDING and payment.reference == ""
    assert len(fake.intents) == 1

    second = buyer.post(pay_url(order))

    payment.refresh_from_db()
    assert second.status_code == 200
    calls = fake.calls_to("POST", INTENTS)
    assert [call.idempotency_key for call in calls] == [payment.idempotency_key] * 2
    assert len(fake.intents) == 1 and Payment.objects.filter(order=order).count() == 1
    assert payment.reference == next(iter(fake.intents))
    assert page_config(second)["clientSecret"] == fake.intents[payment.reference]["client_secret"]


def test_stripe_unreachable_says_nothing_was_charged(buyer, fake, make_order):
    order = make_order()
    fake.fail_next("POST", INTENTS, "timeout_before")
    response = buyer.post(pay_url(order), follow=True)
    page = response.content.decode()
    assert "Nothing was charged" in page or "Aucun" in page or "Rien" in page
    assert not fake.intents


def test_a_refusal_says_refused_not_try_again(buyer, fake, settings, make_order):
    settings.STRIPE_SECRET_KEY = "sk_test_not_the_key"
    order = make_order()

    response = buyer.post(pay_url(order), follow=True)

    page = response.content.decode()
    assert response.redirect_chain[-1][0] == f"/payments/checkout/{order.public_id}/"
    assert "refused" in page or "refus" in page
    assert "try again in a moment" not in page
    assert not fake.intents


def test_stripe_errors_become_provider_errors(fake):
    from modules.payments_stripe.client import StripeAPI

    fake.fail_next("GET", INTENTS + "/[^/]+", 503)
    with pytest.raises(ProviderError) as error:
        StripeAPI().retrieve_payment_intent("pi_anything")
    assert error.value.retryable
    with pytest.raises(ProviderError) as error:
        StripeAPI().retrieve_payment_intent("pi_missing")
    assert error.value.code == "resource_missing" and not error.value.retryable
    fake.fail_next("GET", INTENTS + "/[^/]+", "timeout_before")
    with pytest.raises(ProviderError) as error:
        StripeAPI().retrieve_payment_intent("pi_anything")
    assert error.value.retryable and error.value.code == "timeout"


def test_an_amount_that_does_not_match_is_not_marked_paid_and_is_logged(buyer, fake, stripe_gateway, make_order,
                                                                        caplog):
    order = make_order(total=5000)
    _page, payment = stripe_gateway.open_payment_page(buyer, order)
    fake.intents[payment.reference]["amount"] = 500  # changed behind our back

    with caplog.at_level(logging.ERROR):
        stripe_gateway.confirm_and_return(buyer, payment)

    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.state == Payment.State.PENDING and order.state == Order.State.OPEN
    assert PaymentLog.objects.filter(payment=payment, message__contains="does not match").exists()


def test_a_currency_that_does_not_match_is_not_marked_paid(buyer, fake, stripe_gateway, make_order):
    order = make_order(total=5000)
    _page, payment = stripe_gateway.open_payment_page(buyer, order)
    fake.intents[payment.reference]["currency"] = "usd"
    stripe_gateway.confirm_and_return(buyer, payment)
    payment.refresh_from_db()
    assert payment.state == Payment.State.PENDING and payment.captured_amount == 0


# --- Who may pay ---------------------------------------------------------------------

def test_another_client_cannot_pay_or_come_back_for_someone_elses_order(client, make_user, buyer, fake,
                                                                        stripe_gateway, make_order):
    order = make_order()
    _page, payment = stripe_gateway.open_payment_page(buyer, order)
    fake.confirm(payment.reference)
    client.force_login(make_user())

    assert client.post(pay_url(order)).status_code == 404
    assert client.get(f"/payments/checkout/{order.public_id}/").status_code == 404
    assert client.get(local(fake.return_url(payment.reference, return_url(payment)))).status_code == 404
    assert len(fake.calls_to("POST", INTENTS)) == 1 and not fake.calls_to("GET", INTENTS + "/[^/]+")


def test_anonymous_visitors_are_sent_to_log_in(client, fake, stripe_gateway, make_order):
    order = make_order()
    response = client.post(pay_url(order))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert not fake.calls and not Payment.objects.exists()


# --- Amounts ---------------------------------------------------------------------------

@pytest.mark.parametrize(("amount", "currency", "stripe_amount"), [
    (4250, "EUR", 4250), (500, "JPY", 500), (5, "ISK", 500), (12340, "KWD", 12340),
])
def test_amounts_are_sent_in_stripes_smallest_unit(amount, currency, stripe_amount):
    assert to_stripe_amount(amount, currency) == stripe_amount
    assert from_stripe_amount(stripe_amount, currency) == amount


def test_stripe_refuses_amounts_it_cannot_represent():
    with pytest.raises(ProviderError):
        to_stripe_amount(12345, "KWD")  # Stripe wants the last of three decimals to be 0
    assert from_stripe_amount(None, "EUR") == 0


def test_zero_decimal_currency_is_sent_in_whole_units(buyer, fake, stripe_gateway, make_order):
    payment = stripe_gateway.pay(buyer, make_order(total=500, currency="JPY"))
    (create,) = fake.calls_to("POST", INTENTS)
    assert create.params["amount"] == "500" and create.params["currency"] == "jpy"
    assert payment.state == Payment.State.CAPTURED and payment.captured_amount == 500
