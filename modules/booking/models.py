"""What a client books and when: offerings, availability, appointments."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from recurrence.fields import RecurrenceField
from wagtail.admin.panels import FieldPanel
from wagtail.contrib.settings.models import BaseSiteSetting, register_setting

from site_core.base.fields import ChoiceListField, MoneyField
from site_core.base.phones import PhoneField


class Mode(models.TextChoices):
    CHAT = "chat", _("Chat")
    VIDEO = "video", _("Video")
    PHONE = "phone", _("Phone")


def mode_choices():
    return Mode.choices


class Product(models.TextChoices):
    PER_MINUTE = "per_minute", _("Per minute")
    SHORT = "short", _("Short package")
    LONG = "long", _("Long package")


def product_choices():
    return Product.choices


def new_feed_key() -> str:
    return secrets.token_urlsafe(24)


class BookingProfile(models.Model):
    """How an expert takes bookings: the grid of their slots, the margins around
    appointments, how far ahead clients may book, and the switches they flip
    during the day ("available now", "pause 20 minutes", a mode off for a while)."""

    expert = models.OneToOneField("site_core.Expert", on_delete=models.CASCADE, related_name="booking_profile",
                                  verbose_name=_("expert"))
    slot_minutes = models.PositiveSmallIntegerField(
        _("slot grid (minutes)"), default=30, validators=[MinValueValidator(5), MaxValueValidator(240)],
        help_text=_("Appointments can start every so many minutes from the start of an opening."),
    )
    buffer_minutes = models.PositiveSmallIntegerField(
        _("break between appointments (minutes)"), default=0, validators=[MaxValueValidator(240)],
    )
    notice_minutes = models.PositiveIntegerField(
        _("minimum notice (minutes)"), default=60, validators=[MaxValueValidator(60 * 24 * 30)],
        help_text=_("How long before an appointment a client can still book it."),
    )
    horizon_days = models.PositiveSmallIntegerField(
        _("booking horizon (days)"), default=15, validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text=_("How far ahead clients can book."),
    )
    # "Now" (a three-hour opening starting now) and instant sessions.
    available_now_until = models.DateTimeField(_("available now until"), null=True, blank=True)
    # "Pause 20 minutes": no instant request and no slot until then.
    paused_until = models.DateTimeField(_("paused until"), null=True, blank=True)
    modes_off = ChoiceListField(_("modes turned off for now"), choices_callable=mode_choices)
    alert_phone = PhoneField(
        _("phone for alerts"), blank=True,
        help_text=_("Where the expert is told about an incoming request (SMS)."),
    )
    # The secret in the address of the expert's calendar feed: a new key retires the old
    # address at once (a leaked link, a calendar app the expert no longer uses).
    feed_key = models.CharField(_("calendar feed key"), max_length=40, default=new_feed_key, editable=False)

    class Meta:
        verbose_name = _("booking profile")
        verbose_name_plural = _("booking profiles")

    def __str__(self):
        return str(self.expert)

    def is_available_now(self, now=None) -> bool:
        now = now or timezone.now()
        paused = self.paused_until is not None and self.paused_until > now
        return bool(self.available_now_until and self.available_now_until > now and not paused)


class Offering(models.Model):
    """What an expert sells in one mode (seed 000 "Mes tarifs"): a price per minute, a
    short and a long package, and the per-minute rate of an instant session. A price
    of 0 turns that product off; a disabled offering turns the mode off. A package is free
    only when ticked in ``free_products`` (seed 000: free or paid services): a free booking
    has no order (services.secure_free)."""

    expert = models.ForeignKey("site_core.Expert", on_delete=models.CASCADE, related_name="offerings",
                               verbose_name=_("expert"))
    mode = models.CharField(_("mode"), max_length=10, choices=Mode.choices)
    enabled = models.BooleanField(_("offered"), default=True)
    price_per_minute = MoneyField(_("price per minute"), default=0, max_major=100)
    short_minutes = models.PositiveSmallIntegerField(
        _("short package (minutes)"), default=15, validators=[MinValueValidator(1), MaxValueValidator(480)])
    short_price = MoneyField(_("short package price"), default=0, max_major=10_000)
    long_minutes = models.PositiveSmallIntegerField(
        _("long package (minutes)"), default=30, validators=[MinValueValidator(1), MaxValueValidator(480)])
    long_price = MoneyField(_("long package price"), default=0, max_major=10_000)
    instant_rate = MoneyField(
        _("instant session price per minute"), default=0, max_major=100,
        help_text=_("0: no instant session in this mode."))
    free_products = ChoiceListField(
        _("free"), choices_callable=product_choices,
        help_text=_("Tick a package to offer it free of charge (leave its price at 0). A price of 0 "
                    "without this tick means the package is not offered."))

    class Meta:
        verbose_name = _("offering")
        verbose_name_plural = _("offerings")
        ordering = ["expert", "mode"]
        constraints = [
            models.UniqueConstraint(fields=["expert", "mode"], name="booking_offering_one_per_mode"),
        ]

    def __str__(self):
        return f"{self.expert} – {self.get_mode_display()}"

    def is_free(self, product) -> bool:
        return product in (self.free_products or [])

    def clean(self):
        errors = {}
        if self.is_free(Product.PER_MINUTE):
            errors["free_products"] = _("A session paid by the minute cannot be free: offer a free package instead.")
        else:
            priced = [label for product, price, label in (
                (Product.SHORT, self.short_price, _("short package")),
                (Product.LONG, self.long_price, _("long package"))) if self.is_free(product) and price]
            if priced:
                errors["free_products"] = _("A free package has no price: set the price of the %(product)s "
                                            "to 0 or untick it.") % {"product": priced[0]}
        offered = {product for product, _price, _minutes in self.products()} if self.enabled else set()
        if {Product.SHORT, Product.LONG} <= offered and self.short_minutes >= self.long_minutes:
            errors["short_minutes"] = _("The short package must be shorter than the long one.")
        if errors:
            raise ValidationError(errors)

    def products(self) -> list[tuple[str, int, int | None]]:
        """(product, price in minor units, minutes or None for per minute) of what is on sale."""
        if not self.enabled:
            return []
        found = []
        if self.price_per_minute:
            found.append((Product.PER_MINUTE, self.price_per_minute, None))
        for product, price, minutes in ((Product.SHORT, self.short_price, self.short_minutes),
                                        (Product.LONG, self.long_price, self.long_minutes)):
            if self.is_free(product):
                found.append((product, 0, minutes))
            elif price:
                found.append((product, price, minutes))
        return found

    def price_of(self, product: str) -> tuple[int, int | None]:
        for name, price, minutes in self.products():
            if name == product:
                return price, minutes
        raise LookupError(product)


class AvailabilityRule(models.Model):
    """A weekly opening in the expert's time zone: on the days the recurrence gives, from
    ``start_time`` to ``end_time``, for the modes listed (all when empty)."""

    expert = models.ForeignKey("site_core.Expert", on_delete=models.CASCADE, related_name="availability_rules",
                               verbose_name=_("expert"))
    recurrence = RecurrenceField(verbose_name=_("days"), include_dtstart=False)
    start_time = models.TimeField(_("from"))
    end_time = models.TimeField(_("until"), help_text=_("Earlier than the start: the opening runs past midnight."))
    modes = ChoiceListField(_("modes"), choices_callable=mode_choices, help_text=_("None ticked: every mode."))
    valid_from = models.DateField(_("valid from"), null=True, blank=True)

    class Meta:
        verbose_name = _("weekly opening")
        verbose_name_plural = _("weekly openings")
        ordering = ["expert", "start_time"]

    def __str__(self):
        return f"{self.expert}: {self.start_time:%H:%M}–{self.end_time:%H:%M}"

    def days_display(self) -> str:
        """The days in words ("Mon, Tue, Fri"), for the admin list."""
        from django.utils.dates import WEEKDAYS_ABBR

        days = set()
        for rule in getattr(self.recurrence, "rrules", []) or []:
            for day in rule.byday or []:
                days.add(day.number if hasattr(day, "number") else int(day))
        if not days:
            return self.recurrence.to_text() if self.recurrence else "—"
        return ", ".join(str(WEEKDAYS_ABBR[d]) for d in sorted(days))

    days_display.short_description = _("days")

    def hours_display(self) -> str:
        return f"{self.start_time:%H:%M}–{self.end_time:%H:%M}"

    hours_display.short_description = _("hours")

    def modes_display(self) -> str:
        return ", ".join(str(Mode(m).label) for m in self.modes) if self.modes else str(_("every mode"))

    modes_display.short_description = _("modes")

    def clean(self):
        if self.start_time and self.end_time and self.start_time == self.end_time:
            raise ValidationError({"end_time": _("An opening cannot end when it starts.")})
        if not self.recurrence or not (self.recurrence.rrules or self.recurrence.rdates):
            raise ValidationError({"recurrence": _("Choose at least one day.")})
        from modules.booking.slots import is_phased

        if is_phased(self.recurrence) and not self.valid_from and not self.recurrence.dtstart:
            raise ValidationError({"valid_from": _(
                "This rule repeats every few weeks or a number of times: give the date it starts from.")})


class AvailabilityException(models.Model):
    """A one-off change to the week: an extra opening (or "Now", a three-hour opening
    from now), or a closure (holidays, a break) that removes slots."""

    class Kind(models.TextChoices):
        OPEN = "open", _("Extra opening")
        CLOSED = "closed", _("Closed")

    expert = models.ForeignKey("site_core.Expert", on_delete=models.CASCADE, related_name="availability_exceptions",
                               verbose_name=_("expert"))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.CLOSED)
    starts_at = models.DateTimeField(_("from"))
    ends_at = models.DateTimeField(_("until"))
    modes = ChoiceListField(_("modes"), choices_callable=mode_choices, help_text=_("None ticked: every mode."))
    note = models.CharField(_("note"), max_length=120, blank=True)

    class Meta:
        verbose_name = _("availability exception")
        verbose_name_plural = _("availability exceptions")
        ordering = ["starts_at"]
        indexes = [models.Index(fields=["expert", "ends_at"])]

    def __str__(self):
        return f"{self.get_kind_display()} {self.starts_at:%Y-%m-%d %H:%M}"

    def clean(self):
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": _("The end must come after the start.")})
        if self.kind == self.Kind.OPEN and self.ends_at and self.ends_at <= timezone.now():
            raise ValidationError({"ends_at": _("An opening cannot be in the past.")})


# Reservation codes: 8 characters a client can read out on the phone without
# confusion (no 0/O, 1/I/L, 5/S, 2/Z, 8/B): 25^8 ≈ 1.5e11 codes.
CODE_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
CODE_LENGTH = 8


def new_reservation_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


class Appointment(models.Model):
    """A consultation a client booked with an expert, from the slot held while they pay
    to the session that took place (or the request that expired)."""

    class State(models.TextChoices):
        HELD = "held", _("Held while paying")
        REQUESTED = "requested", _("Waiting for the expert")
        CONFIRMED = "confirmed", _("Confirmed")
        DECLINED = "declined", _("Declined")
        EXPIRED = "expired", _("Expired")
        CANCELED = "canceled", _("Canceled")
        COMPLETED = "completed", _("Completed")
        NO_SHOW = "no_show", _("No-show")

    #: States in which the appointment occupies the expert's time.
    LIVE_STATES = (State.HELD, State.REQUESTED, State.CONFIRMED)
    #: States that end an appointment with money to give back (settle_money).
    SETTLED_STATES = (State.DECLINED, State.EXPIRED, State.CANCELED, State.NO_SHOW)

    code = models.CharField(_("reservation code"), max_length=CODE_LENGTH, unique=True,
                            default=new_reservation_code, editable=False)
    site = models.ForeignKey("wagtailcore.Site", on_delete=models.PROTECT, related_name="+")
    expert = models.ForeignKey("site_core.Expert", on_delete=models.PROTECT, related_name="appointments",
                               verbose_name=_("expert"))
    client = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="appointments",
                               verbose_name=_("client"))
    mode = models.CharField(_("mode"), max_length=10, choices=Mode.choices)
    product = models.CharField(_("product"), max_length=12, choices=Product.choices)
    instant = models.BooleanField(_("instant session"), default=False)
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    minutes = models.PositiveIntegerField(_("minutes bought"))
    unit_price = MoneyField(_("price"),
                                             help_text=_("Per minute, or of the package."))
    currency = models.CharField(_("currency"), max_length=3)
    phone = PhoneField(_("client's phone"), blank=True)
    client_time_zone = models.CharField(_("client's time zone"), max_length=64, blank=True)
    language = models.CharField(_("language"), max_length=8, default="fr")
    note = models.TextField(_("message to the expert"), blank=True)
    state = models.CharField(_("state"), max_length=12, choices=State.choices, default=State.HELD)
    order = models.OneToOneField("payments.Order", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="appointment")
    held_until = models.DateTimeField(_("held until"), null=True, blank=True)
    confirm_by = models.DateTimeField(_("to confirm before"), null=True, blank=True)
    reschedules = models.PositiveSmallIntegerField(_("reschedules"), default=0)
    # Why it stopped (declined, expired, canceled) and how much of what was paid goes back.
    ended_by = models.CharField(_("ended by"), max_length=10, blank=True,
                                choices=[("client", _("Client")), ("expert", _("Expert")), ("admin", _("Administrator")),
                                         ("system", _("System"))])
    ended_reason = models.CharField(_("reason"), max_length=300, blank=True)
    refund_percent = models.PositiveSmallIntegerField(_("refund (%)"), null=True, blank=True)
    money_settled_at = models.DateTimeField(_("payment released or refunded at"), null=True, blank=True)
    # "Unavailable: call the client" (seed 002): the one way an expert gets the client's phone
    # number, for this appointment only; the client never gets the expert's (see README).
    call_client_at = models.DateTimeField(_("expert unavailable, calls the client, since"), null=True,
                                          blank=True)
    idempotency_key = models.CharField(max_length=80, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("appointment")
        verbose_name_plural = _("appointments")
        ordering = ["starts_at"]
        indexes = [
            models.Index(fields=["expert", "starts_at"]),
            models.Index(fields=["state", "held_until"]),
            models.Index(fields=["state", "confirm_by"]),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(ends_at__gt=models.F("starts_at")),
                                   name="booking_appointment_ends_after_start"),
            models.UniqueConstraint(fields=["client", "idempotency_key"], condition=~models.Q(idempotency_key=""),
                                    name="booking_appointment_idempotency"),
        ]
        # On PostgreSQL, migration 0002 adds an exclusion constraint: no two live
        # appointments of one expert overlap. (Not declared here: SQLite has no
        # exclusion constraints; there the service checks inside a write transaction.)

    def __str__(self):
        return self.code

    @property
    def is_live(self) -> bool:
        return self.state in self.LIVE_STATES

    @property
    def client_zone(self) -> str:
        """The zone the client reads this appointment's times in: the one their profile names,
        else their browser's when they booked, else the practice's."""
        from site_core.base.validators import is_time_zone
        from site_core.practice.models import PracticeSettings

        for zone in (getattr(self.client, "time_zone", ""), self.client_time_zone):
            if zone and is_time_zone(zone):
                return zone
        return PracticeSettings.for_site(self.site).time_zone

    @property
    def expert_zone(self) -> str:
        """The zone the expert reads this appointment's times in (the expert's own)."""
        return self.expert.time_zone

    @cached_property
    def payment_status(self):
        """Where the money of this booking stands, for display (site_core.payments.status), or
        None without an order. A booking that ended and has not given its money back yet
        says the refund (or release) is under way, in the very email announcing it."""
        if not self.order_id:
            return None
        from site_core.payments.status import payment_status

        returning = None
        if (self.state in self.SETTLED_STATES
                and self.money_settled_at is None and self.order.state == self.order.State.PAID):
            returning = self.refund_percent if self.refund_percent is not None else 100
        return payment_status(self.order, returning_percent=returning)

    def orders(self):
        """Every order that pays for this appointment (the booking, extra time, a fee), oldest
        first: what cancellations settle and the receipts list."""
        from site_core.payments.services import orders_for

        return orders_for(self)

    def answer_within(self) -> str:
        """Time left for the expert to answer a request, for the admin list ("—" otherwise)."""
        if self.state != self.State.REQUESTED or not self.confirm_by:
            return "—"
        left = int((self.confirm_by - timezone.now()).total_seconds())
        if left <= 0:
            return _("expired")
        hours, rest = divmod(left, 3600)
        return f"{hours} h {rest // 60:02d}" if hours else f"{rest // 60} min {rest % 60:02d} s"

    answer_within.short_description = _("answer within")


class Notice(models.Model):
    """A message sent about an appointment (confirmation, reminder...), one row per kind and
    recipient: the unique constraint is the claim that makes each of them go out once,
    however many workers run the task."""

    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="notices")
    kind = models.CharField(max_length=40)
    recipient = models.CharField(max_length=10, choices=[("client", _("Client")), ("expert", _("Expert"))])
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("notice")
        verbose_name_plural = _("notices")
        constraints = [models.UniqueConstraint(fields=["appointment", "kind", "recipient"],
                                               name="booking_notice_once")]

    def __str__(self):
        return f"{self.appointment} {self.kind} → {self.recipient}"


@register_setting(icon="date")
class BookingSettings(BaseSiteSetting):
    """How a practice takes bookings (seed 002): confirmed at once or by the expert, how
    long a slot is held while the client pays, and its cancellation policy."""

    requires_confirmation = models.BooleanField(
        _("experts confirm each request"), default=False,
        help_text=_("Off: a paid booking is confirmed at once. On: the expert has 24 hours to confirm it."),
    )
    confirm_hours = models.PositiveSmallIntegerField(
        _("hours to confirm a request"), default=24, validators=[MinValueValidator(1), MaxValueValidator(168)])
    hold_minutes = models.PositiveSmallIntegerField(
        _("minutes a slot is held during payment"), default=10,
        validators=[MinValueValidator(2), MaxValueValidator(60)])
    cancel_cutoff_hours = models.PositiveSmallIntegerField(
        _("free cancellation until (hours before)"), default=24, validators=[MaxValueValidator(720)])
    late_cancel_refund_percent = models.PositiveSmallIntegerField(
        _("refund after the cut-off (%)"), default=0, validators=[MaxValueValidator(100)])
    max_reschedules = models.PositiveSmallIntegerField(_("reschedules allowed per booking"), default=2)
    instant_answer_minutes = models.PositiveSmallIntegerField(
        _("minutes to answer an instant request"), default=4,
        validators=[MinValueValidator(1), MaxValueValidator(30)])
    max_live_holds = models.PositiveSmallIntegerField(
        _("unpaid bookings a client may hold at once"), default=2,
        validators=[MinValueValidator(1), MaxValueValidator(20)],
        help_text=_("A client who is paying for this many bookings must finish or abandon one before "
                    "holding another time: one client cannot hold every slot."))

    panels = [
        FieldPanel("requires_confirmation"), FieldPanel("confirm_hours"), FieldPanel("hold_minutes"),
        FieldPanel("cancel_cutoff_hours"), FieldPanel("late_cancel_refund_percent"),
        FieldPanel("max_reschedules"), FieldPanel("instant_answer_minutes"), FieldPanel("max_live_holds"),
    ]

    class Meta:
        verbose_name = _("booking settings")


def new_proposal_nonce() -> str:
    return secrets.token_urlsafe(12)


class Proposal(models.Model):
    """Another time the expert proposes for a request or a confirmed appointment (seed 002,
    "reporter en cas d'indisponibilité"). While it waits for the client, the appointment keeps
    its time and the proposed time is reserved too: the overlap check of every booking and move
    counts it (``services._proposal_in_the_way``, ``availability.load``), so nobody takes it.
    The client accepts it (the appointment moves there through ``services.reschedule``), picks
    another time, or cancels with a full refund; without an answer before the old start the
    appointment ends and is refunded (the sweeper). A proposal counts only while the appointment
    is live and still at ``old_starts_at``: moved or ended meanwhile, it reserves nothing."""

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting for the client")
        ACCEPTED = "accepted", _("Accepted")
        DECLINED = "declined", _("Declined: consultation canceled")
        WITHDRAWN = "withdrawn", _("Replaced by another proposal")
        EXPIRED = "expired", _("Not answered in time")

    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="proposals")
    expert = models.ForeignKey("site_core.Expert", on_delete=models.CASCADE, related_name="+")
    starts_at = models.DateTimeField(_("proposed start"))
    ends_at = models.DateTimeField(_("proposed end"))
    old_starts_at = models.DateTimeField(_("start when proposed"))
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.PENDING)
    # In the client's signed link: a proposal answered or replaced no longer matches its link.
    nonce = models.CharField(max_length=24, default=new_proposal_nonce, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("proposed time")
        verbose_name_plural = _("proposed times")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["expert", "state", "starts_at"]), models.Index(fields=["state", "old_starts_at"])]
        constraints = [
            models.UniqueConstraint(fields=["appointment"], condition=models.Q(state="pending"),
                                    name="booking_proposal_one_pending"),
            models.CheckConstraint(condition=models.Q(ends_at__gt=models.F("starts_at")),
                                   name="booking_proposal_ends_after_start"),
        ]

    def __str__(self):
        return f"{self.appointment} → {self.starts_at:%Y-%m-%d %H:%M}"
