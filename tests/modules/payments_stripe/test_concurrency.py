"""Stripe's notifications and the return page racing each other confirm the payment once (PostgreSQL)."""

import threading

import pytest
from django.db import connection
from django.test import Client

from site_core.payments.models import Order, Payment, PaymentLog, WebhookEvent
from tests.conftest import ensure_wagtail_roots
from tests.site_core.payments.drivers.stripe import local

URL = "/payments/webhooks/stripe/"


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


def run_together(calls):
    """Runs the named calls in threads released at once by a barrier; returns their status codes."""
    barrier = threading.Barrier(len(calls))
    answers, errors = {}, []

    def run(name, call):
        try:
            barrier.wait(timeout=10)
            answers[name] = call().status_code
        except Exception as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=item) for item in calls.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    return answers


def test_the_same_notification_five_times_at_once_confirms_once(require_postgres, wagtail_root, transactional_db,
                                                                stripe_gateway, fake, client_user, make_order):
    buyer = Client()
    buyer.force_login(client_user)
    order = make_order(total=4800)
    payment = stripe_gateway.start_without_completing(buyer, order)
    fake.confirm(payment.reference)
    body, headers = fake.signed(fake.intent_event("payment_intent.succeeded", payment.reference))

    def deliver():
        return Client().post(URL, data=body, content_type="application/json", **headers)

    answers = run_together({f"delivery {n}": deliver for n in range(5)})

    assert sorted(answers.values()) == [200] * 5
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.state == Payment.State.CAPTURED and payment.captured_amount == 4800
    assert order.state == Order.State.PAID
    assert WebhookEvent.objects.filter(provider="stripe").count() == 1
    assert PaymentLog.objects.filter(payment=payment, to_state="captured").count() == 1


def test_return_page_and_notification_at_the_same_time_confirm_once(require_postgres, wagtail_root,
                                                                    transactional_db, stripe_gateway, fake,
                                                                    client_user, make_order):
    buyer = Client()
    buyer.force_login(client_user)
    order = make_order(total=6000, capture_mode="manual")
    payment = stripe_gateway.start_without_completing(buyer, order)
    fake.confirm(payment.reference)
    back = local(fake.return_url(payment.reference, f"http://testserver/payments/return/{payment.pk}/"))
    body, headers = fake.signed(fake.intent_event("payment_intent.amount_capturable_updated", payment.reference))

    answers = run_together({
        "return": lambda: buyer.get(back),
        "webhook": lambda: Client().post(URL, data=body, content_type="application/json", **headers),
    })

    assert answers == {"return": 302, "webhook": 200}
    payment.refresh_from_db()
    assert payment.state == Payment.State.AUTHORIZED and payment.authorized_amount == 6000
    assert PaymentLog.objects.filter(payment=payment, to_state="authorized").count() == 1
    assert not fake.calls_to("POST", r"/v1/payment_intents/[^/]+/capture")
