"""The simulated card gateway: what the "test" provider talks to.

Card numbers (as Stripe's test cards): 4242 4242 4242 4242 succeeds,
4000 0000 0000 0002 is declined, 4000 0027 6000 3184 asks for a 3-D Secure
confirmation first. Any future expiry date and any CVC.
"""

import secrets

from django.db import IntegrityError, transaction
from django.db.models import F

from modules.payments_test.models import SimulatedCharge, SimulatedRefund

SUCCESS = "4242424242424242"
DECLINE = "4000000000000002"
REQUIRES_ACTION = "4000002760003184"


class GatewayError(Exception):
    pass


def _id(prefix):
    return f"{prefix}_{secrets.token_hex(10)}"


def create_charge(*, idempotency_key, amount, currency, manual_capture):
    """Like creating a PaymentIntent with an idempotency key: the same key returns the same charge."""
    existing = SimulatedCharge.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        if existing.amount != amount or existing.currency != currency:
            raise GatewayError("idempotency key reused with other parameters")
        return existing
    try:
        with transaction.atomic():
            return SimulatedCharge.objects.create(id=_id("sim"), idempotency_key=idempotency_key, amount=amount,
                                                  currency=currency, manual_capture=manual_capture)
    except IntegrityError:
        return SimulatedCharge.objects.get(idempotency_key=idempotency_key)


def _succeed(charge):
    if charge.manual_capture:
        charge.status = "requires_capture"
    else:
        charge.status = "succeeded"
        charge.amount_captured = charge.amount


@transaction.atomic
def pay_with_card(charge_id, card_number):
    charge = SimulatedCharge.objects.select_for_update().get(pk=charge_id)
    if charge.status not in ("requires_payment_method", "failed"):
        return charge
    number = "".join(ch for ch in card_number if ch.isdigit())
    if number == SUCCESS:
        _succeed(charge)
        charge.failure_message = ""
    elif number == REQUIRES_ACTION:
        charge.status = "requires_action"
    else:
        charge.status = "failed"
        charge.failure_message = "card declined" if number == DECLINE else "card number not accepted"
    charge.save()
    return charge


@transaction.atomic
def confirm_action(charge_id, approved):
    charge = SimulatedCharge.objects.select_for_update().get(pk=charge_id)
    if charge.status != "requires_action":
        return charge
    if approved:
        _succeed(charge)
    else:
        charge.status = "failed"
        charge.failure_message = "authentication failed"
    charge.save()
    return charge


@transaction.atomic
def capture(charge_id, amount):
    charge = SimulatedCharge.objects.select_for_update().get(pk=charge_id)
    if charge.status == "succeeded":
        return charge
    if charge.status != "requires_capture" or not (0 < amount <= charge.amount):
        raise GatewayError("charge cannot be captured for that amount")
    charge.status = "succeeded"
    charge.amount_captured = amount
    charge.save()
    return charge


@transaction.atomic
def cancel(charge_id):
    charge = SimulatedCharge.objects.select_for_update().get(pk=charge_id)
    if charge.status in ("succeeded",):
        raise GatewayError("a captured charge cannot be canceled")
    charge.status = "canceled"
    charge.save()
    return charge


@transaction.atomic
def refund(charge_id, amount, idempotency_key):
    existing = SimulatedRefund.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing
    charge = SimulatedCharge.objects.select_for_update().get(pk=charge_id)
    if charge.status != "succeeded" or amount <= 0 or charge.amount_refunded + amount > charge.amount_captured:
        raise GatewayError("refund exceeds what was captured")
    SimulatedCharge.objects.filter(pk=charge.pk).update(amount_refunded=F("amount_refunded") + amount)
    return SimulatedRefund.objects.create(id=_id("sre"), charge=charge, idempotency_key=idempotency_key,
                                          amount=amount)
