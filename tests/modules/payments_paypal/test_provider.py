"""Moving money after the checkout (capture, void, refund), configuration and wiring of the PayPal module."""

import ast
import json
from pathlib import Path

import pytest

from site_core.modules import hooks as cabinet_hooks
from site_core.payments import services
from site_core.payments.models import Payment, Refund
from site_core.payments.providers import ProviderError
from site_core.payments.registry import get_provider, providers

AUTHORIZATIONS = r"/v2/payments/authorizations/[^/]+"


@pytest.fixture
def authorized(buyer, paypal, make_order):
    def make(total=6000):
        payment = paypal.pay(buyer, make_order(total=total, capture_mode="manual"))
        assert payment.state == Payment.State.AUTHORIZED
        return payment

    return make


@pytest.fixture
def captured(buyer, paypal, make_order):
    def make(total=5000):
        payment = paypal.pay(buyer, make_order(total=total))
        assert payment.state == Payment.State.CAPTURED
        return payment

    return make


# --- Capture, void, refund -----------------------------------------------------

@pytest.mark.django_db
def test_capture_takes_what_was_used_and_releases_the_rest(fake, authorized):
    payment = authorized(6000)

    services.capture(payment, 4000)

    payment.refresh_from_db()
    (call,) = fake.calls_to("POST", AUTHORIZATIONS + "/capture")
    assert call.request_id == f"{payment.idempotency_key}-capture-4000"
    assert json.loads(call.body) == {"amount": {"currency_code": "EUR", "value": "40.00"}, "final_capture": True}
    assert payment.state == Payment.State.CAPTURED and payment.captured_amount == 4000
    assert payment.provider_data["capture_id"] == fake.orders[payment.reference].capture_ids[0]
    authorization = fake.authorizations[payment.provider_data["authorization_id"]]
    assert authorization["status"] == "CAPTURED"


@pytest.mark.django_db
def test_capture_timeout_then_retry_captures_once(fake, authorized):
    payment = authorized(6000)
    fake.fail_next("POST", AUTHORIZATIONS + "/capture", "timeout_after")

    with pytest.raises(ProviderError) as error:
        services.capture(payment, 4000)
    assert error.value.retryable
    payment.refresh_from_db()
    assert payment.state == Payment.State.AUTHORIZED

    services.capture(payment, 4000)

    payment.refresh_from_db()
    assert payment.state == Payment.State.CAPTURED and payment.captured_amount == 4000
    calls = fake.calls_to("POST", AUTHORIZATIONS + "/capture")
    assert [c.request_id for c in calls] == [f"{payment.idempotency_key}-capture-4000"] * 2
    assert len(fake.orders[payment.reference].capture_ids) == 1


@pytest.mark.django_db
def test_capture_refused_by_paypal_leaves_the_payment_authorized(fake, authorized):
    payment = authorized(6000)
    fake.authorizations[payment.provider_data["authorization_id"]]["status"] = "VOIDED"

    with pytest.raises(ProviderError) as error:
        services.capture(payment, 1000)

    assert error.value.code == "AUTHORIZATION_VOIDED" and not error.value.retryable
    payment.refresh_from_db()
    assert payment.state == Payment.State.AUTHORIZED and payment.captured_amount == 0


@pytest.mark.django_db
def test_capture_finds_the_authorization_at_paypal_when_it_was_not_kept(fake, authorized):
    payment = authorized(6000)
    Payment.objects.filter(pk=payment.pk).update(provider_data={})
    payment.refresh_from_db()

    services.capture(payment, 6000)

    payment.refresh_from_db()
    assert payment.state == Payment.State.CAPTURED and fake.captured_total(payment.reference) == 60


@pytest.mark.django_db
def test_void_releases_the_authorization_once(fake, authorized):
    payment = authorized()

    services.void(payment)

    payment.refresh_from_db()
    (call,) = fake.calls_to("POST", AUTHORIZATIONS + "/void")
    assert call.request_id == f"{payment.idempotency_key}-void"
    assert payment.state == Payment.State.CANCELED and fake.voided(payment.reference)


@pytest.mark.django_db
def test_void_of_an_authorization_already_released_at_paypal_succeeds(fake, authorized):
    payment = authorized()
    fake.authorizations[payment.provider_data["authorization_id"]]["status"] = "VOIDED"
    services.void(payment)
    payment.refresh_from_db()
    assert payment.state == Payment.State.CANCELED


@pytest.mark.django_db
def test_void_of_a_captured_authorization_is_refused(fake, authorized):
    payment = authorized()
    fake.authorizations[payment.provider_data["authorization_id"]]["status"] = "CAPTURED"
    with pytest.raises(ProviderError):
        services.void(payment)
    payment.refresh_from_db()
    assert payment.state == Payment.State.AUTHORIZED


@pytest.mark.django_db
def test_partial_refund_carries_the_refunds_own_request_id(fake, captured):
    payment = captured(5000)

    row = services.refund(payment, 1250, reason="started late")

    (call,) = fake.calls_to("POST", r"/v2/payments/captures/[^/]+/refund")
    assert call.request_id == row.idempotency_key
    assert call.path == f"/v2/payments/captures/{payment.provider_data['capture_id']}/refund"
    sent = json.loads(call.body)
    assert sent == {"amount": {"currency_code": "EUR", "value": "12.50"}, "custom_id": f"cabinet-refund-{row.pk}"}
    assert row.state == Refund.State.DONE and row.reference in fake.refunds
    assert fake.refunded_total(payment.reference) == 12.5


@pytest.mark.django_db
def test_refund_refused_by_paypal_is_recorded_as_failed(fake, captured):
    payment = captured(5000)
    # Refunded in full from PayPal's dashboard meanwhile.
    fake._refund_capture(headers={}, raw="", body={}, id=payment.provider_data["capture_id"])

    with pytest.raises(services.PaymentRefused):
        services.refund(payment, 1000)

    row = Refund.objects.get(payment=payment)
    assert row.state == Refund.State.FAILED and "CAPTURE_FULLY_REFUNDED" in row.failure_reason
    payment.refresh_from_db()
    assert payment.refunded_amount == 0


@pytest.mark.django_db
def test_refresh_applies_what_paypal_holds(fake, buyer, paypal, make_order):
    payment = paypal.start_without_completing(buyer, make_order(total=2000))
    fake.complete(payment.reference)

    get_provider("paypal", any_site=True).refresh(payment)

    payment.refresh_from_db()
    assert payment.state == Payment.State.CAPTURED and payment.captured_amount == 2000


@pytest.mark.django_db
def test_the_sweeper_finishes_an_approved_payment_whose_buyer_closed_the_tab(fake, buyer, paypal, make_order):
    from datetime import timedelta

    from django.utils import timezone

    from site_core.payments.tasks import sweep_pending_payments

    order = make_order(total=2500)
    payment = paypal.start_without_completing(buyer, order)
    fake.approve(payment.reference)  # approved at PayPal; no return, no webhook
    Payment.objects.filter(pk=payment.pk).update(created_at=timezone.now() - timedelta(minutes=10))

    assert sweep_pending_payments() == 1
    assert sweep_pending_payments() == 0

    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.state == Payment.State.CAPTURED and order.state == order.State.PAID
    (call,) = fake.calls_to("POST", r"/v2/checkout/orders/[^/]+/capture")
    assert call.request_id == f"{payment.idempotency_key}-capture"


@pytest.mark.django_db
def test_the_sweeper_leaves_an_unapproved_order_waiting(fake, buyer, paypal, make_order):
    from datetime import timedelta

    from django.utils import timezone

    from site_core.payments.tasks import sweep_pending_payments

    payment = paypal.start_without_completing(buyer, make_order())
    Payment.objects.filter(pk=payment.pk).update(created_at=timezone.now() - timedelta(minutes=10))

    sweep_pending_payments()

    payment.refresh_from_db()
    assert payment.state == Payment.State.PENDING
    assert not fake.calls_to("POST", r"/v2/checkout/orders/[^/]+/(capture|authorize)")


# --- Credentials and the OAuth token ------------------------------------------------

@pytest.mark.django_db
def test_one_oauth_token_serves_many_calls(fake, captured):
    captured()
    captured()
    assert len(fake.calls_to("POST", r"/v1/oauth2/token")) == 1
    (token,) = fake.tokens
    api_calls = [c for c in fake.calls if c.path != "/v1/oauth2/token"]
    assert api_calls and all(c.headers["Authorization"] == f"Bearer {token}" for c in api_calls)
    token_call = fake.calls_to("POST", r"/v1/oauth2/token")[0]
    assert token_call.headers["Authorization"].startswith("Basic ")


@pytest.mark.django_db
def test_a_revoked_token_is_replaced_on_the_next_call(fake, buyer, paypal, make_order):
    from modules.payments_paypal.provider import PayPalProvider

    payment = paypal.start_without_completing(buyer, make_order())
    fake.tokens.clear()  # PayPal revoked it

    with pytest.raises(ProviderError) as error:
        PayPalProvider().refresh(payment)
    assert error.value.retryable
    PayPalProvider().refresh(payment)

    assert len(fake.calls_to("POST", r"/v1/oauth2/token")) == 2


@pytest.mark.django_db
def test_wrong_credentials_create_nothing(buyer, fake, settings, make_order):
    settings.PAYPAL_CLIENT_SECRET = "not-the-secret"
    order = make_order()
    response = buyer.post(f"/payments/checkout/{order.public_id}/pay/paypal/", follow=True)
    assert response.redirect_chain[-1][0] == f"/payments/checkout/{order.public_id}/"
    assert not fake.orders and not fake.calls_to("POST", r"/v2/checkout/orders")

    from modules.payments_paypal.client import PayPalAPI

    with pytest.raises(ProviderError) as error:
        PayPalAPI().get_order("ANY")
    assert error.value.code == "authentication" and not error.value.retryable


def test_live_environment_talks_to_the_live_api(settings, monkeypatch):
    from modules.payments_paypal import client
    from tests.modules.payments_paypal.fake_paypal import FakePayPal

    settings.PAYPAL_CLIENT_ID, settings.PAYPAL_CLIENT_SECRET = "live-id", "live-secret"
    settings.PAYPAL_ENVIRONMENT = "live"
    fake = FakePayPal(client_id="live-id", client_secret="live-secret", webhook_id="W", environment="live")
    monkeypatch.setattr(client, "http_client_instance", fake.session)

    with pytest.raises(ProviderError):
        client.PayPalAPI().get_order("NOPE")

    assert {c.path for c in fake.calls} == {"/v1/oauth2/token", "/v2/checkout/orders/NOPE"}


# --- Being offered -----------------------------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize(("client_id", "secret"), [("", ""), ("id", ""), ("", "secret")])
def test_not_configured_paypal_is_not_offered_at_checkout(buyer, settings, make_order, client_id, secret):
    settings.PAYPAL_CLIENT_ID, settings.PAYPAL_CLIENT_SECRET = client_id, secret
    order = make_order()

    page = buyer.get(f"/payments/checkout/{order.public_id}/")

    assert page.status_code == 200
    assert "pay/paypal/" not in page.content.decode()
    assert buyer.post(f"/payments/checkout/{order.public_id}/pay/paypal/").status_code == 404
    assert not Payment.objects.exists()


@pytest.mark.django_db
def test_configured_paypal_is_offered_for_both_capture_modes(buyer, paypal, make_order):
    for mode in ("automatic", "manual"):
        order = make_order(capture_mode=mode)
        page = buyer.get(f"/payments/checkout/{order.public_id}/")
        assert f"/payments/checkout/{order.public_id}/pay/paypal/" in page.content.decode()


@pytest.mark.django_db
def test_paypal_is_not_offered_where_the_module_is_off(buyer, paypal, practice, make_order):
    from site_core.modules import default_enabled_labels

    practice.settings.enabled_modules = [label for label in default_enabled_labels() if label != "payments_paypal"]
    practice.settings.save()
    order = make_order()

    page = buyer.get(f"/payments/checkout/{order.public_id}/")

    assert "pay/paypal/" not in page.content.decode()
    assert buyer.post(f"/payments/checkout/{order.public_id}/pay/paypal/").status_code == 404


def test_the_provider_is_registered_through_the_cabinet_hook(paypal, practice):
    registered = [p for fn in cabinet_hooks.all_hooks(cabinet_hooks.REGISTER_PAYMENT_PROVIDERS) for p in fn()]
    paypal_providers = [p for p in registered if p.identifier == "paypal"]
    assert len(paypal_providers) == 1
    provider = paypal_providers[0]
    assert provider.can_authorize and provider.can_refund and provider.can_partially_refund
    assert any(p.identifier == "paypal" for p in providers(practice.site))


# --- Configuration checks and module boundaries ------------------------------------

def test_system_checks_say_what_is_missing(settings):
    from modules.payments_paypal.checks import paypal_settings

    settings.PAYPAL_CLIENT_ID, settings.PAYPAL_CLIENT_SECRET, settings.PAYPAL_WEBHOOK_ID = "id", "", ""
    settings.PAYPAL_ENVIRONMENT = "sandbox"
    assert [c.id for c in paypal_settings()] == ["payments_paypal.W001"]
    settings.PAYPAL_CLIENT_SECRET = "secret"
    assert [c.id for c in paypal_settings()] == ["payments_paypal.W002"]
    settings.PAYPAL_WEBHOOK_ID = "WH"
    assert paypal_settings() == []
    settings.PAYPAL_ENVIRONMENT = "production"
    assert [c.id for c in paypal_settings()] == ["payments_paypal.E001"]


def test_the_module_imports_only_the_kernel_django_wagtail_and_libraries():
    root = Path(__file__).resolve().parents[3] / "modules" / "payments_paypal"
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            for name in names:
                if name.startswith("modules."):
                    assert name.startswith("modules.payments_paypal"), f"{path.name} imports {name}"
                assert name != "paypalrestsdk", f"{path.name} uses the deprecated paypalrestsdk"
