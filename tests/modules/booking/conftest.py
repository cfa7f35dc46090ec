from datetime import UTC, datetime, time

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
