"""The return page and PayPal's notification racing each other confirm the payment once (PostgreSQL)."""

import threading

import pytest
from django.db import connection
from django.test import Client

from site_core.payments.models import Order, Payment, PaymentLog
from tests.conftest import ensure_wagtail_roots
from tests.site_core.payments.drivers.paypal import local


@pytest.fixture
def wagtail_root(django_db_blocker):
    """Wagtail's root page, made by a migration, is emptied with every table when a transactional
    test ends. Put it back before and after this one (requested before ``transactional_db``, this
    fixture is torn down after the flush), so the tests around it find the tree migrations make."""
    with django_db_blocker.unblock():
        ensure_wagtail_roots()
    yield
    with django_db_blocker.unblock():
        ensure_wagtail_roots()


def test_return_page_and_webhook_at_the_same_time_capture_once(require_postgres, wagtail_root, transactional_db,
                                                               paypal, fake, client_user, make_order):
    buyer = Client()
    buyer.force_login(client_user)
    order = make_order(total=4800)
    payment = paypal.start_without_completing(buyer, order)
    back = local(fake.approve(payment.reference))
    body, headers = fake.signed(fake.event("CHECKOUT.ORDER.APPROVED", fake.order_json(payment.reference)))
    barrier = threading.Barrier(2)
    answers, errors = {}, []

    def run(name, call):
        try:
            barrier.wait(timeout=10)
            answers[name] = call().status_code
        except Exception as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=("return", lambda: buyer.get(back))),
        threading.Thread(target=run, args=("webhook", lambda: Client().post(
            "/payments/webhooks/paypal/", data=body, content_type="application/json", **headers))),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert not errors, errors
    assert answers == {"return": 302, "webhook": 200}
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.state == Payment.State.CAPTURED and payment.captured_amount == 4800
    assert order.state == Order.State.PAID
    assert PaymentLog.objects.filter(payment=payment, to_state="captured").count() == 1
    assert len(fake.orders[payment.reference].capture_ids) == 1
    requests_ids = {c.request_id for c in fake.calls_to("POST", r"/v2/checkout/orders/[^/]+/capture")}
    assert requests_ids <= {f"{payment.idempotency_key}-capture"}
