from datetime import UTC, datetime, time, timedelta

import pytest
import recurrence


@pytest.fixture
def expert_setup(practice, make_expert):
    """An expert open Monday to Saturday, 09:00-12:00 and 14:00-18:00 Paris time, selling
    chat (per minute and packages), video and phone."""
    from modules.booking.models import AvailabilityRule, Offering

    expert, page, _page_en = make_expert(practice, "Sophie Laurent")
    Offering.objects.create(expert=expert, mode="chat", price_per_minute=250, short_minutes=15,
                            short_price=3000, long_minutes=30, long_price=5500, instant_rate=300)
    Offering.objects.create(expert=expert, mode="video", long_minutes=45, long_price=8000)
    Offering.objects.create(expert=expert, mode="phone", price_per_minute=200)
    days = recurrence.deserialize("RRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR,SA")
    AvailabilityRule.objects.create(expert=expert, recurrence=days, start_time=time(9), end_time=time(12))
    AvailabilityRule.objects.create(expert=expert, recurrence=days, start_time=time(14), end_time=time(18))
    return expert, page


@pytest.fixture
def monday_morning():
    """Monday 2 November 2026, 08:00 in Paris (07:00 UTC)."""
    return datetime(2026, 11, 2, 7, 0, tzinfo=UTC)


@pytest.fixture
def client_user(make_user):
    return make_user(email="camille@example.test", first_name="Camille", last_name="Martin")


MONDAY_10 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # Monday 10:00 in Paris
BOOKED_AT = datetime(2026, 10, 30, 9, 0, tzinfo=UTC)  # the Friday before


@pytest.fixture
def clock(monkeypatch):
    """A clock the test moves: services, views and tasks read it through timezone.now."""
    class Clock:
        now = BOOKED_AT

        def move(self, **delta):
            self.now += timedelta(**delta)

    from site_core.base.sms import LocmemBackend

    c = Clock()
    monkeypatch.setattr("django.utils.timezone.now", lambda: c.now)
    LocmemBackend.outbox.clear()
    return c


@pytest.fixture
def paid(practice, expert_setup, client_user, clock, django_capture_on_commit_callbacks):
    """book(product=..., confirmation=bool) -> a paid appointment (test card), notices sent."""
    from django.test import Client

    from modules.booking import services
    from modules.booking.models import BookingSettings
    from tests.site_core.payments.drivers.test_card import TestCardDriver

    expert, _page = expert_setup
    expert.user.phone = "+33611111111"
    expert.user.save()

    def book(product="long", confirmation=False, starts_at=MONDAY_10, budget_minutes=None, client=None):
        rules = BookingSettings.for_site(practice.site)
        rules.requires_confirmation = confirmation
        rules.save()
        appointment = services.hold(services.BookingRequest(
            site=practice.site, expert=expert, client=client or client_user, mode="chat", product=product,
            starts_at=starts_at, budget_minutes=budget_minutes, language="en"))
        buyer = Client()
        buyer.force_login(client or client_user)
        with django_capture_on_commit_callbacks(execute=True):
            TestCardDriver().pay(buyer, appointment.order)
        appointment.refresh_from_db()
        return appointment

    return book
