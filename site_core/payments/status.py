"""Where an order's money stands, in words a client or an administrator reads.

The one answer to "is this paid?" for display: the receipt, the client's portal, the
reservation page, the emails and the admin all show ``order.payment_status`` (or, for a
booking whose refund is decided but not sent yet, the booking's own view of it, which
passes ``returning_percent``) through ``payments/_payment_status.html`` or its ``label``.
An order's ``state`` says whether it may still be paid; it stays PAID after a refund, so
it is never shown alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from site_core.base.money import Money


@dataclass(frozen=True)
class PaymentStatus:
    """``code`` is one of CODES; amounts are Money in the order's currency.

    ``paid`` is what was captured, ``refunded`` what went back, ``refunding`` what is on its
    way back (a refund sent and not confirmed yet, or decided by the paid object's module and
    not sent yet), ``held`` what is authorized and not captured."""

    code: str
    total: Money
    paid: Money
    refunded: Money
    refunding: Money
    held: Money

    #: Every code, for templates' CSS classes and tests.
    CODES = ("awaiting", "declined", "canceled", "free", "held", "released", "paid", "refund_pending",
             "partly_refunded", "refunded")

    @property
    def label(self) -> str:
        """The status in the active language, amounts formatted for it."""
        texts = {
            "awaiting": lambda: _("Awaiting payment"),
            "declined": lambda: _("Payment declined, nothing charged"),
            "canceled": lambda: _("Canceled, nothing charged"),
            "free": lambda: _("Paid with a promo code"),
            "held": lambda: _("%(amount)s reserved, not charged yet") % {"amount": self.held.format()},
            "released": lambda: _("Released, nothing charged"),
            "paid": lambda: _("Paid (%(amount)s)") % {"amount": self.paid.format()},
            "refund_pending": lambda: _("Refund of %(amount)s under way") % {"amount": self.refunding.format()},
            "partly_refunded": lambda: _("Partly refunded (%(refunded)s of %(paid)s)") % {
                "refunded": self.refunded.format(), "paid": self.paid.format()},
            "refunded": lambda: _("Refunded (%(amount)s)") % {"amount": self.refunded.format()},
        }
        return texts[self.code]()

    def __str__(self):
        return self.label


def payment_status(order, *, payments=None, returning_percent: int | None = None) -> PaymentStatus:
    """The status of ``order`` from its payments and refunds (``payments``: those to count,
    all of the order's by default; prefetch ``payments__refunds`` for a list).

    ``returning_percent``: the paid object's module has decided to give back this share of
    what was captured (and to release what is held) but has not done it yet: the status
    says so ("refund under way") rather than "paid" in the email announcing it."""
    # The states through the rows themselves: the models read their status from here.
    S = order.payments.model.State
    payments = list(order.payments.all() if payments is None else payments)
    currency = order.currency

    def money(amount):
        return Money(int(amount), currency)

    captured = [p for p in payments if p.state == S.CAPTURED]
    paid = sum(p.captured_amount for p in captured)
    refunded = sum(p.refunded_amount for p in captured)
    in_flight = sum(r.amount for p in captured for r in p.refunds.all() if r.state == r.State.CREATED)
    held = sum(p.authorized_amount for p in payments if p.state == S.AUTHORIZED)
    if returning_percent is not None:
        owed = sum(p.captured_amount * returning_percent // 100 for p in captured)
        in_flight = max(in_flight, owed - refunded)
        held = 0
    values = dict(total=money(order.total), paid=money(paid), refunded=money(refunded),
                  refunding=money(in_flight), held=money(held))

    if paid:
        if in_flight > 0:
            code = "refund_pending"
        elif refunded >= paid:
            code = "refunded"
        elif refunded:
            code = "partly_refunded"
        else:
            code = "paid"
    elif held:
        code = "held"
    elif order.state == order.State.CANCELED:
        code = "canceled"
    elif any(p.authorized_amount and p.state in (S.AUTHORIZED, S.CANCELED) for p in payments):
        # An authorization given back (or about to be) without any capture.
        code = "released"
    elif order.state == order.State.PAID:
        code = "free"  # nothing to pay: a promo code covered it
    elif payments and max(payments, key=lambda p: (p.created_at, p.pk)).state == S.FAILED:
        code = "declined"
    else:
        code = "awaiting"
    return PaymentStatus(code=code, **values)
