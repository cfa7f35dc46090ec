"""Demo content of the booking module for ``manage.py seed_demo`` (idempotent)."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import recurrence
from django.utils import timezone

from modules.booking import services
from modules.booking.models import (
    Appointment,
    AvailabilityRule,
    BookingProfile,
    BookingSettings,
    Offering,
)

# (chat per minute, chat short, chat long, video long, phone per minute, instant rate), in cents
PRICES = [
    (250, 3000, 5500, 7000, 220, 300),
    (180, 2500, 4500, 0, 180, 0),
    (300, 0, 6500, 8500, 0, 350),
    (150, 2000, 3800, 5000, 150, 0),
]
WEEKDAYS = recurrence.deserialize("RRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR")
SATURDAY = recurrence.deserialize("RRULE:FREQ=WEEKLY;BYDAY=SA")


def seed(demo):
    settings = BookingSettings.for_site(demo.site)
    settings.save()
    for index, (expert, _page, _page_en) in enumerate(demo.experts):
        chat_min, chat_short, chat_long, video_long, phone_min, instant = PRICES[index % len(PRICES)]
        BookingProfile.objects.get_or_create(expert=expert, defaults={"buffer_minutes": 10, "notice_minutes": 60})
        Offering.objects.get_or_create(expert=expert, mode="chat", defaults={
            "price_per_minute": chat_min, "short_minutes": 15, "short_price": chat_short,
            "long_minutes": 30, "long_price": chat_long, "instant_rate": instant})
        Offering.objects.get_or_create(expert=expert, mode="video", defaults={
            "enabled": bool(video_long), "long_minutes": 45, "long_price": video_long})
        Offering.objects.get_or_create(expert=expert, mode="phone", defaults={
            "price_per_minute": phone_min, "enabled": bool(phone_min)})
        if index == len(demo.experts) - 1:
            continue  # the last expert has no hours: clients write to propose times
        if not AvailabilityRule.objects.filter(expert=expert).exists():
            AvailabilityRule.objects.create(expert=expert, recurrence=WEEKDAYS, start_time=time(9), end_time=time(12))
            AvailabilityRule.objects.create(expert=expert, recurrence=WEEKDAYS, start_time=time(14),
                                            end_time=time(18, 30))
            if index == 0:
                AvailabilityRule.objects.create(expert=expert, recurrence=SATURDAY, start_time=time(10),
                                                end_time=time(13), modes=["chat", "video"])
    if demo.experts and demo.client:
        _client_history(demo)


def _weekday_at(days_from_today, hour, zone):
    """An aware datetime ``days_from_today`` days away (moved to the next weekday) at ``hour``
    local time: the demo's appointments fall within the expert's weekday hours."""
    day = timezone.now().astimezone(zone).date() + timedelta(days=days_from_today)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime.combine(day, time(hour), tzinfo=zone)


def _client_history(demo):
    expert = demo.experts[0][0]
    zone = ZoneInfo(expert.time_zone)
    for key, starts in (("demo:past", _weekday_at(-9, 15, zone)), ("demo:upcoming", _weekday_at(6, 10, zone))):
        if Appointment.objects.filter(client=demo.client, idempotency_key=key).exists():
            continue
        # History, written as it stood once confirmed: a past time cannot be booked.
        appointment = Appointment.objects.create(
            site=demo.site, expert=expert, client=demo.client, mode="video", product="long",
            starts_at=starts, ends_at=starts + timedelta(minutes=45), minutes=45, unit_price=7000,
            currency="EUR", state=Appointment.State.CONFIRMED, idempotency_key=key, language="fr",
            client_time_zone="Europe/Paris",
        )
        if appointment.ends_at < timezone.now():
            # Completed the one way an appointment completes: its session ended.
            services.end_session(appointment, source="auto", minutes_run=appointment.minutes,
                                 now=appointment.ends_at)
    if demo.stdout is not None:
        demo.stdout.write("  booking: prices, weekly hours and two appointments for the demo client")
