"""Moving money after the checkout (capture, void, refund), configuration and wiring of the Stripe module."""

import ast
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from site_core.modules import hooks as cabinet_hooks
from site_core.payments import services
from site_core.payments.models import Payment, PaymentLog, Refund
from site_core.payments.providers import ProviderError
from site_core.payments.registry import providers

INTENTS = r"/v1/payment_intents"
CAPTURE = INTENTS + r"/[^/]+/capture"
CANCEL = INTENTS + r"/[^/]+/cancel"
REFUNDS = r"/v1/refunds"


@pytest.fixture
def authorized(buyer, stripe_gateway, make_order):
    def make(total=6000):
        payment = stripe_gateway.pay(buyer, make_order(total=total, capture_mode="manual"))
        assert payment.state == Payment.State.AUTHORIZED
        return payment

    return make


@pytest.fixture
def captured(buyer, stripe_gateway, make_order):
    def make(total=5000):
        payment = stripe_gateway.pay(buyer, make_order(total=total))
        assert payment.state == Payment.State.CAPTURED
        return payment

    return make


# --- Capture and release -------------------------------------------------------------

@pytest.mark.django_db
def test_capture_takes_what_was_used_and_releases_the_rest(fake, authorized):
    payment = authorized(6000)

    services.capture(payment, 4000)

    payment.refresh_from_db()
    (call,) = fake.calls_to("POST", CAPTURE)
    assert call.idempotency_key == f"{payment.idempotency_key}:capture:4000"
    assert call.params == {"amount_to_capture": "4000"}
    assert payment.state == Payment.State.CAPTURED and payment.captured_amount == 4000
    assert "capture_in_flight" not in payment.provider_data
    intent = fake.intents[payment.reference]
    assert intent["status"] == "succeeded" and intent["amount_received"] == 4000
    assert intent["amount_capturable"] == 0  # the other 20.00 are released


@pytest.mark.django_db
def test_capture_above_the_budget_is_refused_without_asking_stripe(fake, authorized):
    payment = authorized(3000)
    with pytest.raises(services.PaymentRefused):
        services.capture(payment, 3001)
    assert not fake.calls_to("POST", CAPTURE)


@pytest.mark.django_db
def test_capture_timeout_then_retry_captures_once_with_the_same_key(fake, authorized):
    payment = authorized(6000)
    fake.fail_next("POST", CAPTURE, "timeout_after")

    with pytest.raises(ProviderError) as error:
        services.capture(payment, 4000)
    assert error.value.retryable
    payment.refresh_from_db()
    assert payment.state == Payment.State.AUTHORIZED and payment.provider_data["capture_in_flight"] == 4000

    # Another amount must wait for the first capture to be settled...
    with pytest.raises(services.PaymentRefused):
        services.capture(payment, 3000)
    # ...the same one is sent again, and Stripe answers what it did the first time.
    services.capture(payment, 4000)

    payment.refresh_from_db()
    assert payment.state == Payment.State.CAPTURED and payment.captured_amount == 4000
    calls = fake.calls_to("POST", CAPTURE)
    assert [c.idempotency_key for c in calls] == [f"{payment.idempotency_key}:capture:4000"] * 2
    assert fake.captured(payment.reference) == 4000


@pytest.mark.django_db
def test_capture_refused_by_stripe_leaves_the_payment_authorized_and_another_amount_possible(fake, authorized):
    payment = authorized(6000)
    fake.intents[payment.reference]["status"] = "requires_payment_method"  # e.g. the hold was lost

    with pytest.raises(ProviderError) as error:
        services.capture(payment, 1000)

    assert error.value.code == "payment_intent_unexpected_state" and not error.value.retryable
    payment.refresh_from_db()
    assert payment.state == Payment.State.AUTHORIZED and "capture_in_flight" not in payment.provider_data
    assert PaymentLog.objects.filter(payment=payment, message__startswith="capture refused").exists()


@pytest.mark.django_db
def test_a_capture_already_made_at_stripe_is_recognised(fake, authorized):
    payment = authorized(6000)
    fake.intents[payment.reference].update(status="succeeded", amount_received=2500, amount_capturable=0)

    services.capture(payment, 2500)

    payment.refresh_from_db()
    assert payment.state == Payment.State.CAPTURED and payment.captured_amount == 2500


@pytest.mark.django_db
def test_capture_does_not_hold_the_payment_locked_while_stripe_answers(fake, authorized, monkeypatch):
    """While Stripe answers, another path can still write to the payment (a webhook, the sweeper)."""
    from modules.payments_stripe import provider as provider_module

    payment = authorized(6000)
    seen = {}
    original = provider_module.StripeProvider.capture
    depth = len(connection.atomic_blocks)  # the test's own transaction

    def capture_and_look(self, payment, amount):
        seen["atomic_blocks"] = len(connection.atomic_blocks)
        return original(self, payment, amount)

    monkeypatch.setattr(provider_module.StripeProvider, "capture", capture_and_look)
    services.capture(payment, 6000)
    assert seen == {"atomic_blocks": depth}


@pytest.mark.django_db
def test_void_releases_the_authorization_once(fake, authorized):
    payment = authorized()

    services.void(payment)
    services.void(payment)

    payment.refresh_from_db()
    (call,) = fake.calls_to("POST", CANCEL)
    assert call.idempotency_key == f"{payment.idempotency_key}:cancel"
    assert payment.state == Payment.State.CANCELED and fake.canceled(payment.reference)


@pytest.mark.django_db
def test_void_of_an_authorization_already_released_at_stripe_succeeds(fake, authorized):
    payment = authorized()
    fake.intents[payment.reference].update(status="canceled", amount_capturable=0)
    services.void(payment)
    payment.refresh_from_db()
    assert payment.state == Payment.State.CANCELED


@pytest.mark.django_db
def test_void_of_a_captured_intent_is_refused(fake, authorized):
    payment = authorized()
    fake.intents[payment.reference].update(status="succeeded", amount_received=6000, amount_capturable=0)
    with pytest.raises(ProviderError):
        services.void(payment)
    payment.refresh_from_db()
    assert payment.state == Payment.State.AUTHORIZED


@pytest.mark.django_db
def test_void_keeps_what_the_provider_wrote_to_the_payment_meanwhile(fake, authorized, monkeypatch):
    """The kernel reads the payment again after the gateway call instead of saving a stale copy."""
    from modules.payments_stripe import provider as provider_module

    payment = authorized()
    original = provider_module.StripeProvider.void

    def void_and_note(self, payment):
        original(self, payment)
        services.set_reference(payment, payment.reference, released_by="test")

    monkeypatch.setattr(provider_module.StripeProvider, "void", void_and_note)
    services.void(payment)

    payment.refresh_from_db()
    assert payment.state == Payment.State.CANCELED and payment.provider_data["released_by"] == "test"


# --- Refunds -------------------------------------------------------------------------

@pytest.mark.django_db
def test_full_refund_carries_the_refunds_own_key(fake, captured):
    payment = captured(5000)

    row = services.refund(payment, 5000, reason="the expert missed the call")

    (call,) = fake.calls_to("POST", REFUNDS)
    assert call.idempotency_key == row.idempotency_key
    assert call.params == {"payment_intent": payment.reference, "amount": "5000",
                           "metadata": {"cabinet_refund": str(row.pk), "cabinet_payment": str(payment.pk)}}
    assert row.state == Refund.State.DONE and row.reference in fake.refunds
    payment.refresh_from_db()
    assert payment.refunded_amount == 5000 and fake.refunded(payment.reference) == 5000


@pytest.mark.django_db
def test_partial_refunds_and_refusal_above_what_remains(fake, captured):
    payment = captured(5000)
    services.refund(payment, 1000)
    services.refund(payment, 1500)

    with pytest.raises(services.PaymentRefused):
        services.refund(payment, 2501)

    payment.refresh_from_db()
    assert payment.refunded_amount == 2500 and fake.refunded(payment.reference) == 2500
    assert len(fake.calls_to("POST", REFUNDS)) == 2 and Refund.objects.filter(payment=payment).count() == 2


@pytest.mark.django_db
def test_a_refund_stripe_did_not_answer_about_stays_requested_and_is_made_once(fake, captured):
    payment = captured(5000)
    fake.fail_next("POST", REFUNDS, "timeout_after")  # Stripe made it; the answer was lost

    with pytest.raises(services.PaymentRefused) as refused:
        services.refund(payment, 2000)

    assert "cannot be made twice" in str(refused.value) or "deux fois" in str(refused.value)
    row = Refund.objects.get(payment=payment)
    assert row.state == Refund.State.CREATED
    payment.refresh_from_db()
    assert payment.refunded_amount == 0
    # Meanwhile, no other refund may take what this one may have taken.
    with pytest.raises(services.PaymentRefused):
        services.refund(payment, 3001)

    again = services.refund(payment, 2000)  # asked again: the same refund, sent again

    assert again.pk == row.pk and again.state == Refund.State.DONE
    calls = fake.calls_to("POST", REFUNDS)
    assert [c.idempotency_key for c in calls] == [row.idempotency_key] * 2
    assert len(fake.refunds) == 1 and fake.refunded(payment.reference) == 2000
    payment.refresh_from_db()
    assert payment.refunded_amount == 2000


@pytest.mark.django_db
def test_the_sweeper_sends_a_refund_left_requested_again(fake, captured):
    from site_core.payments.tasks import retry_pending_refunds

    payment = captured(5000)
    fake.fail_next("POST", REFUNDS, "timeout_before")
    with pytest.raises(services.PaymentRefused):
        services.refund(payment, 5000)
    row = Refund.objects.get(payment=payment)
    assert retry_pending_refunds() == 0  # too recent: the admin may still be retrying
    Refund.objects.filter(pk=row.pk).update(created_at=timezone.now() - timedelta(minutes=10))

    assert retry_pending_refunds() == 1

    row.refresh_from_db()
    assert row.state == Refund.State.DONE and fake.refunded(payment.reference) == 5000
    assert {c.idempotency_key for c in fake.calls_to("POST", REFUNDS)} == {row.idempotency_key}


@pytest.mark.django_db
def test_refund_refused_by_stripe_is_recorded_as_failed(fake, captured):
    payment = captured(5000)
    # Refunded in full from Stripe's Dashboard meanwhile.
    fake._create_refund({"payment_intent": payment.reference})

    with pytest.raises(services.PaymentRefused):
        services.refund(payment, 1000)

    row = Refund.objects.get(payment=payment)
    assert row.state == Refund.State.FAILED and "charge_already_refunded" in row.failure_reason
    payment.refresh_from_db()
    assert payment.refunded_amount == 0


# --- Refreshing and the sweeper --------------------------------------------------------------

@pytest.mark.django_db
def test_the_sweeper_finishes_a_payment_whose_client_closed_the_tab(fake, buyer, stripe_gateway, make_order):
    from site_core.payments.tasks import sweep_pending_payments

    order = make_order(total=2000)
    payment = stripe_gateway.start_without_completing(buyer, order)
    fake.confirm(payment.reference)
    Payment.objects.filter(pk=payment.pk).update(created_at=timezone.now() - timedelta(minutes=10))

    assert sweep_pending_payments() == 1

    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.state == Payment.State.CAPTURED and order.state == order.State.PAID


@pytest.mark.django_db
def test_the_sweeper_leaves_a_client_still_choosing_a_card_alone(fake, buyer, stripe_gateway, make_order):
    from site_core.payments.tasks import sweep_pending_payments

    payment = stripe_gateway.start_without_completing(buyer, make_order())
    Payment.objects.filter(pk=payment.pk).update(created_at=timezone.now() - timedelta(minutes=10))
    assert sweep_pending_payments() == 1
    payment.refresh_from_db()
    assert payment.state == Payment.State.PENDING and not fake.calls_to("POST", CANCEL)


# --- Being offered, configuration, boundaries ----------------------------------------------------

@pytest.mark.django_db
def test_stripe_is_not_offered_where_the_module_is_off(buyer, stripe_gateway, practice, make_order):
    from site_core.modules import default_enabled_labels

    practice.settings.enabled_modules = [label for label in default_enabled_labels() if label != "payments_stripe"]
    practice.settings.save()
    order = make_order()

    page = buyer.get(f"/payments/checkout/{order.public_id}/")

    assert "pay/stripe/" not in page.content.decode() and "js.stripe.com" not in page.content.decode()
    assert buyer.post(f"/payments/checkout/{order.public_id}/pay/stripe/").status_code == 404


def test_the_provider_is_registered_through_the_cabinet_hook(stripe_gateway, practice):
    registered = [p for fn in cabinet_hooks.all_hooks(cabinet_hooks.REGISTER_PAYMENT_PROVIDERS) for p in fn()]
    (provider,) = [p for p in registered if p.identifier == "stripe"]
    assert provider.can_authorize and provider.can_refund and provider.can_partially_refund
    assert any(p.identifier == "stripe" for p in providers(practice.site))


def test_the_tests_start_with_no_gateway_keys(settings):
    from modules.payments_stripe import conf

    assert not conf.configured() and not conf.webhook_secret()
    assert not settings.PAYPAL_CLIENT_ID and not settings.PAYPAL_CLIENT_SECRET and not settings.PAYPAL_WEBHOOK_ID


def test_system_checks_say_what_is_missing(settings):
    from modules.payments_stripe.checks import stripe_settings

    settings.STRIPE_SECRET_KEY, settings.STRIPE_PUBLISHABLE_KEY, settings.STRIPE_WEBHOOK_SECRET = "", "", ""
    assert stripe_settings() == []
    settings.STRIPE_SECRET_KEY = "sk_test_abc"
    assert [c.id for c in stripe_settings()] == ["payments_stripe.W001"]
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_abc"
    assert [c.id for c in stripe_settings()] == ["payments_stripe.W002"]
    settings.STRIPE_WEBHOOK_SECRET = "whsec_abc"
    assert stripe_settings() == []
    settings.STRIPE_PUBLISHABLE_KEY = "pk_live_abc"
    assert [c.id for c in stripe_settings()] == ["payments_stripe.E003"]
    settings.STRIPE_PUBLISHABLE_KEY = "sk_live_abc"
    assert "payments_stripe.E002" in [c.id for c in stripe_settings()]
    settings.STRIPE_SECRET_KEY, settings.STRIPE_PUBLISHABLE_KEY = "pk_test_abc", "pk_test_abc"
    assert [c.id for c in stripe_settings()] == ["payments_stripe.E001"]


def test_the_module_imports_only_the_kernel_django_wagtail_and_libraries():
    root = Path(__file__).resolve().parents[3] / "modules" / "payments_stripe"
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            for name in names:
                if name.startswith("modules."):
                    assert name.startswith("modules.payments_stripe"), f"{path.name} imports {name}"


def test_only_the_client_module_knows_the_sdk():
    root = Path(__file__).resolve().parents[3] / "modules" / "payments_stripe"
    users = {path.name for path in root.rglob("*.py")
             if any(isinstance(node, ast.Import) and any(a.name == "stripe" for a in node.names)
                    for node in ast.walk(ast.parse(path.read_text())))}
    assert users == {"client.py"}
