"""Every change to offerings, availability switches and appointments.

Each function runs in one transaction, and the events it announces (site_core.events:
appointment_confirmed, _rescheduled, _canceled, _no_show, session_ended) are written in that
transaction (the outbox delivers them after commit). The
invariant that matters most, no two live appointments of one expert
overlapping, is kept by the database: an exclusion constraint on PostgreSQL;
on SQLite every write transaction is IMMEDIATE (site_core.settings), so the
overlap check below runs with the database locked for writing.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, OperationalError, connection, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from modules.booking import availability
from modules.booking.models import (
    Appointment,
    AvailabilityException,
    AvailabilityRule,
    BookingProfile,
    BookingSettings,
    Mode,
    Notice,
    Offering,
    Product,
    Proposal,
    new_feed_key,
)
from site_core import events
from site_core.base.validators import is_time_zone, normalize_phone
from site_core.payments import services as payments

logger = logging.getLogger(__name__)

A = Appointment.State
PAYMENT_PURPOSE = "booking"
#: Where no module ends sessions (ModuleConfig.ends_sessions), a confirmed appointment is
#: ended this long after its end by the sweeper (end_due_sessions).
AUTO_END_GRACE = timedelta(minutes=15)


def _facts(appointment) -> dict:
    """What every appointment event says of it (site_core.events.APPOINTMENT)."""
    return {"appointment_id": appointment.pk, "code": appointment.code, "expert_id": appointment.expert_id,
            "client_id": appointment.client_id}


def _announce_confirmed(appointment):
    events.appointment_confirmed.send(
        site=appointment.site_id, **_facts(appointment), mode=appointment.mode,
        starts_at=appointment.starts_at.isoformat(), ends_at=appointment.ends_at.isoformat(),
        minutes=appointment.minutes, free=appointment.order_id is None,
    )


class BookingError(Exception):
    """A booking that cannot be made or changed; the message is for the client.

    ``code`` names the reason for the API (``slot_taken`` answers 409).
    """

    def __init__(self, message, code="invalid", field=None):
        super().__init__(str(message))
        self.message = str(message)
        self.code = code
        self.field = field


class HoldLimit(BookingError):
    """The client already holds as many unpaid bookings as the practice allows."""

    def __init__(self, cap):
        super().__init__(ngettext(
            "You already have %(count)d booking waiting for payment. Pay for it or abandon it "
            "(in your portal) before holding another time.",
            "You already have %(count)d bookings waiting for payment. Pay for one or abandon it "
            "(in your portal) before holding another time.", cap) % {"count": cap}, code="hold_limit")


class AlreadyBooked(Exception):
    """The same client already made this booking with this idempotency key."""

    def __init__(self, appointment):
        super().__init__(appointment.code)
        self.appointment = appointment


class SlotTaken(BookingError):
    def __init__(self):
        super().__init__(gettext_lazy("This time was just taken. Please choose another one."), code="slot_taken")


class ExpertPaused(SlotTaken):
    """The expert paused (or turned this mode off) between the list the client chose from
    and the booking: refused like a taken slot (the API answers 409), with its own code."""

    def __init__(self):
        BookingError.__init__(self, gettext_lazy("The expert has just paused their bookings. "
                                                 "Please choose another time."),
                              code="expert_paused", field="starts_at")


class KeyInUse(BookingError):
    """Another request with the same idempotency key is still being made (the API answers
    409 with ``Retry-After``, as the IETF Idempotency-Key draft says)."""

    retry_after = 1  # seconds

    def __init__(self):
        super().__init__(gettext_lazy("This booking is still being made by an earlier request with the same "
                                      "Idempotency-Key. Try again in a moment."),
                         code="idempotency_key_in_use", field="idempotency_key")


#: How long a booking waits for an earlier request with the same idempotency key to
#: finish (it then answers that request's booking) before answering KeyInUse.
KEY_WAIT_MS = 5000


# --- Expert's switches ---------------------------------------------------

@transaction.atomic
def profile(expert) -> BookingProfile:
    found, _created = BookingProfile.objects.select_for_update().get_or_create(expert=expert)
    expert._booking_profile_cache = found
    return found


@transaction.atomic
def available_now(expert, now=None) -> AvailabilityException:
    """"Now": a three-hour opening from this moment, and instant requests allowed.

    The opening starts on the next 5-minute mark, so its times read 10:10, 10:40...
    rather than 10:07:23; pressing "Now" again while it runs extends the same opening
    (one grid of times, not two interleaved ones)."""
    now = now or timezone.now()
    row = profile(expert)
    opens = now.replace(second=0, microsecond=0)
    if opens < now:
        opens += timedelta(minutes=1)
    opens += timedelta(minutes=-opens.minute % 5)
    closes = opens + availability.NOW_OPENING
    running = None
    if row.available_now_until and row.available_now_until > now:
        running = AvailabilityException.objects.select_for_update().filter(
            expert=expert, kind=AvailabilityException.Kind.OPEN, ends_at=row.available_now_until).first()
    row.available_now_until = closes
    row.paused_until = None
    row.save(update_fields=["available_now_until", "paused_until"])
    if running is not None:
        running.ends_at = closes
        running.save(update_fields=["ends_at"])
        return running
    return AvailabilityException.objects.create(
        expert=expert, kind=AvailabilityException.Kind.OPEN, starts_at=opens, ends_at=closes,
        note=_("Available now"),
    )


@transaction.atomic
def pause(expert, now=None) -> BookingProfile:
    """"Pause 20 minutes": no new slot and no instant request until then."""
    now = now or timezone.now()
    row = profile(expert)
    row.paused_until = now + availability.PAUSE
    row.save(update_fields=["paused_until"])
    return row


@transaction.atomic
def back_from_break(expert, now=None) -> BookingProfile:
    row = profile(expert)
    row.paused_until = None
    row.save(update_fields=["paused_until"])
    return row


def calendar_feed_key(expert) -> str:
    """The key in the address of the expert's calendar feed (their booking profile is made
    on first use)."""
    row = availability.profile_for(expert)
    if row.pk is None:
        row, _created = BookingProfile.objects.get_or_create(expert=expert)
        expert._booking_profile_cache = row
    return row.feed_key


@transaction.atomic
def new_calendar_feed_address(expert) -> BookingProfile:
    """"New address": a new key for the expert's calendar feed; the old address stops
    answering at once."""
    row = profile(expert)
    row.feed_key = new_feed_key()
    row.save(update_fields=["feed_key"])
    return row


@transaction.atomic
def set_modes_off(expert, modes) -> BookingProfile:
    unknown = set(modes) - set(Mode.values)
    if unknown:
        raise BookingError(_("Unknown mode."), field="modes")
    row = profile(expert)
    row.modes_off = sorted(set(modes))
    row.save(update_fields=["modes_off"])
    return row


@transaction.atomic
def set_hours(expert, plan, now=None):
    """Replace the expert's weekly hours and date overrides with the editor's ``plan``
    (modules.booking.hours.Plan), and the modes they take now.

    Only the rows the editor shows are replaced: past exceptions, the running "Now"
    opening and rules or closures it cannot show (every other week, a two-hour break, a
    single mode) stay. Returns the rules and exceptions written."""
    from modules.booking import hours

    unknown = set(plan.modes_off) - set(Mode.values)
    if unknown:
        raise BookingError(_("Unknown mode."), field="modes")
    now = now or timezone.now()
    row = profile(expert)  # locks the expert's profile: two saves of one editor queue up
    stored = hours.read(expert, row, now)
    AvailabilityRule.objects.filter(pk__in=[r.pk for r in stored.rules]).delete()
    AvailabilityException.objects.filter(pk__in=[e.pk for e in stored.exceptions]).delete()
    rules, exceptions = hours.rows_for(expert, plan)
    for rule in rules:
        rule.full_clean()
        rule.save()
    # "Other hours" today whose range is already over open nothing any more.
    exceptions = [e for e in exceptions if e.ends_at > now]
    for exception in exceptions:
        exception.full_clean()
        exception.save()
    if sorted(plan.modes_off) != sorted(row.modes_off or []):
        row.modes_off = sorted(set(plan.modes_off))
        row.save(update_fields=["modes_off"])
    return rules, exceptions


# --- Booking -------------------------------------------------------------

@dataclass
class BookingRequest:
    """What the three steps of the booking form collect."""

    site: object
    expert: object
    client: object
    mode: str
    product: str
    starts_at: datetime | None = None  # None: now (instant session)
    budget_minutes: int | None = None  # per minute: how many minutes the budget buys
    phone: str = ""
    promo_code: str = ""
    note: str = ""
    language: str = "fr"
    client_time_zone: str = ""
    instant: bool = False
    idempotency_key: str = ""


def practice_settings(site) -> BookingSettings:
    return BookingSettings.for_site(site)


def _offering(expert, mode) -> Offering:
    if mode not in Mode.values:
        raise BookingError(_("Choose how you want to consult: chat, video or phone."), field="mode")
    offering = Offering.objects.filter(expert=expert, mode=mode, enabled=True).first()
    if offering is None or not offering.products():
        raise BookingError(_("This expert does not offer this kind of consultation."), field="mode")
    if mode in (availability.profile_for(expert).modes_off or []):
        raise BookingError(_("This expert does not take this kind of consultation at the moment."), field="mode")
    return offering


def quote(expert, mode, product, budget_minutes=None, instant=False):
    """(offering, unit price, minutes, total) for a product, or BookingError.

    An immediate session is per minute, at the offering's instant rate."""
    offering = _offering(expert, mode)
    if instant:
        if not offering.instant_rate:
            raise BookingError(_("This expert does not take immediate sessions in this mode."), field="when")
        if product != Product.PER_MINUTE:
            raise BookingError(_("Immediate sessions are paid per minute."), field="product")
        unit_price, minutes = offering.instant_rate, None
    else:
        try:
            unit_price, minutes = offering.price_of(product)
        except LookupError:
            raise BookingError(_("Choose one of the products on offer."), field="product") from None
    if product == Product.PER_MINUTE:
        if budget_minutes is None or int(budget_minutes) < 1:
            raise BookingError(_("Your budget must buy at least one minute."), field="budget_minutes")
        if int(budget_minutes) > 240:
            raise BookingError(_("A budget cannot buy more than 240 minutes."), field="budget_minutes")
        minutes = int(budget_minutes)
        return offering, unit_price, minutes, unit_price * minutes
    return offering, unit_price, minutes, unit_price


def _overlapping_live(expert, starts_at, ends_at):
    return Appointment.objects.filter(
        expert=expert, state__in=Appointment.LIVE_STATES, starts_at__lt=ends_at, ends_at__gt=starts_at,
    )


def _insert(appointment, still_free=None, hold_cap=None):
    """Saves a new live appointment, or raises SlotTaken if the expert's time is taken.

    The expert's row is locked first, so bookings of one expert queue up one
    behind the other: two inserts racing on the exclusion constraint would
    otherwise each wait for the other and one would die of a deadlock instead
    of hearing "slot taken". The constraint stays the guarantee against overlaps;
    ``still_free()`` (the full availability check: buffer, pause, modes off) is run
    again under the lock, since a booking committed meanwhile may sit in the buffer.
    """
    _lock_expert(appointment.expert_id)
    # Checked again under the lock: the same request sent twice at once makes one booking.
    _raise_if_already_booked(appointment)
    if hold_cap is not None:
        _check_hold_cap(appointment.client_id, hold_cap)
    if still_free is not None and not still_free():
        raise SlotTaken()
    # Holds that ran out still occupy the time until the sweeper passes (its worker may be
    # down): the slots list ignores them already; free the ones in the way now.
    _settle_expired_holds(Appointment.objects.filter(
        expert_id=appointment.expert_id, starts_at__lt=appointment.ends_at, ends_at__gt=appointment.starts_at))
    try:
        _save_live(appointment)
    except IntegrityError as exc:
        if "idempotency" in str(exc):
            # The same key for another expert, committed meanwhile (the unique constraint).
            _raise_if_already_booked(appointment)
        raise


def _check_hold_cap(client_id, cap):
    """Raises HoldLimit if the client already holds ``cap`` live unpaid bookings (with any
    expert). The client's row is locked first, so two bookings of one client made at once
    count each other (PostgreSQL; SQLite runs write transactions one at a time)."""
    from django.contrib.auth import get_user_model

    list(get_user_model().objects.select_for_update().filter(pk=client_id).values_list("pk", flat=True))
    live = Appointment.objects.filter(client_id=client_id, state=A.HELD, held_until__gt=timezone.now()).count()
    if live >= cap:
        raise HoldLimit(cap)


def _save_live(appointment, update_fields=None):
    """Saves an appointment that occupies the expert's time (new or moved), or raises
    SlotTaken. The caller holds the expert's lock (_lock_expert)."""
    try:
        with transaction.atomic():
            if connection.vendor != "postgresql" and _overlapping_live(
                appointment.expert, appointment.starts_at, appointment.ends_at
            ).exclude(pk=appointment.pk).exists():
                raise SlotTaken()
            if _proposal_in_the_way(appointment):
                raise SlotTaken()
            appointment.save(update_fields=update_fields)
    except IntegrityError as exc:
        if "no_overlap" in str(exc) or "exclusion" in str(exc).lower():
            raise SlotTaken() from None
        raise


def _raise_if_already_booked(appointment):
    if appointment.idempotency_key:
        existing = Appointment.objects.filter(client_id=appointment.client_id,
                                              idempotency_key=appointment.idempotency_key).first()
        if existing is not None:
            raise AlreadyBooked(existing)


def _replayed(existing, request: BookingRequest) -> Appointment:
    """The booking an idempotency key already made, marked ``replayed``; the key sent again
    with another booking (expert, mode, product, time, budget, phone, note, time zone or
    promo code: what the client asked for) is refused."""
    same = (existing.expert_id == request.expert.pk and existing.mode == request.mode
            and existing.product == request.product and existing.instant == request.instant
            and (request.instant or existing.starts_at == request.starts_at)
            and (request.product != Product.PER_MINUTE or existing.minutes == request.budget_minutes)
            and existing.note == request.note[:2000] and existing.client_time_zone == request.client_time_zone
            and _same_phone(existing.phone, request) and _promo_code_of(existing) == request.promo_code.strip().upper())
    if not same:
        raise BookingError(_("This Idempotency-Key was already used for another booking."),
                           code="idempotency_key_reused", field="idempotency_key")
    existing.replayed = True
    return existing


def _same_phone(stored, request):
    if request.mode != Mode.PHONE:
        return True
    try:
        return stored == normalize_phone(request.phone)
    except ValidationError:
        return False


def _promo_code_of(appointment):
    order = appointment.order
    return order.promo_code.code.upper() if order is not None and order.promo_code_id else ""


def hold(request: BookingRequest, now=None) -> Appointment:
    """Holds the chosen slot while the client pays (step 3), after checking everything
    the client chose. Same client and idempotency key twice: the same appointment.

    With a key, the whole booking runs in one transaction that first claims the key
    (_claim_key): a second request with the key waits there until the first commits,
    then finds its appointment and answers it (``replayed``); if the first rolls back
    or dies, its claim goes with its transaction and the second books. It never gets
    as far as finding the slot taken by the booking it repeats."""
    now = now or timezone.now()
    if not request.idempotency_key:
        return _hold(request, now)
    with transaction.atomic():
        _claim_key(request.client.pk, request.idempotency_key[:80])
        existing = Appointment.objects.filter(client=request.client,
                                              idempotency_key=request.idempotency_key[:80]).first()
        if existing is not None:
            return _replayed(existing, request)
        return _hold(request, now)


def _claim_key(client_id, key):
    """Claims (client, idempotency key) until the current transaction ends, waiting at most
    KEY_WAIT_MS for a request that holds it, else KeyInUse. PostgreSQL: a transaction-level
    advisory lock (released by commit, rollback or a dropped connection: never stuck). SQLite:
    write transactions are IMMEDIATE, so they already run one at a time."""
    if connection.vendor != "postgresql":
        return
    digest = hashlib.blake2b(f"booking.idempotency:{client_id}:{key}".encode(), digest_size=8).digest()
    lock = int.from_bytes(digest, "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('lock_timeout')")
        previous = cursor.fetchone()[0]
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{KEY_WAIT_MS}ms"])
        try:
            with transaction.atomic():  # a savepoint: the lock timing out leaves the transaction usable
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock])
        except OperationalError as exc:
            if getattr(exc.__cause__, "sqlstate", None) == "55P03":  # lock_not_available
                raise KeyInUse() from None
            raise
        finally:
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [previous])


def _hold(request: BookingRequest, now) -> Appointment:
    offering, unit_price, minutes, total = quote(request.expert, request.mode, request.product,
                                                 request.budget_minutes, instant=request.instant)
    phone = ""
    if request.mode == Mode.PHONE:
        try:
            phone = normalize_phone(request.phone)
        except ValidationError as exc:
            raise BookingError(exc.messages[0], field="phone") from None
        if not phone:
            raise BookingError(_("Enter the phone number the expert should call."), field="phone")
    if request.client_time_zone and not is_time_zone(request.client_time_zone):
        raise BookingError(_("Unknown time zone."), field="time_zone")
    booking_profile = availability.profile_for(request.expert)
    rules = practice_settings(request.site)
    if request.instant:
        return _hold_instant(request, offering, minutes, phone, booking_profile, rules, now)
    if request.starts_at is None or timezone.is_naive(request.starts_at):
        raise BookingError(_("Choose a time."), field="starts_at")
    starts_at = request.starts_at
    if starts_at < now:
        raise BookingError(_("This time has already passed."), field="starts_at")
    if starts_at >= availability.booking_horizon_end(request.expert, now):
        raise BookingError(
            _("Appointments can be booked up to %(days)d days ahead.") % {"days": booking_profile.horizon_days},
            field="starts_at")
    # The same rule as the list the client chose from (availability.free_slots), checked
    # again under the expert's lock (_insert) with everything read afresh.
    if not availability.is_free(request.expert, request.mode, minutes, starts_at, now):
        _raise_not_free(request.expert, request.mode, starts_at, minutes, now)
    appointment = Appointment(
        site=request.site, expert=request.expert, client=request.client, mode=request.mode,
        product=request.product, starts_at=starts_at, ends_at=starts_at + timedelta(minutes=minutes),
        minutes=minutes, unit_price=unit_price, currency=_currency(request.site), phone=phone,
        note=request.note[:2000], language=request.language, client_time_zone=request.client_time_zone,
        state=A.HELD, held_until=now + timedelta(minutes=rules.hold_minutes),
        idempotency_key=request.idempotency_key[:80],
    )
    def still_free():
        if not availability.is_free(request.expert, request.mode, minutes, starts_at, now, fresh=True):
            # Listed a moment ago, gone now: taken by a booking committed meanwhile, or the
            # expert paused.
            _raise_not_free(request.expert, request.mode, starts_at, minutes, now, listed=True)
        return True

    return _save_with_order(request, appointment, total, still_free=still_free)


def _raise_not_free(expert, mode, starts_at, minutes, now, *, listed=False):
    """Why a start is not free: ExpertPaused (the expert's pause covers it), SlotTaken (an
    appointment is there, or the start was free a moment ago), else not available (400)."""
    profile = availability.profile_for(expert)
    if profile.paused_until and profile.paused_until > starts_at:
        raise ExpertPaused()
    if listed or _overlapping_live(expert, starts_at, starts_at + timedelta(minutes=minutes)).exists():
        raise SlotTaken()
    raise BookingError(_("The expert is not available at this time."), field="starts_at")


def _hold_instant(request, offering, minutes, phone, booking_profile, rules, now):
    """An immediate session (seeds 000, 004): only while the expert is available now, at the
    instant rate, per minute; the expert then has a few minutes to accept."""
    if not offering.instant_rate or not booking_profile.is_available_now(now):
        raise BookingError(_("This expert is not available right now. Book an appointment instead."),
                           field="when")
    starts_at = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    appointment = Appointment(
        site=request.site, expert=request.expert, client=request.client, mode=request.mode,
        product=Product.PER_MINUTE, instant=True, starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=minutes + rules.instant_answer_minutes),
        minutes=minutes, unit_price=offering.instant_rate, currency=_currency(request.site), phone=phone,
        note=request.note[:2000], language=request.language, client_time_zone=request.client_time_zone,
        state=A.HELD, held_until=now + timedelta(minutes=rules.hold_minutes),
        idempotency_key=request.idempotency_key[:80],
    )
    def still_available():
        # Read again under the expert's lock: a pause committed meanwhile refuses the request.
        if not availability.profile_for(request.expert, fresh=True).is_available_now(now):
            raise ExpertPaused()
        return True

    return _save_with_order(request, appointment, offering.instant_rate * minutes, still_free=still_available)


def _save_with_order(request, appointment, total, still_free=None):
    minutes = appointment.minutes
    with transaction.atomic():
        try:
            _insert(appointment, still_free, hold_cap=practice_settings(request.site).max_live_holds)
        except AlreadyBooked as found:
            return _replayed(found.appointment, request)
        if total == 0:
            return appointment  # a free consultation has no order: secure_free() secures it
        description = _("%(mode)s consultation with %(expert)s, %(minutes)d min") % {
            "mode": Mode(request.mode).label, "expert": request.expert.name, "minutes": minutes}
        try:
            order = payments.create_order(
                site=request.site, client=request.client, expert=request.expert, purpose=PAYMENT_PURPOSE,
                currency=appointment.currency, lines=[(description, total, 1)], paid_object=appointment,
                capture_mode="manual" if appointment.product == Product.PER_MINUTE else "automatic",
                promo_code=request.promo_code, language=request.language,
                success_url=reverse("booking:done", args=[appointment.code]),
                cancel_url=reverse("booking:abandon", args=[appointment.code]),
            )
        except payments.PromoCodeError as exc:
            raise BookingError(str(exc), field="promo_code") from None
        appointment.order = order
        appointment.save(update_fields=["order"])
    return appointment


def _currency(site):
    from site_core.practice.models import PracticeSettings

    return PracticeSettings.for_site(site).currency


def _locked(appointment) -> Appointment:
    return Appointment.objects.select_for_update().get(pk=appointment.pk)


@transaction.atomic
def order_paid(order, now=None) -> Appointment | None:
    """The client paid (or, per minute, the budget is authorized): the booking is confirmed,
    or waits for the expert when the practice wants requests confirmed. Idempotent."""
    now = now or timezone.now()
    appointment = Appointment.objects.select_for_update().filter(order=order).first()
    if appointment is not None and appointment.state in (A.CANCELED, A.EXPIRED, A.DECLINED):
        # Paid after the hold ran out: the money goes back (see refund_ended).
        refund_ended(appointment)
        return appointment
    if appointment is None or appointment.state != A.HELD:
        return appointment
    return _secure(appointment, now)


def _secure(appointment, now) -> Appointment:
    """A held booking (locked) that is paid for, or free: confirmed, or waiting for the expert
    when the practice wants requests confirmed (an instant request always waits)."""
    rules = practice_settings(appointment.site)
    appointment.held_until = None
    if appointment.instant:
        # The expert has a few minutes to accept (seed 004); until then nothing is captured.
        appointment.state = A.REQUESTED
        appointment.confirm_by = now + timedelta(minutes=rules.instant_answer_minutes)
    elif rules.requires_confirmation:
        appointment.state = A.REQUESTED
        # 24 hours to answer, but never past the start: a request cannot be confirmed late.
        appointment.confirm_by = min(now + timedelta(hours=rules.confirm_hours), appointment.starts_at)
    else:
        appointment.state = A.CONFIRMED
    appointment.save(update_fields=["state", "held_until", "confirm_by", "updated_at"])
    if appointment.state == A.CONFIRMED:
        _announce_confirmed(appointment)
    _notify(appointment, "instant" if appointment.instant else
            "requested" if appointment.state == A.REQUESTED else "confirmed")
    return appointment


def is_free(expert, mode, product, instant=False) -> bool:
    """Whether this product is a free consultation (booked with secure_free(), no payment step)."""
    if instant:
        return False
    offering = Offering.objects.filter(expert=expert, mode=mode, enabled=True).first()
    return offering is not None and product != Product.PER_MINUTE and offering.is_free(product) \
        and any(name == product for name, _price, _minutes in offering.products())


def secure_free(request: BookingRequest, now=None) -> Appointment:
    """Books a free consultation (a package the offering ticks as free): the slot is held as
    for a paid one (same checks, same cap on holds, same idempotency), then at once confirmed
    or sent to the expert, as the practice's confirmation setting says, with the same emails
    and reminders. No order is made. A product that is not free is refused (BookingError)."""
    now = now or timezone.now()
    _offering, _unit, _minutes, total = quote(request.expert, request.mode, request.product,
                                              request.budget_minutes, instant=request.instant)
    if total != 0 or request.instant:
        raise BookingError(_("This consultation is not free: it is paid on the next page."), field="product")
    with transaction.atomic():
        appointment = hold(request, now)
        if appointment.order_id is not None:
            return appointment  # an idempotent replay of a paid booking made with this key
        locked = _locked(appointment)
        if locked.state != A.HELD:
            locked.replayed = getattr(appointment, "replayed", False)
            return locked
        locked = _secure(locked, now)
        locked.replayed = getattr(appointment, "replayed", False)
        return locked


@transaction.atomic
def release_hold(appointment, reason="") -> Appointment:
    """The client gave up paying (or the hold ran out): the slot is free again."""
    appointment = _locked(appointment)
    if appointment.state != A.HELD:
        return appointment
    appointment.state = A.CANCELED
    appointment.save(update_fields=["state", "updated_at"])
    if appointment.order_id and appointment.order.state == appointment.order.State.OPEN:
        payments.cancel_order(appointment.order, reason=reason or "hold released")
    return appointment


# --- After payment: answers, deadlines, cancellations -----------------------

def _notify(appointment, kind):
    from django_q.tasks import async_task

    transaction.on_commit(lambda: async_task("modules.booking.tasks.send_notices", appointment.pk, kind))


def _settle_money(appointment):
    from django_q.tasks import async_task

    transaction.on_commit(lambda: async_task("modules.booking.tasks.settle_money", appointment.pk))


def _end(appointment, state, *, by, reason="", refund_percent=100):
    """``appointment`` (locked) ends as ``state``; its money is settled after commit. A request
    or a confirmed appointment that is canceled is announced (a declined, expired or no-show one
    has its own outcome)."""
    if state == A.CANCELED and appointment.state in (A.REQUESTED, A.CONFIRMED):
        events.appointment_canceled.send(site=appointment.site_id, **_facts(appointment), by=by,
                                         reason=str(reason)[:300], refund_percent=refund_percent)
    appointment.state = state
    appointment.ended_by = by
    appointment.ended_reason = str(reason)[:300]
    appointment.refund_percent = refund_percent
    appointment.held_until = None
    appointment.save(update_fields=["state", "ended_by", "ended_reason", "refund_percent", "held_until",
                                    "updated_at"])
    _settle_money(appointment)


@transaction.atomic
def confirm(appointment, *, now=None) -> Appointment:
    """The expert accepts a request (in time). Idempotent; a late answer is refused."""
    now = now or timezone.now()
    appointment = _locked(appointment)
    if appointment.state == A.CONFIRMED:
        return appointment
    if appointment.state != A.REQUESTED:
        raise BookingError(_("This request is no longer waiting for an answer (%(state)s).")
                           % {"state": appointment.get_state_display()}, code="not_waiting")
    if appointment.confirm_by and appointment.confirm_by <= now:
        raise BookingError(_("The time to answer this request has passed."), code="too_late")
    appointment.state = A.CONFIRMED
    if appointment.instant:
        # The session starts when the expert accepts, not when the client asked: the time
        # it now takes must still be free (the client may have taken minutes to pay).
        length = appointment.ends_at - appointment.starts_at
        appointment.starts_at = max(appointment.starts_at, now)
        appointment.ends_at = appointment.starts_at + length
        _lock_expert(appointment.expert_id)
        try:
            _save_live(appointment, update_fields=["state", "starts_at", "ends_at", "updated_at"])
        except SlotTaken:
            raise BookingError(_("Your next appointment leaves no room for this session now."),
                               code="no_room") from None
    else:
        appointment.save(update_fields=["state", "starts_at", "ends_at", "updated_at"])
    _announce_confirmed(appointment)
    _notify(appointment, "confirmed")
    return appointment


@transaction.atomic
def decline(appointment, *, reason="", now=None) -> Appointment:
    """The expert says no: the payment is released in full and the client told, with a link
    to choose another time (never the expert's contact: see ``unavailable_call_client``)."""
    appointment = _locked(appointment)
    if appointment.state == A.DECLINED:
        return appointment
    if appointment.state != A.REQUESTED:
        raise BookingError(_("This request is no longer waiting for an answer (%(state)s).")
                           % {"state": appointment.get_state_display()}, code="not_waiting")
    _end(appointment, A.DECLINED, by="expert", reason=reason)
    _notify(appointment, "declined")
    return appointment


# --- Contact rules: the expert's contact stays private (seed 002) ----------------

def client_phone(appointment) -> str:
    """The number the client gave for this booking, else their account's ("" if none)."""
    return appointment.phone or getattr(appointment.client, "phone", "") or ""


def may_see_client_phone(appointment, user) -> bool:
    """Whether ``user`` may read the client's phone number of ``appointment``: only the expert
    of that appointment, and only after "unavailable: call the client" on it (not a practice
    administrator, not another expert)."""
    expert = getattr(user, "expert", None) if getattr(user, "is_authenticated", False) else None
    return bool(expert is not None and appointment.expert_id == expert.pk and appointment.call_client_at)


@transaction.atomic
def unavailable_call_client(appointment, *, expert, reason="", now=None) -> Appointment:
    """The expert cannot take this request ("unavailable") and will call the client to agree
    on another time: the request is declined (nothing charged), the client told the expert
    will contact them (with a link to choose another slot), and the client's phone number is
    shown to this expert, for this appointment, from now on. Idempotent."""
    now = now or timezone.now()
    appointment = _locked(appointment)
    if expert is None or appointment.expert_id != expert.pk:
        raise BookingError(_("Only the expert of this appointment can do this."), code="not_yours")
    if appointment.state == A.DECLINED and appointment.call_client_at:
        return appointment
    if appointment.state != A.REQUESTED:
        raise BookingError(_("This request is no longer waiting for an answer (%(state)s).")
                           % {"state": appointment.get_state_display()}, code="not_waiting")
    appointment.call_client_at = now
    appointment.save(update_fields=["call_client_at"])
    _end(appointment, A.DECLINED, by="expert", reason=reason or "unavailable")
    _notify(appointment, "unavailable")
    return appointment


def expire_due(now=None) -> int:
    """The sweeper: requests not answered in time expire (money released, slot freed, client
    told); holds of clients who never paid are released. Each row is claimed under a lock,
    so parallel workers act once. Returns how many appointments changed."""
    now = now or timezone.now()
    changed = 0
    for pk in list(Appointment.objects.filter(state=A.REQUESTED, confirm_by__lte=now).values_list("pk", flat=True)):
        with transaction.atomic():
            row = Appointment.objects.select_for_update(skip_locked=True).filter(
                pk=pk, state=A.REQUESTED, confirm_by__lte=now).first()
            if row is None:
                continue
            _end(row, A.EXPIRED, by="system", reason="no answer in time")
            _notify(row, "expired")
            changed += 1
    changed += _settle_expired_holds(Appointment.objects.all(), now)
    return changed


def _settle_expired_holds(appointments, now=None) -> int:
    """Holds among ``appointments`` whose time ran out: released, or, when the order was paid
    but the paid-order handler did not move the booking (it failed or has not run yet),
    confirmed by that (idempotent) handler. Each row is claimed under a lock, so parallel
    workers act once. Returns how many changed."""
    now = now or timezone.now()
    changed = 0
    due = appointments.filter(state=A.HELD, held_until__lte=now)
    for pk in list(due.values_list("pk", flat=True)):
        with transaction.atomic():
            row = Appointment.objects.select_for_update(skip_locked=True).filter(
                pk=pk, state=A.HELD, held_until__lte=now).first()
            if row is None:
                continue
            if row.order_id and row.order.state == row.order.State.PAID:
                order_paid(row.order, now=now)
            else:
                release_hold(row, reason="hold expired")
            changed += 1
    return changed


def cancellation_terms(appointment, by, now=None) -> tuple[bool, int]:
    """(allowed, refund percent) of a cancellation now by the client or the expert."""
    now = now or timezone.now()
    if by == "expert":
        return True, 100
    if appointment.state == A.REQUESTED:
        return True, 100
    rules = practice_settings(appointment.site)
    if appointment.starts_at - now >= timedelta(hours=rules.cancel_cutoff_hours):
        return True, 100
    if appointment.starts_at <= now:
        return False, 0
    return True, rules.late_cancel_refund_percent


@transaction.atomic
def cancel(appointment, *, by, reason="", now=None) -> Appointment:
    """Cancels a request or a confirmed appointment. The expert may at any time (full
    refund); the client before the start, fully refunded before the practice's cut-off
    and by its policy after."""
    now = now or timezone.now()
    appointment = _locked(appointment)
    if appointment.state == A.CANCELED:
        return appointment
    if appointment.state not in (A.REQUESTED, A.CONFIRMED):
        raise BookingError(_("This appointment cannot be canceled any more (%(state)s).")
                           % {"state": appointment.get_state_display()}, code="not_cancelable")
    allowed, percent = cancellation_terms(appointment, by, now)
    if not allowed:
        raise BookingError(_("The consultation has started; it can no longer be canceled."), code="too_late")
    _end(appointment, A.CANCELED, by=by, reason=reason, refund_percent=percent)
    _notify(appointment, f"canceled_by_{by}")
    return appointment


def reschedule_refusal(appointment, *, by, now=None) -> BookingError | None:
    """Why ``by`` ("client" or "expert") may not move this appointment now, or None. Read-only:
    the move page asks before offering times; ``reschedule`` asks again under the lock."""
    now = now or timezone.now()
    if appointment.state not in (A.REQUESTED, A.CONFIRMED) or appointment.instant:
        return BookingError(_("This appointment cannot be moved (%(state)s).")
                            % {"state": appointment.get_state_display()}, code="not_movable")
    if appointment.state == A.REQUESTED and appointment.confirm_by and appointment.confirm_by <= now:
        # Unanswered in time: it expires (the sweeper may not have passed yet), it does not move.
        return BookingError(_("The time to answer this request has passed."), code="too_late")
    if by == "client":
        rules = practice_settings(appointment.site)
        if appointment.reschedules >= rules.max_reschedules:
            return BookingError(_("This appointment has already been moved %(count)d times, the most allowed.")
                                % {"count": appointment.reschedules}, code="too_many")
        if appointment.starts_at - now < timedelta(hours=rules.cancel_cutoff_hours):
            return BookingError(_("It is too late to move this appointment; contact the expert."), code="too_late")
    return None


@transaction.atomic
def reschedule(appointment, starts_at, *, by, now=None) -> Appointment:
    """Moves an appointment to another free time of the same length and mode, within the
    practice's limit of reschedules (for the client) and before its cut-off."""
    now = now or timezone.now()
    appointment = _locked(appointment)
    refusal = reschedule_refusal(appointment, by=by, now=now)
    if refusal is not None:
        raise refusal
    if timezone.is_naive(starts_at) or starts_at <= now:
        raise BookingError(_("This time has already passed."), field="starts_at")
    # Under the expert's lock, like a new booking: one committed meanwhile is seen.
    _lock_expert(appointment.expert_id)
    if not availability.is_free(appointment.expert, appointment.mode, appointment.minutes, starts_at, now,
                                exclude_appointment=appointment, fresh=True):
        raise BookingError(_("The expert is not available at this time."), field="starts_at")
    previous_starts_at = appointment.starts_at
    appointment.starts_at = starts_at
    appointment.ends_at = starts_at + timedelta(minutes=appointment.minutes)
    appointment.reschedules += 1
    _save_live(appointment, update_fields=["starts_at", "ends_at", "reschedules", "updated_at"])
    events.appointment_rescheduled.send(
        site=appointment.site_id, **_facts(appointment), previous_starts_at=previous_starts_at.isoformat(),
        starts_at=appointment.starts_at.isoformat(), ends_at=appointment.ends_at.isoformat(), by=by,
    )
    # Reminders are about the new time: they may go out again.
    Notice.objects.filter(appointment=appointment, kind__startswith="reminder").delete()
    _notify(appointment, "rescheduled")
    return appointment


@transaction.atomic
def mark_no_show(appointment, who, *, by, now=None) -> Appointment:
    """``who`` ("client" or "expert") did not come to a confirmed appointment that has started.

    The expert or a practice administrator says the client did not come (nothing goes back:
    the time was kept for them); only an administrator says the expert did not (the client
    gets everything back). Announced as appointment_no_show; the money is settled after
    commit. Idempotent for the same ``who``."""
    from modules.booking.access import session_role

    now = now or timezone.now()
    if who not in ("client", "expert"):
        raise BookingError(_("Say who did not come: the client or the expert."), field="who")
    appointment = _locked(appointment)
    role = session_role(by, appointment)
    if role not in (("expert", "admin") if who == "client" else ("admin",)):
        raise BookingError(_("You may not record this absence."), code="not_allowed")
    if appointment.state == A.NO_SHOW and appointment.ended_reason == f"no-show: {who}":
        return appointment
    if appointment.state != A.CONFIRMED:
        raise BookingError(_("Only a confirmed appointment can be marked as missed (%(state)s).")
                           % {"state": appointment.get_state_display()}, code="not_confirmed")
    if now < appointment.starts_at:
        raise BookingError(_("The consultation has not started yet."), code="too_early")
    events.appointment_no_show.send(site=appointment.site_id, **_facts(appointment), who=who,
                                    marked_by_id=by.pk)
    _end(appointment, A.NO_SHOW, by=role, reason=f"no-show: {who}", refund_percent=0 if who == "client" else 100)
    return appointment


@transaction.atomic
def end_session(appointment, *, source, minutes_run, free_minutes=0, amount_due=None, now=None) -> Appointment:
    """The consultation is over: the appointment is COMPLETED and ``session_ended`` announced,
    once (a second call changes nothing). The one way to COMPLETED: called by the module that
    times sessions (``source="timer"``) or by end_due_sessions (``"auto"``). ``amount_due``:
    what the client owes for it in minor units (by default what the booking's order charged)."""
    appointment = _locked(appointment)
    if appointment.state == A.COMPLETED:
        return appointment
    if appointment.state != A.CONFIRMED:
        raise BookingError(_("Only a confirmed appointment can end as held (%(state)s).")
                           % {"state": appointment.get_state_display()}, code="not_confirmed")
    if amount_due is None:
        amount_due = appointment.order.total if appointment.order_id else 0
    appointment.state = A.COMPLETED
    appointment.ended_by = "system"
    appointment.ended_reason = f"session ended ({source})"
    appointment.save(update_fields=["state", "ended_by", "ended_reason", "updated_at"])
    events.session_ended.send(
        site=appointment.site_id, occurred_at=now, appointment_id=appointment.pk, code=appointment.code,
        expert_id=appointment.expert_id, client_id=appointment.client_id, source=source,
        minutes_bought=appointment.minutes, minutes_run=int(minutes_run), free_minutes=int(free_minutes),
        amount_due=int(amount_due), currency=appointment.currency,
    )
    return appointment


def end_due_sessions(now=None) -> int:
    """The sweeper, on practices where no module ends sessions itself: a confirmed appointment
    AUTO_END_GRACE past its end is ended as held for the minutes bought (``source="auto"``),
    so that what follows a session (reviews, earnings) still happens. Rows are claimed under
    a lock; returns how many ended."""
    from wagtail.models import Site

    from site_core.modules import sessions_ended_by_a_module

    now = now or timezone.now()
    due = Appointment.objects.filter(state=A.CONFIRMED, ends_at__lte=now - AUTO_END_GRACE)
    sites = {site.pk: site for site in Site.objects.filter(pk__in=due.values("site_id"))}
    auto_sites = [pk for pk, site in sites.items() if not sessions_ended_by_a_module(site)]
    ended = 0
    for pk in list(due.filter(site_id__in=auto_sites).values_list("pk", flat=True)[:500]):
        with transaction.atomic():
            row = Appointment.objects.select_for_update(skip_locked=True).filter(pk=pk, state=A.CONFIRMED).first()
            if row is None:
                continue
            end_session(row, source="auto", minutes_run=row.minutes, now=row.ends_at)
            ended += 1
    return ended


def _lock_expert(expert_id):
    from site_core.practice.models import Expert

    list(Expert.objects.select_for_update().filter(pk=expert_id).values_list("pk"))


def settle_money(appointment) -> None:
    """Gives back what an ended appointment owes the client: releases an authorization, or
    refunds ``refund_percent`` of what was captured. Idempotent (amounts already refunded
    count); a gateway that fails leaves it to the next run of the task."""
    appointment = Appointment.objects.get(pk=appointment.pk)
    if appointment.money_settled_at or appointment.state not in Appointment.SETTLED_STATES:
        return
    percent = appointment.refund_percent if appointment.refund_percent is not None else 100
    reason = f"appointment {appointment.code} {appointment.state}"
    # Every order paying for it: the booking's, extra time, a fee.
    for order in appointment.orders():
        for payment in order.payments.all():
            if payment.state == payment.State.AUTHORIZED:
                payments.void(payment, reason=reason)
            elif payment.state == payment.State.CAPTURED and percent:
                owed = payment.captured_amount * percent // 100
                remaining = owed - payment.refunded_amount - _refunds_in_flight(payment)
                if remaining > 0:
                    payments.refund(payment, remaining, reason=reason)
        if order.state == order.State.OPEN:
            payments.cancel_order(order, reason=f"appointment {appointment.state}")
    Appointment.objects.filter(pk=appointment.pk, money_settled_at__isnull=True).update(
        money_settled_at=timezone.now())


def _refunds_in_flight(payment) -> int:
    from django.db.models import Sum

    from site_core.payments.models import Refund

    return Refund.objects.filter(payment=payment, state=Refund.State.CREATED).aggregate(
        total=Sum("amount"))["total"] or 0


@transaction.atomic
def refund_ended(appointment) -> None:
    """Money arrived after the booking ended: settle it again (in full if nobody chose a
    smaller refund)."""
    appointment = _locked(appointment)
    if appointment.refund_percent is None:
        appointment.refund_percent = 100
    appointment.money_settled_at = None
    appointment.save(update_fields=["refund_percent", "money_settled_at", "updated_at"])
    _settle_money(appointment)


# --- "Propose another time" (seed 002) ----------------------------------------
#
# The proposed time is reserved while the client has not answered: a Proposal row that the
# overlap checks count (availability.load for the lists and is_free, _proposal_in_the_way in
# _save_live), every writer holding the expert's lock (_lock_expert) as bookings do. The
# appointment keeps its own time until the client accepts.

P = Proposal.State


def _proposal_in_the_way(appointment) -> bool:
    """Whether a time proposed to another client overlaps ``appointment`` (caller holds the
    expert's lock)."""
    return availability.live_proposals().filter(
        expert_id=appointment.expert_id, starts_at__lt=appointment.ends_at, ends_at__gt=appointment.starts_at,
    ).exclude(appointment_id=appointment.pk).exists()


def proposal_refusal(appointment, now=None) -> BookingError | None:
    """Why the expert may not propose another time for this appointment now, or None."""
    now = now or timezone.now()
    if appointment.state not in (A.REQUESTED, A.CONFIRMED) or appointment.instant:
        return BookingError(_("Another time can only be proposed for a request or a confirmed appointment "
                              "(this one: %(state)s).") % {"state": appointment.get_state_display()},
                            code="not_movable")
    if appointment.starts_at <= now:
        return BookingError(_("This consultation has already started or ended; another time can no longer be "
                              "proposed."), code="started")
    return None


@transaction.atomic
def propose_time(appointment, starts_at, *, expert, now=None) -> Proposal:
    """The expert proposes ``starts_at`` instead: it must be one of their free times for this
    appointment (same mode and length). An earlier proposal still waiting is replaced. The
    client is emailed a link to accept, to choose another time or to cancel (full refund).
    Refused with a message, nothing changed: not the expert's, not movable, started, in the
    past, the same time, taken or outside their hours."""
    now = now or timezone.now()
    appointment = _locked(appointment)
    if expert is None or appointment.expert_id != expert.pk:
        raise BookingError(_("Only the expert of this appointment can do this."), code="not_yours")
    refusal = proposal_refusal(appointment, now)
    if refusal is not None:
        raise refusal
    if starts_at is None or timezone.is_naive(starts_at):
        raise BookingError(_("Choose a time from the list."), field="starts_at")
    if starts_at <= now:
        raise BookingError(_("This time has already passed."), field="starts_at", code="past")
    if starts_at == appointment.starts_at:
        raise BookingError(_("This is already the time of the consultation."), field="starts_at", code="same")
    _lock_expert(appointment.expert_id)
    Proposal.objects.filter(appointment=appointment, state=P.PENDING).update(state=P.WITHDRAWN, answered_at=now)
    if not availability.is_free(appointment.expert, appointment.mode, appointment.minutes, starts_at, now,
                                exclude_appointment=appointment, fresh=True):
        raise BookingError(_("You are not free at this time: it is taken or outside your hours."),
                           field="starts_at", code="not_free")
    proposal = Proposal.objects.create(
        appointment=appointment, expert_id=appointment.expert_id, starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=appointment.minutes), old_starts_at=appointment.starts_at)
    if appointment.state == A.REQUESTED:
        # Proposing is the expert's answer: the request now waits for the client, until its old
        # start at the latest (no 24-hour expiry meanwhile).
        appointment.confirm_by = appointment.starts_at
        appointment.save(update_fields=["confirm_by", "updated_at"])
    from django_q.tasks import async_task

    transaction.on_commit(lambda: async_task("modules.booking.tasks.send_proposal", proposal.pk))
    return proposal


def _claim_proposal(proposal, now) -> tuple[Appointment, Proposal]:
    """The appointment then the proposal, locked in that order (as the sweeper does), or
    BookingError if the proposal was answered, replaced, or no longer fits the appointment."""
    appointment = Appointment.objects.select_for_update().get(pk=proposal.appointment_id)
    proposal = Proposal.objects.select_for_update().get(pk=proposal.pk)
    if proposal.state != P.PENDING:
        raise BookingError(_("This proposal was already answered (%(state)s); nothing was changed.")
                           % {"state": proposal.get_state_display()}, code="answered")
    if (appointment.state not in (A.REQUESTED, A.CONFIRMED) or appointment.starts_at != proposal.old_starts_at
            or proposal.old_starts_at <= now):
        raise BookingError(_("This proposal no longer applies: the consultation has changed or its time has "
                             "come. Nothing was changed."), code="stale")
    return appointment, proposal


@transaction.atomic
def accept_proposal(proposal, *, now=None) -> Appointment:
    """The client accepts the proposed time: the appointment moves there through ``reschedule``
    (the money stays with it), and a request becomes confirmed. Once only."""
    now = now or timezone.now()
    appointment, proposal = _claim_proposal(proposal, now)
    proposal.state = P.ACCEPTED
    proposal.answered_at = now
    proposal.save(update_fields=["state", "answered_at"])  # it no longer reserves its own time
    appointment = reschedule(appointment, proposal.starts_at, by="expert", now=now)
    if appointment.state == A.REQUESTED:
        appointment.state = A.CONFIRMED
        appointment.confirm_by = None
        appointment.save(update_fields=["state", "confirm_by", "updated_at"])
        _announce_confirmed(appointment)
        _notify(appointment, "confirmed")
    return appointment


@transaction.atomic
def refuse_proposal(proposal, *, now=None) -> Appointment:
    """The client cancels rather than take the proposed time: refunded in full, whatever the
    cancellation policy (the expert could not keep the time)."""
    now = now or timezone.now()
    appointment, proposal = _claim_proposal(proposal, now)
    proposal.state = P.DECLINED
    proposal.answered_at = now
    proposal.save(update_fields=["state", "answered_at"])
    _end(appointment, A.CANCELED, by="client", reason="declined the time proposed by the expert",
         refund_percent=100)
    _notify(appointment, "canceled_by_client")
    return appointment


def expire_proposals(now=None) -> int:
    """The sweeper: a proposal not answered before the appointment's old start ends it (the
    request or the appointment, refunded in full; both sides told). Each row is claimed under
    the appointment's lock, like an answer, so an answer and the sweeper give one outcome.
    Returns how many proposals expired."""
    now = now or timezone.now()
    changed = 0
    due = Proposal.objects.filter(state=P.PENDING, old_starts_at__lte=now)
    for pk, appointment_id in list(due.values_list("pk", "appointment_id")[:500]):
        with transaction.atomic():
            appointment = Appointment.objects.select_for_update(skip_locked=True).filter(pk=appointment_id).first()
            if appointment is None:
                continue
            proposal = Proposal.objects.select_for_update().filter(pk=pk, state=P.PENDING).first()
            if proposal is None:
                continue
            proposal.state = P.EXPIRED
            proposal.answered_at = now
            proposal.save(update_fields=["state", "answered_at"])
            if appointment.state in (A.REQUESTED, A.CONFIRMED) and appointment.starts_at == proposal.old_starts_at:
                _end(appointment, A.EXPIRED if appointment.state == A.REQUESTED else A.CANCELED, by="system",
                     reason="no answer to the time proposed", refund_percent=100)
                _notify(appointment, "proposal_expired")
            changed += 1
    return changed
