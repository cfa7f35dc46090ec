"""Every change to orders, payments, refunds and promo codes.

Each function runs in one transaction, locks the rows it changes, logs the
transition (PaymentLog) and sends its events on commit. Confirming is
idempotent: whichever path gets there first (return page, webhook, sweeper)
does it, the others find it done.
"""

from __future__ import annotations

import logging
import math

from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from site_core import events
from site_core.base.money import Money
from site_core.payments.models import (
    Order,
    OrderLine,
    Payment,
    PaymentLog,
    PromoCode,
    PromoRedemption,
    Refund,
    WebhookEvent,
)

logger = logging.getLogger(__name__)

S = Payment.State

#: Kept in Payment.provider_data while a capture is at the gateway: its amount.
CAPTURE_IN_FLIGHT = "capture_in_flight"


class PaymentRefused(Exception):
    """A request that would break a payment rule (amount, state). Its message is for people."""


class PromoCodeError(ValueError):
    """A promo code that cannot be used here; the message says why, for the client.
    ``reason`` names it for code ("other_client": issued to someone else)."""

    def __init__(self, message, reason="invalid"):
        super().__init__(message)
        self.reason = reason


def orders_for(paid_object):
    """The orders that pay for ``paid_object`` (through Order's generic relation), oldest first."""
    from django.contrib.contenttypes.models import ContentType

    return Order.objects.filter(content_type=ContentType.objects.get_for_model(paid_object),
                                object_id=str(paid_object.pk)).order_by("created_at", "pk")


def order_facts(order) -> dict:
    """What every money event says of its order (site_core.events.ORDER): plain data."""
    content_type = order.content_type
    return {
        "order_id": order.pk,
        "purpose": order.purpose,
        "paid_type": f"{content_type.app_label}.{content_type.model}" if content_type else "",
        "paid_id": order.object_id or "",
    }


def _payment_event(event, payment, **data):
    """Record a payment's event with the change (the outbox delivers it after commit)."""
    order = payment.order
    event.send(site=order.site_id, payment_id=payment.pk, **order_facts(order), **data)


def _log(payment, message, *, from_state="", to_state="", refund=None, user=None, **data):
    PaymentLog.objects.create(payment=payment, refund=refund, from_state=from_state, to_state=to_state,
                              message=message[:300], data=data, user=user)


def _locked(payment):
    return Payment.objects.select_for_update().get(pk=payment.pk)


def _move(payment, to_state, message, **data):
    from_state = payment.state
    payment.state = to_state
    _log(payment, message, from_state=from_state, to_state=to_state, **data)


# --- Promo codes -------------------------------------------------------------

def check_promo_code(*, site, code, client, expert, subtotal, currency, now=None, lock=False):
    """The PromoCode for ``code`` if the client may use it on this order, else PromoCodeError.

    ``subtotal=None`` means the amount is not known yet (the first step of a booking): every
    check but the minimum amount is made; the order checks it again when it is created."""
    now = now or timezone.now()
    queryset = PromoCode.objects.filter(site=site, code__iexact=(code or "").strip())
    if lock:
        queryset = queryset.select_for_update()
    promo = queryset.first()
    if promo is None or not promo.active:
        raise PromoCodeError(_("This promo code does not exist."))
    if promo.valid_from and now < promo.valid_from:
        raise PromoCodeError(_("This promo code is not valid yet."))
    if promo.valid_until and now > promo.valid_until:
        raise PromoCodeError(_("This promo code has expired."))
    if promo.expert_id and (expert is None or promo.expert_id != expert.pk):
        raise PromoCodeError(_("This promo code is not valid for this expert."))
    if promo.client_id and (client is None or promo.client_id != client.pk):
        raise PromoCodeError(_("This promo code was issued to another client."), reason="other_client")
    if promo.kind == PromoCode.Kind.FIXED and promo.currency != currency:
        raise PromoCodeError(_("This promo code is in another currency."))
    if subtotal is not None and subtotal < promo.minimum_amount:
        raise PromoCodeError(
            _("This promo code needs an order of at least %(amount)s.")
            % {"amount": Money(promo.minimum_amount, currency).format()}
        )
    used = PromoRedemption.objects.filter(promo_code=promo).exclude(order__state=Order.State.CANCELED)
    counts = used.aggregate(total=Count("pk"), mine=Count("pk", filter=Q(client=client)) if client else Count(None))
    if promo.max_uses is not None and counts["total"] >= promo.max_uses:
        raise PromoCodeError(_("This promo code has been used up."))
    if client is not None and promo.max_uses_per_client is not None and counts["mine"] >= promo.max_uses_per_client:
        raise PromoCodeError(_("You have already used this promo code."))
    return promo


# --- Orders --------------------------------------------------------------------

@transaction.atomic
def create_order(*, site, client, purpose, currency, lines, expert=None, paid_object=None,
                 capture_mode="automatic", promo_code="", success_url="", cancel_url="", language="fr"):
    """An open order for ``lines`` ([(description, unit_amount, quantity)]), promo code applied.

    The promo code row is locked while its uses are counted, so its limits
    hold when many clients check out at once.
    """
    if not lines:
        raise ValueError("An order needs at least one line")
    subtotal = sum(int(amount) * int(quantity) for _desc, amount, quantity in lines)
    if subtotal <= 0:
        raise ValueError("An order's subtotal must be positive")
    promo = None
    discount = 0
    if promo_code:
        promo = check_promo_code(site=site, code=promo_code, client=client, expert=expert,
                                 subtotal=subtotal, currency=currency, lock=True)
        discount = promo.discount_for(subtotal)
    order = Order(site=site, client=client, expert=expert, purpose=purpose, currency=currency,
                  subtotal=subtotal, discount=discount, total=subtotal - discount, promo_code=promo,
                  capture_mode=capture_mode, success_url=success_url, cancel_url=cancel_url, language=language)
    if paid_object is not None:
        order.paid_object = paid_object
    order.save()
    OrderLine.objects.bulk_create([
        OrderLine(order=order, description=desc[:200], unit_amount=int(amount), quantity=int(quantity))
        for desc, amount, quantity in lines
    ])
    if promo is not None:
        PromoRedemption.objects.create(promo_code=promo, order=order, client=client)
    if client is not None:
        # Whoever orders (books) on a practice's site is its client.
        from site_core.access.services import add_client_membership

        add_client_membership(client, site, source="booking")
    if order.total == 0:
        # Fully covered by a promo code: nothing to pay.
        _mark_order_paid(order)
    return order


@transaction.atomic
def apply_promo_code(order, code):
    """Adds a promo code to an open order that no payment has started on."""
    order = Order.objects.select_for_update().get(pk=order.pk)
    if order.state != Order.State.OPEN or order.promo_code_id or order.payments.exists():
        raise PromoCodeError(_("A promo code can no longer be added to this order."))
    promo = check_promo_code(site=order.site, code=code, client=order.client, expert=order.expert,
                             subtotal=order.subtotal, currency=order.currency, lock=True)
    order.promo_code = promo
    order.discount = promo.discount_for(order.subtotal)
    order.total = order.subtotal - order.discount
    order.save(update_fields=["promo_code", "discount", "total"])
    PromoRedemption.objects.create(promo_code=promo, order=order, client=order.client)
    if order.total == 0:
        _mark_order_paid(order)
    return order


def _mark_order_paid(order):
    updated = Order.objects.filter(pk=order.pk, state=Order.State.OPEN).update(
        state=Order.State.PAID, paid_at=timezone.now()
    )
    if updated:
        order.state = Order.State.PAID
        events.order_paid.send(site=order.site_id, **order_facts(order), total=order.total, currency=order.currency)


def _settle_order(order):
    """Marks the order paid once its payments cover it (captured, or authorized for manual capture)."""
    payments = Payment.objects.filter(order=order)
    if order.capture_mode == "manual":
        covered = sum(p.authorized_amount for p in payments if p.state in (S.AUTHORIZED, S.CAPTURED))
    else:
        covered = sum(p.captured_amount - p.refunded_amount for p in payments if p.state == S.CAPTURED)
    if covered >= order.total:
        _mark_order_paid(order)


@transaction.atomic
def cancel_order(order, reason=""):
    """Gives up an open order; its started payments are canceled (a promo code use is freed)."""
    order = Order.objects.select_for_update().get(pk=order.pk)
    if order.state != Order.State.OPEN:
        return order
    order.state = Order.State.CANCELED
    order.save(update_fields=["state"])
    for payment in Payment.objects.select_for_update().filter(order=order, state__in=[S.CREATED, S.PENDING]):
        _move(payment, S.CANCELED, reason or "order canceled")
        payment.save(update_fields=["state", "updated_at"])
    events.order_canceled.send(site=order.site_id, **order_facts(order), reason=str(reason or "")[:200])
    return order


# --- Payments --------------------------------------------------------------------

@transaction.atomic
def start_payment(order, provider_identifier):
    """The payment to use for paying ``order`` with this provider.

    An attempt already started with the same provider and not finished is
    reused with its idempotency key, so a retry after a timeout reaches the
    same gateway object instead of creating a second charge.
    """
    order = Order.objects.select_for_update().get(pk=order.pk)
    if order.state != Order.State.OPEN:
        raise PaymentRefused(_("This order can no longer be paid."))
    existing = (
        Payment.objects.select_for_update()
        .filter(order=order, provider=provider_identifier, state__in=[S.CREATED, S.PENDING])
        .order_by("-created_at").first()
    )
    if existing is not None:
        return existing
    payment = Payment.objects.create(order=order, provider=provider_identifier, currency=order.currency,
                                     amount=order.total, capture_mode=order.capture_mode)
    _log(payment, "payment created", to_state=S.CREATED, amount=order.total)
    return payment


@transaction.atomic
def set_reference(payment, reference, **provider_data):
    payment = _locked(payment)
    if payment.reference and payment.reference != reference:
        raise PaymentRefused("A payment's gateway reference cannot change")
    payment.reference = reference
    payment.provider_data = {**payment.provider_data, **provider_data}
    payment.save(update_fields=["reference", "provider_data", "updated_at"])
    return payment


@transaction.atomic
def mark_pending(payment, message="waiting for the client or the gateway"):
    payment = _locked(payment)
    if payment.state == S.CREATED:
        _move(payment, S.PENDING, message)
        payment.save(update_fields=["state", "updated_at"])
    return payment


def _amount_matches(payment, amount, currency, *, at_most=False):
    if currency is None or currency.upper() != payment.currency:
        return False
    return amount <= payment.amount if at_most else amount == payment.amount


@transaction.atomic
def mark_authorized(payment, *, amount, currency, reference=""):
    """The gateway holds ``amount`` on the client's card (manual capture). Idempotent."""
    payment = _locked(payment)
    if payment.state in (S.AUTHORIZED, S.CAPTURED):
        return payment
    if payment.state in (S.FAILED, S.CANCELED):
        _log(payment, "authorization reported after the payment ended; ignored", amount=amount)
        return payment
    if not _amount_matches(payment, amount, currency):
        _log(payment, "authorization amount or currency does not match; not accepted",
             amount=amount, currency=currency, expected=payment.amount)
        logger.error("Payment %s: authorized %s %s, expected %s %s", payment.pk, amount, currency,
                     payment.amount, payment.currency)
        return payment
    if reference and not payment.reference:
        payment.reference = reference
    payment.authorized_amount = amount
    _move(payment, S.AUTHORIZED, "authorized", amount=amount)
    payment.save()
    _settle_order(payment.order)
    return payment


@transaction.atomic
def confirm_capture(payment, *, amount, currency, reference=""):
    """The gateway captured ``amount``. Idempotent and locked: the first path to get here does it.

    For an automatic payment the amount must equal the payment's; for a
    manual capture it must not exceed what was authorized. Anything else is
    logged and the payment is not marked paid.
    """
    payment = _locked(payment)
    if payment.state == S.CAPTURED:
        return payment
    if payment.state in (S.FAILED, S.CANCELED) and payment.capture_mode == "automatic":
        # Money arrived for an attempt we had given up: keep it visible.
        _log(payment, "capture reported after the payment ended; check and refund", amount=amount)
        logger.error("Payment %s captured after it ended (%s)", payment.pk, payment.state)
    manual = payment.capture_mode == "manual"
    limit_ok = (
        currency is not None and currency.upper() == payment.currency and 0 < amount <= payment.authorized_amount
    ) if manual else _amount_matches(payment, amount, currency)
    if not limit_ok:
        _log(payment, "captured amount or currency does not match; not marked paid",
             amount=amount, currency=currency, expected=payment.amount)
        logger.error("Payment %s: captured %s %s does not match %s %s", payment.pk, amount, currency,
                     payment.amount, payment.currency)
        return payment
    if reference and not payment.reference:
        payment.reference = reference
    payment.captured_amount = amount
    payment.provider_data.pop(CAPTURE_IN_FLIGHT, None)
    _move(payment, S.CAPTURED, "captured", amount=amount)
    payment.save()
    _settle_order(payment.order)
    _payment_event(events.payment_captured, payment, amount=amount, currency=payment.currency)
    return payment


@transaction.atomic
def fail(payment, reason=""):
    payment = _locked(payment)
    if payment.state in (S.CREATED, S.PENDING):
        payment.failure_reason = reason[:300]
        _move(payment, S.FAILED, reason or "failed")
        payment.save()
        _payment_event(events.payment_failed, payment)
    return payment


def capture(payment, amount, *, user=None):
    """Captures ``amount`` of an authorized payment (the minutes used); the rest is released.

    The payment's row is locked to check and to record the request, not while
    the gateway answers (on SQLite that lock is the whole database's). The
    amount asked for is kept on the payment until the gateway has answered:
    the same capture may be asked again (a timeout; the provider sends the
    same idempotency key), another amount is refused until the gateway has
    refused the first.
    """
    from site_core.payments.providers import ProviderError
    from site_core.payments.registry import get_provider

    provider = get_provider(payment.provider, any_site=True)
    with transaction.atomic():
        payment = _locked(payment)
        if payment.state == S.CAPTURED:
            return payment
        if payment.state != S.AUTHORIZED:
            raise PaymentRefused(_("Only an authorized payment can be captured."))
        if amount <= 0 or amount > payment.authorized_amount:
            raise PaymentRefused(_("You cannot capture more than was authorized (%(amount)s).")
                                 % {"amount": Money(payment.authorized_amount, payment.currency).format()})
        in_flight = payment.provider_data.get(CAPTURE_IN_FLIGHT)
        if in_flight is not None and in_flight != amount:
            raise PaymentRefused(_("A capture of %(amount)s is already under way; it must finish first.")
                                 % {"amount": Money(in_flight, payment.currency).format()})
        if in_flight is None:
            payment.provider_data = {**payment.provider_data, CAPTURE_IN_FLIGHT: amount}
            payment.save(update_fields=["provider_data", "updated_at"])
        _log(payment, "capture requested", amount=amount, user=user)
    try:
        provider.capture(payment, amount)
    except ProviderError as exc:
        if not exc.retryable:
            _capture_refused(payment, amount, exc, user=user)
        raise
    return confirm_capture(payment, amount=amount, currency=payment.currency)


@transaction.atomic
def _capture_refused(payment, amount, reason, *, user=None):
    payment = _locked(payment)
    if payment.provider_data.get(CAPTURE_IN_FLIGHT) == amount:
        payment.provider_data = {k: v for k, v in payment.provider_data.items() if k != CAPTURE_IN_FLIGHT}
        payment.save(update_fields=["provider_data", "updated_at"])
    _log(payment, f"capture refused: {reason}", amount=amount, user=user)


def void(payment, *, user=None, reason=""):
    """Releases an authorization without taking any money.

    As for a capture, the row is not locked while the gateway answers; it is
    read again afterwards, so what the provider wrote meanwhile is kept.
    """
    from site_core.payments.registry import get_provider

    provider = get_provider(payment.provider, any_site=True)
    with transaction.atomic():
        payment = _locked(payment)
        if payment.state == S.CANCELED:
            return payment
        if payment.state != S.AUTHORIZED:
            raise PaymentRefused(_("Only an authorized payment can be released."))
    provider.void(payment)
    with transaction.atomic():
        payment = _locked(payment)
        if payment.state == S.CANCELED:
            return payment
        if payment.state != S.AUTHORIZED:
            _log(payment, f"authorization released at the gateway while the payment was {payment.state}", user=user)
            logger.error("Payment %s: authorization released at the gateway, but the payment is %s", payment.pk,
                         payment.state)
            return payment
        _move(payment, S.CANCELED, reason or "authorization released", user=user)
        payment.save(update_fields=["state", "updated_at"])
        _payment_event(events.payment_voided, payment, amount=payment.authorized_amount, currency=payment.currency)
        return payment


def refund(payment, amount, *, reason="", user=None):
    """Gives ``amount`` back from a captured payment (partial refunds allowed).

    Refused above what was captured minus what was refunded or is being
    refunded. The gateway call carries the refund's own idempotency key; a
    gateway that does not answer leaves the refund requested (CREATED), and
    asking again for the same amount sends that same refund again, with the
    same key, so the gateway makes it once.
    """
    from site_core.payments.registry import get_provider

    provider = get_provider(payment.provider, any_site=True)
    with transaction.atomic():
        payment = _locked(payment)
        if payment.state != S.CAPTURED:
            raise PaymentRefused(_("Only a paid payment can be refunded."))
        if not provider.can_refund:
            raise PaymentRefused(_("This payment method cannot refund."))
        if amount <= 0:
            raise PaymentRefused(_("Enter an amount above zero."))
        in_flight = list(Refund.objects.select_for_update().filter(payment=payment, state=Refund.State.CREATED)
                         .order_by("created_at", "pk"))
        row = next((r for r in in_flight if r.amount == amount), None)
        if row is not None:
            _log(payment, "refund sent again", refund=row, amount=amount, user=user)
        else:
            available = payment.refundable_amount - sum(r.amount for r in in_flight)
            if amount > available:
                raise PaymentRefused(_("You can refund at most %(amount)s.")
                                     % {"amount": Money(max(available, 0), payment.currency).format()})
            if amount < payment.refundable_amount and not provider.can_partially_refund:
                raise PaymentRefused(_("This payment method can only refund in full."))
            row = Refund.objects.create(payment=payment, amount=amount, reason=reason[:300], created_by=user)
            _log(payment, "refund requested", refund=row, to_state=Refund.State.CREATED, amount=amount, user=user)
    return _send_refund(provider, payment, row)


def retry_refund(refund_row, *, user=None):
    """Sends again a refund the gateway did not answer about (still CREATED), with its own key."""
    from site_core.payments.registry import get_provider

    row = Refund.objects.select_related("payment").get(pk=refund_row.pk)
    if row.state != Refund.State.CREATED:
        return row
    provider = get_provider(row.payment.provider, any_site=True)
    with transaction.atomic():
        _log(row.payment, "refund sent again", refund=row, amount=row.amount, user=user)
    return _send_refund(provider, row.payment, row)


def _send_refund(provider, payment, row):
    from site_core.payments.providers import ProviderError

    try:
        reference = provider.refund(row)
    except ProviderError as exc:
        if exc.retryable:
            # Maybe made, maybe not: the row stays requested and the next try
            # (same idempotency key) reaches the same refund at the gateway.
            _log(payment, f"refund not confirmed by the gateway: {exc}", refund=row, amount=row.amount)
            raise PaymentRefused(
                _("The payment provider did not answer. The refund is recorded and will be sent again with the "
                  "same reference, so it cannot be made twice; try again in a moment.")
            ) from exc
        with transaction.atomic():
            row = Refund.objects.select_for_update().get(pk=row.pk)
            if row.state != Refund.State.CREATED:
                return row
            row.state = Refund.State.FAILED
            row.failure_reason = str(exc)[:300]
            row.save()
            _log(payment, f"refund failed: {exc}", refund=row, from_state=Refund.State.CREATED,
                 to_state=Refund.State.FAILED)
        raise PaymentRefused(_("The payment provider refused the refund: %(reason)s") % {"reason": exc}) from exc
    return complete_refund(row, reference=reference or "")


@transaction.atomic
def complete_refund(refund_row, *, reference=""):
    """The gateway gave the money back. Idempotent (a webhook may say it again)."""
    refund_row = Refund.objects.select_for_update().get(pk=refund_row.pk)
    if refund_row.state == Refund.State.DONE:
        return refund_row
    payment = _locked(refund_row.payment)
    if payment.refunded_amount + refund_row.amount > payment.captured_amount:
        raise PaymentRefused("Refunds would exceed the captured amount")
    refund_row.state = Refund.State.DONE
    refund_row.reference = reference or refund_row.reference
    refund_row.save()
    payment.refunded_amount += refund_row.amount
    payment.save(update_fields=["refunded_amount", "updated_at"])
    _log(payment, "refunded", refund=refund_row, from_state=Refund.State.CREATED, to_state=Refund.State.DONE,
         amount=refund_row.amount)
    _payment_event(events.refund_done, payment, refund_id=refund_row.pk, amount=refund_row.amount,
                   currency=payment.currency)
    return refund_row


@transaction.atomic
def issue_promo_code_for_payment(payment, *, user=None, valid_days=365):
    """Seed 000's remedy for a missed call: a single-use code worth what the client paid."""
    import secrets

    payment = _locked(payment)
    value = payment.captured_amount - payment.refunded_amount
    if payment.state != S.CAPTURED or value <= 0:
        raise PaymentRefused(_("Only a paid, unrefunded payment can become a promo code."))
    existing = payment.issued_promo_codes.first()
    if existing is not None:
        return existing
    order = payment.order
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    code = "AVOIR-" + "".join(secrets.choice(alphabet) for _ in range(8))
    promo = PromoCode.objects.create(
        site=order.site, code=code, kind=PromoCode.Kind.FIXED, amount=value, currency=payment.currency,
        client=order.client, max_uses=1, max_uses_per_client=1, issued_for_payment=payment,
        valid_until=timezone.now() + timezone.timedelta(days=valid_days),
    )
    _log(payment, f"promo code {code} issued for the amount paid", user=user, amount=value)
    return promo


# --- Webhooks --------------------------------------------------------------------

class WebhookRefused(ValueError):
    """A verified notification that cannot be stored as it came; nothing was stored.

    ``field`` names the part at fault (``id``, ``type`` or ``payload``); the message,
    in English, is for the provider's delivery log. The kernel's webhook view answers
    it with a 400, so the provider stops delivering it instead of retrying for days.
    """

    def __init__(self, message, field):
        super().__init__(message)
        self.field = field


def _unstorable_text(value):
    """Why text cannot be stored in every database we run on, or ''.

    PostgreSQL refuses a NUL character in text and jsonb, and a lone UTF-16
    surrogate (which JSON's ``\\ud800`` escapes can produce) is not UTF-8."""
    if "\x00" in value:
        return "contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode (a lone surrogate)"
    return ""


#: Deepest nesting of objects and arrays a notification may have. Gateways send a handful of
#: levels; far deeper JSON overflows the parsers' recursion (a 500) before anything is checked.
WEBHOOK_MAX_DEPTH = 64


def json_nesting_depth(raw, stop_at=None):
    """How deeply objects and arrays nest in the JSON text ``raw`` (bytes), read without parsing
    it, so that a body nested too deeply for a recursive parser is measured safely. Stops
    counting once ``stop_at`` is passed (and answers 0 at once when ``raw`` holds no more
    brackets than ``stop_at``). Brackets inside strings do not count."""
    if stop_at is not None and raw.count(b"[") + raw.count(b"{") <= stop_at:
        return 0  # cannot nest deeper than it has brackets (the usual, fast case)
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > deepest:
                deepest = depth
                if stop_at is not None and deepest > stop_at:
                    return deepest
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return deepest


def check_webhook_body(raw):
    """Raises WebhookRefused for a body nested deeper than WEBHOOK_MAX_DEPTH, before any parser
    (the gateway's SDK included) reads it."""
    if json_nesting_depth(raw, stop_at=WEBHOOK_MAX_DEPTH) > WEBHOOK_MAX_DEPTH:
        raise WebhookRefused(f"The event's payload nests deeper than {WEBHOOK_MAX_DEPTH} levels.", "payload")


def check_webhook(event_id, event_type, payload):
    """Raises WebhookRefused unless the notification fits WebhookEvent on SQLite and PostgreSQL:
    an id and a type that are non-empty text within their columns' lengths, and a payload whose
    strings and keys hold no NUL or lone surrogate and whose numbers are finite."""
    for field, name, value in (("id", "event_id", event_id), ("type", "event_type", event_type)):
        limit = WebhookEvent._meta.get_field(name).max_length
        if not isinstance(value, str) or not value:
            raise WebhookRefused(f"The event {field} is missing or not text.", field)
        if len(value) > limit:
            raise WebhookRefused(f"The event {field} is longer than {limit} characters ({len(value)}).", field)
        fault = _unstorable_text(value)
        if fault:
            raise WebhookRefused(f"The event {field} {fault}.", field)
    stack = [(payload, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list | tuple) and depth >= WEBHOOK_MAX_DEPTH:
            raise WebhookRefused(f"The event's payload nests deeper than {WEBHOOK_MAX_DEPTH} levels.", "payload")
        if isinstance(value, dict):
            for key, item in value.items():
                fault = _unstorable_text(key) if isinstance(key, str) else ""
                if fault:
                    raise WebhookRefused(f"A key of the event's payload {fault}.", "payload")
                stack.append((item, depth + 1))
        elif isinstance(value, list | tuple):
            stack.extend((item, depth + 1) for item in value)
        elif isinstance(value, str):
            fault = _unstorable_text(value)
            if fault:
                raise WebhookRefused(f"A text of the event's payload {fault}.", "payload")
        elif isinstance(value, float) and not math.isfinite(value):
            raise WebhookRefused("The event's payload holds a number that is not finite (NaN or Infinity).",
                                 "payload")


def record_webhook(provider, event_id, event_type, payload):
    """Stores a verified notification once. Returns (event, created): a replay gets created=False.

    Raises WebhookRefused (nothing stored) for a notification that cannot be stored
    (:func:`check_webhook`); every provider's notifications come through here."""
    check_webhook(event_id, event_type, payload)
    try:
        with transaction.atomic():
            event = WebhookEvent.objects.create(provider=provider, event_id=event_id, event_type=event_type,
                                                payload=payload)
        return event, True
    except IntegrityError:
        return WebhookEvent.objects.get(provider=provider, event_id=event_id), False


def mark_webhook_processed(event, result):
    WebhookEvent.objects.filter(pk=event.pk).update(processed_at=timezone.now(), result=result[:300])
