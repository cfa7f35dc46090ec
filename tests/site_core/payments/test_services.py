import threading
from datetime import timedelta

import pytest
from django.db import close_old_connections
from django.utils import timezone, translation

from site_core import events
from site_core.base.money import Money
from site_core.payments import services
from site_core.payments.models import (
    Order,
    Payment,
    PaymentLog,
    PromoCode,
    PromoRedemption,
    WebhookEvent,
)


@pytest.fixture(autouse=True)
def _messages_in_english():
    """These tests read the services' messages, which follow the active language: English here."""
    with translation.override("en"):
        yield



def promo(practice, **fields):
    defaults = {"site": practice.site, "code": "BIENVENUE", "kind": "percent", "percent": 20}
    defaults.update(fields)
    return PromoCode.objects.create(**defaults)


@pytest.mark.django_db
def test_money_is_integer_minor_units():
    assert Money(1250, "EUR").format("fr").replace("\u202f", " ").replace("\xa0", " ") == "12,50 €"
    assert Money(1250, "EUR").format("en") == "€12.50"
    assert Money.from_decimal("12.345", "EUR") == Money(1235, "EUR")
    assert Money.from_decimal("500", "JPY") == Money(500, "JPY")
    with pytest.raises(TypeError):
        Money(12.5, "EUR")
    with pytest.raises(ValueError):
        Money(1, "EURO")


@pytest.mark.django_db
def test_order_with_a_percentage_promo_code(practice, make_order):
    promo(practice)
    order = make_order(total=5000, promo_code="bienvenue")
    assert (order.subtotal, order.discount, order.total) == (5000, 1000, 4000)
    assert PromoRedemption.objects.get().order == order


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"valid_until": timezone.now() - timedelta(days=1)}, "expired"),
        ({"valid_from": timezone.now() + timedelta(days=1)}, "not valid yet"),
        ({"active": False}, "does not exist"),
        ({"minimum_amount": 10000}, "at least"),
        ({"max_uses": 0}, "used up"),
    ],
)
@pytest.mark.django_db
def test_promo_code_refusals_say_why_and_write_nothing(practice, make_order, fields, message):
    promo(practice, **fields)
    with pytest.raises(services.PromoCodeError, match=message):
        make_order(total=5000, promo_code="BIENVENUE")
    assert not Order.objects.exists() and not PromoRedemption.objects.exists()


@pytest.mark.django_db
def test_promo_code_for_another_expert_is_refused(practice, make_expert, make_order):
    alice, _, _ = make_expert(practice, "Alice Martin")
    bob, _, _ = make_expert(practice, "Bob Leroy")
    promo(practice, expert=alice)
    with pytest.raises(services.PromoCodeError, match="not valid for this expert"):
        make_order(expert=bob, promo_code="BIENVENUE")
    assert make_order(expert=alice, promo_code="BIENVENUE").discount == 1000


@pytest.mark.django_db
def test_a_promo_code_checked_before_the_amount_is_known_skips_only_the_minimum(practice):
    check = dict(site=practice.site, code="BIENVENUE", client=None, expert=None, currency="EUR", subtotal=None)
    code = promo(practice, minimum_amount=10000)
    assert services.check_promo_code(**check) == code
    with pytest.raises(services.PromoCodeError, match="at least"):
        services.check_promo_code(**{**check, "subtotal": 5000})
    code.valid_until = timezone.now() - timedelta(days=1)
    code.save()
    with pytest.raises(services.PromoCodeError, match="expired"):
        services.check_promo_code(**check)
    with pytest.raises(services.PromoCodeError, match="does not exist"):
        services.check_promo_code(**{**check, "code": "NOPE"})


@pytest.mark.django_db
def test_per_client_limit(practice, make_order, make_user):
    promo(practice, max_uses_per_client=1)
    make_order(promo_code="BIENVENUE")
    with pytest.raises(services.PromoCodeError, match="already used"):
        make_order(promo_code="BIENVENUE")
    assert make_order(client=make_user(), promo_code="BIENVENUE").discount == 1000


@pytest.mark.django_db
def test_canceled_order_gives_its_use_back(practice, make_order):
    promo(practice, max_uses=1, max_uses_per_client=None)
    order = make_order(promo_code="BIENVENUE")
    services.cancel_order(order)
    assert make_order(promo_code="BIENVENUE").discount == 1000


@pytest.mark.django_db
def test_fixed_code_covering_everything_pays_the_order(practice, make_order, django_capture_on_commit_callbacks,
                                                        listen):
    promo(practice, kind="fixed", percent=None, amount=9000)
    received = listen(events.order_paid)
    with django_capture_on_commit_callbacks(execute=True):
        order = make_order(total=5000, promo_code="BIENVENUE")
    assert order.total == 0 and order.state == Order.State.PAID
    assert [(r["order_id"], r["total"], r["site_id"]) for r in received] == [(order.pk, 0, order.site_id)]


@pytest.mark.django_db
def test_retry_after_a_timeout_reuses_the_same_payment_and_key(make_order):
    order = make_order()
    first = services.start_payment(order, "test")
    second = services.start_payment(order, "test")
    assert first.pk == second.pk and first.idempotency_key == second.idempotency_key
    assert Payment.objects.count() == 1


@pytest.mark.django_db
def test_wrong_amount_or_currency_is_never_marked_paid(make_order, caplog):
    order = make_order(total=5000)
    payment = services.start_payment(order, "test")
    services.confirm_capture(payment, amount=4999, currency="EUR")
    services.confirm_capture(payment, amount=5000, currency="USD")
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.state == Payment.State.CREATED and order.state == Order.State.OPEN
    assert PaymentLog.objects.filter(payment=payment, message__contains="does not match").count() == 2
    assert "does not match" in caplog.text


@pytest.mark.django_db
def test_confirm_is_idempotent_and_announces_once(make_order, django_capture_on_commit_callbacks, listen):
    order = make_order(total=5000)
    payment = services.start_payment(order, "test")
    received = listen(events.order_paid)
    captured = listen(events.payment_captured)
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            services.confirm_capture(payment, amount=5000, currency="EUR")
    assert [r["order_id"] for r in received] == [order.pk]
    assert [(r["payment_id"], r["amount"], r["currency"]) for r in captured] == [(payment.pk, 5000, "EUR")]
    assert PaymentLog.objects.filter(payment=payment, to_state="captured").count() == 1


@pytest.mark.django_db
def test_paid_order_cannot_start_another_payment(make_order):
    order = make_order(total=5000)
    payment = services.start_payment(order, "test")
    services.confirm_capture(payment, amount=5000, currency="EUR")
    with pytest.raises(services.PaymentRefused):
        services.start_payment(order, "test")


@pytest.mark.django_db(transaction=True)
def test_promo_use_limit_holds_under_20_concurrent_checkouts(require_postgres, practice, make_user):
    limit = 5
    promo(practice, max_uses=limit, max_uses_per_client=None)
    clients = [make_user() for _ in range(20)]
    barrier = threading.Barrier(len(clients))
    outcomes = []

    def checkout(user):
        try:
            barrier.wait()
            services.create_order(site=practice.site, client=user, purpose="other", currency="EUR",
                                  lines=[("Consultation", 5000, 1)], promo_code="BIENVENUE")
            outcomes.append("ok")
        except services.PromoCodeError:
            outcomes.append("refused")
        finally:
            close_old_connections()

    threads = [threading.Thread(target=checkout, args=(user,)) for user in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("ok") == limit and outcomes.count("refused") == 20 - limit
    assert PromoRedemption.objects.count() == limit


@pytest.mark.django_db
def test_sweeper_confirms_a_payment_the_client_abandoned(make_order):
    from modules.payments_test import gateway
    from site_core.payments.tasks import sweep_pending_payments

    order = make_order(total=2000)
    payment = services.start_payment(order, "test")
    charge = gateway.create_charge(idempotency_key=payment.idempotency_key, amount=2000, currency="EUR",
                                   manual_capture=False)
    services.set_reference(payment, charge.id)
    gateway.pay_with_card(charge.id, gateway.SUCCESS)
    Payment.objects.filter(pk=payment.pk).update(created_at=timezone.now() - timedelta(minutes=10))
    assert sweep_pending_payments() == 1
    order.refresh_from_db()
    assert order.state == Order.State.PAID


@pytest.mark.django_db
def test_schedules_exist_after_migrate():
    from django_q.models import Schedule

    assert Schedule.objects.filter(name="cabinet.payments.sweep_pending").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("event_id, event_type, payload, field", [
    (42, "charge.succeeded", {}, "id"),
    ("evt_1", None, {}, "type"),
    ("evt_1", "charge.succeeded", {"data": {"ok\x00": 1}}, "payload"),
    ("evt_1", "charge.succeeded", {"data": [{"a": ["b", "\ud83d"]}]}, "payload"),
    ("evt_1", "charge.succeeded", {"data": {"amount": float("-inf")}}, "payload"),
])
def test_record_webhook_refuses_what_cannot_be_stored(event_id, event_type, payload, field):
    with pytest.raises(services.WebhookRefused) as refused:
        services.record_webhook("test", event_id, event_type, payload)
    assert refused.value.field == field and str(refused.value)
    assert not WebhookEvent.objects.exists()


@pytest.mark.django_db
def test_record_webhook_stores_text_in_any_script_once():
    payload = {"data": {"note": "réservé ✓ 😀", "amount": 1.5, "items": [None, True, 3]}}
    event, created = services.record_webhook("test", "evt_" + "é" * 124, "t" * 100, payload)
    assert created
    again, created_again = services.record_webhook("test", "evt_" + "é" * 124, "t" * 100, payload)
    assert not created_again and again.pk == event.pk
    assert WebhookEvent.objects.get().payload == payload
