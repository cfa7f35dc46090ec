"""What is paid, how, and what was given back.

An Order says what a client pays for (its lines, a purpose, a link to the
paid object); a Payment is one attempt to pay it through one provider, with
its own state machine; a Refund gives back part or all of a captured
payment. Every transition is a row of PaymentLog: nothing here is ever
deleted. Amounts are integers in the currency's minor unit (site_core.base.money).
"""

import secrets
import uuid

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from wagtail.models import Site

from site_core.base.fields import BigMoneyField
from site_core.base.money import Money
from site_core.practice.models import Expert


class Order(models.Model):
    """What a client pays for: lines, a total, and the object it pays (an appointment, extra time)."""

    class State(models.TextChoices):
        OPEN = "open", _("awaiting payment")
        PAID = "paid", _("paid")
        CANCELED = "canceled", _("canceled")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    client = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("client"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="orders")
    expert = models.ForeignKey(Expert, verbose_name=_("expert"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="orders")
    purpose = models.CharField(_("purpose"), max_length=40)
    currency = models.CharField(_("currency"), max_length=3)
    subtotal = models.BigIntegerField(_("subtotal"))
    discount = models.BigIntegerField(_("discount"), default=0)
    total = models.BigIntegerField(_("total"))
    promo_code = models.ForeignKey("payments.PromoCode", verbose_name=_("promo code"), null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="orders")
    state = models.CharField(_("state"), max_length=12, choices=State.choices, default=State.OPEN)
    # Metered sessions authorize a budget and capture what was used.
    capture_mode = models.CharField(
        _("capture"), max_length=10, default="automatic",
        choices=[("automatic", _("at once")), ("manual", _("authorize, capture later"))],
    )
    content_type = models.ForeignKey(ContentType, null=True, blank=True, on_delete=models.PROTECT)
    object_id = models.CharField(max_length=64, blank=True)
    paid_object = GenericForeignKey("content_type", "object_id")
    success_url = models.CharField(max_length=500, blank=True)
    cancel_url = models.CharField(max_length=500, blank=True)
    language = models.CharField(max_length=8, default="fr")
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    paid_at = models.DateTimeField(_("paid"), null=True, blank=True)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-created_at"]
        # The orders of one paid object (an appointment's booking, extra time, fees).
        indexes = [models.Index(fields=["content_type", "object_id"], name="order_paid_object")]
        constraints = [
            models.CheckConstraint(condition=Q(total__gte=0) & Q(discount__gte=0), name="order_amounts_non_negative"),
            models.CheckConstraint(condition=Q(total=models.F("subtotal") - models.F("discount")),
                                   name="order_total_is_subtotal_minus_discount"),
        ]

    def __str__(self):
        return f"{self.get_purpose_display()} {self.public_id.hex[:8]}"

    def get_purpose_display(self):
        from site_core.payments.registry import purpose_label

        return purpose_label(self.purpose)

    @property
    def total_money(self):
        return Money(self.total, self.currency)

    @property
    def subtotal_money(self):
        return Money(self.subtotal, self.currency)

    @property
    def discount_money(self):
        return Money(self.discount, self.currency)

    @cached_property
    def payment_status(self):
        """Where its money stands, for display (site_core.payments.status): paid, partly
        refunded, refunded... Shown through ``payments/_payment_status.html``."""
        from site_core.payments.status import payment_status

        return payment_status(self)


class OrderLine(models.Model):
    """One thing on an order, with its price."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    description = models.CharField(_("description"), max_length=200)
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    unit_amount = models.BigIntegerField(_("unit price"))

    class Meta:
        ordering = ["pk"]

    def __str__(self):
        return f"{self.description} × {self.quantity}"

    @property
    def amount(self):
        return self.quantity * self.unit_amount

    @property
    def amount_money(self):
        return Money(self.amount, self.order.currency)


def new_idempotency_key():
    return secrets.token_urlsafe(24)


class Payment(models.Model):
    """One attempt to pay an order through one provider.

    created → pending → authorized → captured, or failed / canceled. A
    captured payment may be refunded, in part or in full (Refund rows).
    """

    class State(models.TextChoices):
        CREATED = "created", _("created")
        PENDING = "pending", _("pending")
        AUTHORIZED = "authorized", _("authorized")
        CAPTURED = "captured", _("paid")
        FAILED = "failed", _("failed")
        CANCELED = "canceled", _("canceled")

    order = models.ForeignKey(Order, verbose_name=_("order"), on_delete=models.PROTECT, related_name="payments")
    provider = models.CharField(_("provider"), max_length=32, db_index=True)
    state = models.CharField(_("state"), max_length=12, choices=State.choices, default=State.CREATED,
                             db_index=True)
    currency = models.CharField(_("currency"), max_length=3)
    amount = models.BigIntegerField(_("amount"))
    authorized_amount = models.BigIntegerField(_("authorized"), default=0)
    captured_amount = models.BigIntegerField(_("captured"), default=0)
    refunded_amount = models.BigIntegerField(_("refunded"), default=0)
    # The provider's id for this payment (Stripe PaymentIntent, PayPal order).
    reference = models.CharField(_("provider reference"), max_length=128, blank=True, db_index=True)
    # Sent with every call that creates or moves money, so a retry after a
    # timeout reaches the same object at the provider instead of a second one.
    idempotency_key = models.CharField(max_length=64, unique=True, default=new_idempotency_key, editable=False)
    capture_mode = models.CharField(max_length=10, default="automatic")
    failure_reason = models.CharField(_("failure reason"), max_length=300, blank=True)
    provider_data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0) & Q(captured_amount__gte=0) & Q(refunded_amount__gte=0)
                & Q(authorized_amount__gte=0),
                name="payment_amounts_non_negative",
            ),
            models.CheckConstraint(condition=Q(refunded_amount__lte=models.F("captured_amount")),
                                   name="payment_refunds_within_capture"),
            models.UniqueConstraint(fields=["provider", "reference"], condition=~Q(reference=""),
                                    name="payment_unique_provider_reference"),
        ]

    def __str__(self):
        return f"{self.provider} {self.money}"

    @property
    def money(self):
        return Money(self.amount, self.currency)

    @property
    def captured_money(self):
        return Money(self.captured_amount, self.currency)

    @property
    def refunded_money(self):
        return Money(self.refunded_amount, self.currency)

    @property
    def refundable_amount(self):
        return self.captured_amount - self.refunded_amount

    @cached_property
    def payment_status(self):
        """This one payment's status, in the same words as its order's (admin list)."""
        from site_core.payments.status import payment_status

        return payment_status(self.order, payments=[self])

    def status_display(self):
        return self.payment_status.label

    status_display.short_description = _("status")


class Refund(models.Model):
    """Money given back from a captured payment: created → done or failed."""

    class State(models.TextChoices):
        CREATED = "created", _("requested")
        DONE = "done", _("refunded")
        FAILED = "failed", _("failed")

    payment = models.ForeignKey(Payment, verbose_name=_("payment"), on_delete=models.PROTECT, related_name="refunds")
    amount = models.BigIntegerField(_("amount"))
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.CREATED)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    reference = models.CharField(_("provider reference"), max_length=128, blank=True)
    idempotency_key = models.CharField(max_length=64, unique=True, default=new_idempotency_key, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    failure_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        ordering = ["-created_at"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive")]

    def __str__(self):
        return f"refund {self.pk} of payment {self.payment_id} ({self.state})"

    @property
    def money(self):
        return Money(self.amount, self.payment.currency)


class PaymentLog(models.Model):
    """One transition of a payment or refund, or one notable fact about it. Never deleted."""

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="log")
    refund = models.ForeignKey(Refund, null=True, blank=True, on_delete=models.PROTECT, related_name="log")
    from_state = models.CharField(max_length=12, blank=True)
    to_state = models.CharField(max_length=12, blank=True)
    message = models.CharField(max_length=300)
    data = models.JSONField(default=dict, blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                             related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.message}"


class WebhookEvent(models.Model):
    """A provider's notification, stored once by its id: a replay changes nothing."""

    provider = models.CharField(max_length=32)
    event_id = models.CharField(max_length=128)
    event_type = models.CharField(max_length=100)
    payload = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    result = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["provider", "event_id"], name="webhook_event_once")]

    def __str__(self):
        return f"{self.provider} {self.event_type} {self.event_id}"


class PromoCode(models.Model):
    """A discount a client types at checkout (seed 000), or a credit issued for a missed call."""

    class Kind(models.TextChoices):
        PERCENT = "percent", _("percentage")
        FIXED = "fixed", _("fixed amount")

    site = models.ForeignKey(Site, verbose_name=_("site"), on_delete=models.CASCADE, related_name="+")
    code = models.CharField(_("code"), max_length=40,
                            help_text=_("What clients type. Letters and digits; case does not matter."))
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.PERCENT)
    percent = models.PositiveSmallIntegerField(_("percentage off"), null=True, blank=True,
                                               help_text=_("For a percentage code: 1 to 100."))
    amount = BigMoneyField(_("amount off"), null=True, blank=True, max_major=10_000,
                           help_text=_("For a fixed-amount code."))
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    expert = models.ForeignKey(Expert, verbose_name=_("only for this expert"), null=True, blank=True,
                               on_delete=models.CASCADE, related_name="promo_codes",
                               help_text=_("Empty: valid for every expert of the practice."))
    client = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("only for this client"), null=True,
                               blank=True, on_delete=models.CASCADE, related_name="promo_codes")
    valid_from = models.DateTimeField(_("valid from"), null=True, blank=True)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    max_uses = models.PositiveIntegerField(_("uses in total"), null=True, blank=True,
                                           help_text=_("Empty: no limit."))
    max_uses_per_client = models.PositiveIntegerField(_("uses per client"), null=True, blank=True, default=1)
    minimum_amount = BigMoneyField(_("minimum order"), default=0, max_major=100_000)
    active = models.BooleanField(_("active"), default=True)
    issued_for_payment = models.ForeignKey(Payment, null=True, blank=True, on_delete=models.PROTECT,
                                           related_name="issued_promo_codes", editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("promo code")
        verbose_name_plural = _("promo codes")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(models.functions.Upper("code"), "site", name="promo_code_unique_per_site"),
            models.CheckConstraint(
                condition=(Q(kind="percent", percent__gte=1, percent__lte=100))
                | (Q(kind="fixed", amount__gt=0)),
                name="promo_code_value_matches_kind",
            ),
        ]

    def __str__(self):
        return self.code

    def discount_for(self, subtotal: int) -> int:
        if self.kind == self.Kind.PERCENT:
            return Money(subtotal, self.currency).percent(self.percent * 100).amount
        return min(self.amount, subtotal)


class PromoRedemption(models.Model):
    """A promo code used by one order; counted against the code's limits."""

    promo_code = models.ForeignKey(PromoCode, on_delete=models.PROTECT, related_name="redemptions")
    order = models.OneToOneField(Order, on_delete=models.CASCADE, related_name="redemption")
    client = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.promo_code_id} → order {self.order_id}"
