"""An expert's free slots: loads their rules, exceptions and appointments in three
queries and hands them to the pure slot engine (modules.booking.slots)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import F, Q
from django.utils import timezone

from modules.booking import slots as engine
from modules.booking.models import (
    Appointment,
    AvailabilityException,
    AvailabilityRule,
    BookingProfile,
    Mode,
    Offering,
    Proposal,
)
from site_core.payments.models import Order

#: "Now" opens the expert for three hours from the moment they press it (seed 000).
NOW_OPENING = timedelta(hours=3)
#: "Pause 20 minutes" (seed 004).
PAUSE = timedelta(minutes=20)


def profile_for(expert, *, fresh: bool = False) -> BookingProfile:
    """The expert's booking profile, read once per expert object; ``fresh``: read again
    (the re-check under the expert's lock must see a pause committed a moment earlier)."""
    profile = None if fresh else getattr(expert, "_booking_profile_cache", None)
    if profile is None:
        profile = BookingProfile.objects.filter(expert=expert).first() or BookingProfile(expert=expert)
        expert._booking_profile_cache = profile
    return profile


def bookable_offerings(expert_ids) -> dict[int, dict[str, Offering]]:
    """Per expert, what a client can book now, by mode (in ``Mode`` order): offerings on sale
    (enabled, with a price) in modes the expert has not turned off. Two queries in all."""
    off = dict(BookingProfile.objects.filter(expert_id__in=expert_ids).values_list("expert_id", "modes_off"))
    found = {pk: {} for pk in expert_ids}
    order = {mode: index for index, mode in enumerate(Mode.values)}
    for offering in sorted(Offering.objects.filter(expert_id__in=expert_ids, enabled=True),
                           key=lambda o: order.get(o.mode, len(order))):
        if offering.products() and offering.mode not in (off.get(offering.expert_id) or []):
            found[offering.expert_id][offering.mode] = offering
    return found


def expired_hold(now) -> Q:
    """Appointments held for a client who did not pay in time (the order is not paid)."""
    return (Q(state=Appointment.State.HELD, held_until__lte=now)
            & ~Q(order__state=Order.State.PAID))


def _covers(modes, mode) -> bool:
    return not modes or mode in modes


@dataclass
class Availability:
    """What the slot engine needs for one expert and one mode, loaded once."""

    windows: list[engine.Window]
    busy: list[tuple[datetime, datetime]]
    closed: list[tuple[datetime, datetime]]
    profile: BookingProfile

    time_zone: ZoneInfo | None = None

    def free(self, minutes: int, now: datetime) -> list[datetime]:
        profile = self.profile
        until = horizon_end(profile, self.time_zone or ZoneInfo(profile.expert.time_zone), now)
        return engine.free_slots(
            self.windows, self.busy, closed=self.closed,
            duration=timedelta(minutes=minutes), now=now,
            step=timedelta(minutes=profile.slot_minutes),
            buffer=timedelta(minutes=profile.buffer_minutes),
            notice=timedelta(minutes=profile.notice_minutes),
            horizon=until - now, until=until,
        )


def horizon_end(profile: BookingProfile, tz: ZoneInfo, now: datetime) -> datetime:
    """When the booking horizon ends: ``horizon_days`` calendar days in the expert's zone,
    today included, so the last day offered is today + horizon_days - 1 (local midnight, not
    horizon_days x 24 hours: a clock change in between moves nothing)."""
    today = now.astimezone(tz).date()
    return datetime.combine(today + timedelta(days=profile.horizon_days), datetime.min.time(), tzinfo=tz)


def booking_horizon_end(expert, now: datetime | None = None) -> datetime:
    """``horizon_end`` of an expert: the first moment clients can no longer book."""
    return horizon_end(profile_for(expert), ZoneInfo(expert.time_zone), now or timezone.now())


def load(expert, mode: str, start: datetime, end: datetime, *, exclude_appointment=None,
         now: datetime | None = None, fresh: bool = False) -> Availability:
    """Rules, exceptions and live appointments of ``expert`` between ``start`` and ``end``.

    A hold whose time ran out (and whose order was not paid) no longer counts, even
    before the sweeper has released it: booking releases it (services._insert).
    ``fresh``: the booking profile (pause, modes off, buffer...) is read again too."""
    profile = profile_for(expert, fresh=fresh)
    tz = ZoneInfo(expert.time_zone)
    rules = [
        engine.WeeklyRule(rule.recurrence, rule.start_time, rule.end_time, since=rule.valid_from)
        for rule in AvailabilityRule.objects.filter(expert=expert)
        if _covers(rule.modes, mode)
    ]
    margin = timedelta(minutes=profile.buffer_minutes) + timedelta(days=1)
    extra, closed = [], []
    for exception in AvailabilityException.objects.filter(
        expert=expert, ends_at__gt=start - margin, starts_at__lt=end + margin
    ):
        if not _covers(exception.modes, mode):
            continue
        if exception.kind == AvailabilityException.Kind.OPEN:
            extra.append(engine.Window.of(exception.starts_at, exception.ends_at))
        else:
            closed.append((exception.starts_at, exception.ends_at))
    appointments = Appointment.objects.filter(
        expert=expert, state__in=Appointment.LIVE_STATES,
        ends_at__gt=start - margin, starts_at__lt=end + margin,
    )
    if exclude_appointment is not None:
        appointments = appointments.exclude(pk=exclude_appointment.pk)
    appointments = appointments.exclude(expired_hold(now or timezone.now()))
    busy = list(appointments.values_list("starts_at", "ends_at"))
    busy += reserved_by_proposals(expert, start - margin, end + margin, exclude_appointment=exclude_appointment,
                                  now=now)
    if profile.paused_until and profile.paused_until > start:
        closed.append((start - margin, profile.paused_until))
    if mode in (profile.modes_off or []):
        closed.append((start - margin, end + margin))
    windows = engine.expand_rules(rules, tz, start, end, extra=extra)
    return Availability(windows=windows, busy=busy, closed=closed, profile=profile, time_zone=tz)


def free_slots(expert, mode: str, minutes: int, start: datetime, end: datetime, now: datetime | None = None,
               *, exclude_appointment=None, fresh: bool = False) -> list[datetime]:
    """Starts (UTC) at which ``expert`` can take a ``minutes``-long appointment in ``mode``,
    in [start, end) and before the end of the booking horizon (``horizon_end``).

    The one rule for a free start: the lists clients choose from (page, API, move page)
    and the checks the booking services make (``is_free``) all come here."""
    now = now or timezone.now()
    start = max(start, now)
    if end <= start:
        return []
    # Openings up to a slot's end, past ``end``: the last start may run into one touching it.
    availability = load(expert, mode, start, end + timedelta(minutes=minutes),
                        exclude_appointment=exclude_appointment, now=now, fresh=fresh)
    return [slot for slot in availability.free(minutes, now) if start <= slot < end]


def is_free(expert, mode: str, minutes: int, starts_at: datetime, now: datetime | None = None,
            *, exclude_appointment=None, fresh: bool = False) -> bool:
    """Whether ``starts_at`` is one of the expert's free slots for that length and mode: the
    same engine, with the same inputs, as the list clients choose from (free_slots)."""
    window = timedelta(minutes=minutes) + timedelta(days=1)
    return starts_at in free_slots(expert, mode, minutes, starts_at - window, starts_at + window, now,
                                   exclude_appointment=exclude_appointment, fresh=fresh)


def has_availability(expert, now: datetime | None = None) -> bool:
    """Whether the expert has set any opening clients could book (else clients write to them)."""
    now = now or timezone.now()
    return (
        AvailabilityRule.objects.filter(expert=expert).exists()
        or AvailabilityException.objects.filter(expert=expert, kind=AvailabilityException.Kind.OPEN,
                                                ends_at__gt=now).exists()
    )


def live_proposals(now=None):
    """Proposed times that still reserve the expert's time: waiting for the client, on an
    appointment still live, still at the time it had when proposed, not started yet."""
    now = now or timezone.now()
    return Proposal.objects.filter(
        state=Proposal.State.PENDING, appointment__state__in=[Appointment.State.REQUESTED,
                                                              Appointment.State.CONFIRMED],
        appointment__starts_at=F("old_starts_at"), old_starts_at__gt=now)


def reserved_by_proposals(expert, start, end, *, exclude_appointment=None, now=None):
    """(start, end) of the times proposed to clients of ``expert`` between start and end, which
    count as taken (models.Proposal); those of ``exclude_appointment`` (the one being moved) do not."""
    rows = live_proposals(now).filter(expert=expert, starts_at__lt=end, ends_at__gt=start)
    if exclude_appointment is not None:
        rows = rows.exclude(appointment_id=exclude_appointment.pk)
    return list(rows.values_list("starts_at", "ends_at"))
