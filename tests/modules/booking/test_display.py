"""What a client, an expert and an administrator read about a booking: whether it is paid,
partly refunded or refunded (issue 9, item 3), and when it takes place, in the reader's own
time zone, named (item 4) — on the receipt, the reservation page, the portal, the emails
and the admin, in French and in English."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.test import Client

from modules.booking import notifications, services
from modules.booking.models import Appointment, BookingSettings
from site_core.payments import services as payments
from site_core.payments.models import Payment
from tests.site_core.payments.drivers.test_card import TestCardDriver

BOOKED_AT = datetime(2026, 10, 30, 9, 0, tzinfo=UTC)  # Friday 30 October, 10:00 in Paris
FRIDAY_14 = datetime(2026, 10, 30, 13, 0, tzinfo=UTC)  # 14:00 Paris (CET), 09:00 Montréal (EDT)
MONDAY_10 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # 10:00 Paris, 04:00 Montréal: Canada left DST on 1 Nov

#: What each reader sees of the 55 € package, by language and by what happened to the money.
STATUS = {
    "fr": {"paid": "Payé (55,00\xa0€)", "partly_refunded": "Remboursé en partie (20,00\xa0€ sur 55,00\xa0€)",
           "refunded": "Remboursé (55,00\xa0€)"},
    "en": {"paid": "Paid (€55.00)", "partly_refunded": "Partly refunded (€20.00 of €55.00)",
           "refunded": "Refunded (€55.00)"},
}
PREFIX = {"fr": "", "en": "/en"}


@pytest.fixture
def clock(monkeypatch):
    class Clock:
        now = BOOKED_AT

    c = Clock()
    monkeypatch.setattr("django.utils.timezone.now", lambda: c.now)
    return c


@pytest.fixture
def montreal_client(make_user):
    return make_user(email="camille@example.test", first_name="Camille", last_name="Martin")


@pytest.fixture
def book(practice, expert_setup, montreal_client, clock, django_capture_on_commit_callbacks):
    """book(language, starts_at=MONDAY_10, money="paid") -> a 55 € package paid with the test card by
    a client whose browser was in Montréal, then left paid, partly refunded (20 €) by an
    administrator, or canceled by the expert and refunded in full."""
    expert, _page = expert_setup

    def make(language, starts_at=MONDAY_10, money="paid", confirmation=False):
        rules = BookingSettings.for_site(practice.site)
        rules.requires_confirmation = confirmation
        rules.save()
        appointment = services.hold(services.BookingRequest(
            site=practice.site, expert=expert, client=montreal_client, mode="chat", product="long",
            starts_at=starts_at, language=language, client_time_zone="America/Montreal"))
        buyer = Client()
        buyer.force_login(montreal_client)
        with django_capture_on_commit_callbacks(execute=True):
            TestCardDriver().pay(buyer, appointment.order)
        with django_capture_on_commit_callbacks(execute=True):
            payment = Payment.objects.get(order=appointment.order)
            if money == "partly_refunded":
                payments.refund(payment, 2000, reason="goodwill")
            elif money == "refunded":
                services.cancel(Appointment.objects.get(pk=appointment.pk), by="expert")
        return Appointment.objects.select_related("order").get(pk=appointment.pk)

    return make


def statuses(html):
    """The text of every payment status shown on a page."""
    return re.findall(r'<span class="payment-status payment-status--[a-z_]+">([^<]*)</span>', html)


def logged_in(user):
    browser = Client()
    browser.force_login(user)
    return browser


def admin_in(make_user, language):
    from wagtail.users.models import UserProfile

    admin = make_user(email=f"boss-{language}@example.test", is_superuser=True, is_staff=True)
    profile = UserProfile.get_for_user(admin)
    profile.preferred_language = language
    profile.save()
    return logged_in(admin)


# --- Item 3: paid, partly refunded, refunded -----------------------------------------------

@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("money", ["paid", "partly_refunded", "refunded"])
def test_receipt_reservation_page_and_portal_say_what_happened_to_the_money(book, montreal_client, language,
                                                                            money):
    appointment = book(language, money=money)
    expected = STATUS[language][money]
    browser = logged_in(montreal_client)
    prefix = PREFIX[language]

    receipt = browser.get(f"{prefix}/payments/paid/{appointment.order.public_id}/").content.decode()
    assert statuses(receipt) == [expected]
    confirmed = {"fr": "votre paiement est confirmé", "en": "your payment is confirmed"}[language]
    assert (confirmed in receipt) == (money == "paid")
    if money != "paid":
        assert {"fr": "<h1>Reçu</h1>", "en": "<h1>Receipt</h1>"}[language] in receipt

    done = browser.get(f"{prefix}/booking/done/{appointment.code}/").content.decode()
    assert statuses(done) == [expected]

    portal = browser.get(f"{prefix}/portal/").content.decode()
    assert statuses(portal) == [expected]


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("money", ["paid", "partly_refunded", "refunded"])
def test_admin_inspect_views_say_what_happened_to_the_money(book, make_user, language, money):
    appointment = book("fr", money=money)
    expected = STATUS[language][money]
    admin = admin_in(make_user, language)
    inspect = admin.get(f"/admin/appointments/inspect/{appointment.pk}/").content.decode()
    assert statuses(inspect) == [expected]
    payment = Payment.objects.get(order=appointment.order)
    detail = admin.get(f"/admin/payment_admin/inspect/{payment.pk}/").content.decode()
    assert statuses(detail) == [expected, expected]  # the payment, and its order
    listing = admin.get("/admin/payment_admin/").content.decode()
    assert expected in listing


@pytest.mark.parametrize("language", ["fr", "en"])
def test_emails_sent_after_a_refund_say_refunded(book, montreal_client, clock, language,
                                                 django_capture_on_commit_callbacks):
    label = {"fr": "Paiement", "en": "Payment"}[language]
    paid = book(language)
    confirmation = next(m for m in mail.outbox if montreal_client.email in m.to)
    assert f"{label}: {STATUS[language]['paid']}\n" in confirmation.body

    # Partly refunded by an administrator: the next email (the reminder) says so.
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        payments.refund(Payment.objects.get(order=paid.order), 2000)
    notifications.send_notice(Appointment.objects.get(pk=paid.pk), "reminder_24h", "client")
    (reminder,) = mail.outbox
    assert f"{label}: {STATUS[language]['partly_refunded']}\n" in reminder.body

    # Canceled by the expert and refunded in full: the cancellation email says refunded.
    mail.outbox.clear()
    refunded = book(language, starts_at=FRIDAY_14, money="refunded")
    *_confirmation, to_client = [m for m in mail.outbox if montreal_client.email in m.to]
    assert to_client.subject == {"fr": "Sophie Laurent a annulé votre consultation",
                                 "en": "Sophie Laurent canceled your consultation"}[language]
    assert f"{label}: {STATUS[language]['refunded']}\n" in to_client.body
    for text in ("Payé (", "Paid (", "payment is confirmed", "paiement est confirmé"):
        assert text not in to_client.body
    assert Payment.objects.get(order=refunded.order).refunded_amount == 5500


@pytest.mark.parametrize("language, expected", [
    ("fr", "Paiement: Remboursement de 55,00\xa0€ en cours\n"),
    ("en", "Payment: Refund of €55.00 under way\n"),
])
def test_an_email_written_before_the_refund_went_out_says_it_is_under_way(book, montreal_client, language,
                                                                          expected,
                                                                          django_capture_on_commit_callbacks):
    appointment = book(language)
    with django_capture_on_commit_callbacks(execute=False):  # the money task has not run yet
        services.cancel(appointment, by="expert")
    appointment = Appointment.objects.get(pk=appointment.pk)
    _subject, body, _ics, _sms = notifications.render_notice(appointment, "canceled_by_expert", "client")
    assert expected in body
    assert Payment.objects.get(order=appointment.order).refunded_amount == 0


@pytest.mark.parametrize("language, expected", [
    ("fr", "Paiement: 55,00\xa0€ réservés, pas encore débités\n"),
    ("en", "Payment: €55.00 reserved, not charged yet\n"),
])
def test_a_per_minute_budget_is_reserved_not_paid(practice, expert_setup, montreal_client, clock, language,
                                                  expected, django_capture_on_commit_callbacks):
    expert, _page = expert_setup
    appointment = services.hold(services.BookingRequest(
        site=practice.site, expert=expert, client=montreal_client, mode="chat", product="per_minute",
        budget_minutes=22, starts_at=MONDAY_10, language=language))
    with django_capture_on_commit_callbacks(execute=True):
        TestCardDriver().pay(logged_in(montreal_client), appointment.order)
    body = next(m for m in mail.outbox if montreal_client.email in m.to).body
    assert expected in body


# --- Item 4: the client's zone, named ----------------------------------------------------

WHEN = {
    "fr": {"friday": "vendredi 30 octobre 2026, 09:00 (heure de Montréal)",
           "monday": "lundi 2 novembre 2026, 04:00 (heure de Montréal)",
           "expert": "lundi 2 novembre 2026, 10:00 (heure de Paris)"},
    "en": {"friday": "Friday 30 October 2026, 09:00 (Montreal time)",
           "monday": "Monday 2 November 2026, 04:00 (Montreal time)",
           "expert": "Monday 2 November 2026, 10:00 (Paris time)"},
}


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_client_reads_montreal_times_across_the_clock_change(book, montreal_client, language):
    """Paris left summer time on 25 October, Montréal on 1 November: 14:00 Paris on Friday is
    09:00 in Montréal, 10:00 Paris on Monday is 04:00 there."""
    friday = book(language, starts_at=FRIDAY_14)
    monday = book(language, starts_at=MONDAY_10)
    when = WHEN[language]
    browser = logged_in(montreal_client)
    prefix = PREFIX[language]
    assert when["friday"] in browser.get(f"{prefix}/booking/done/{friday.code}/").content.decode()
    assert when["monday"] in browser.get(f"{prefix}/booking/done/{monday.code}/").content.decode()
    portal = browser.get(f"{prefix}/portal/").content.decode()
    assert portal.index(when["friday"]) < portal.index(when["monday"])  # both, soonest first

    to_client = [m.body for m in mail.outbox if montreal_client.email in m.to]
    sentence = {"fr": "Votre consultation avec Sophie Laurent est confirmée pour le {}.",
                "en": "Your consultation with Sophie Laurent is confirmed for {}."}[language]
    assert any(sentence.format(when["friday"]) in body for body in to_client)
    assert any(sentence.format(when["monday"]) in body for body in to_client)


@pytest.mark.parametrize("language", ["fr", "en"])
def test_a_request_tells_the_client_the_deadline_in_their_zone(book, montreal_client, language):
    appointment = book(language, confirmation=True)
    # 24 hours from Friday 10:00 Paris: Saturday 09:00 UTC, 05:00 in Montréal (still summer time there).
    deadline = {"fr": ("31 octobre, 05:00 (heure de Montréal)", "samedi 31 octobre 2026, 05:00 (heure de Montréal)"),
                "en": ("31 October, 05:00 (Montreal time)", "Saturday 31 October 2026, 05:00 (Montreal time)")}[language]
    page = logged_in(montreal_client).get(f"{PREFIX[language]}/booking/done/{appointment.code}/").content.decode()
    assert deadline[0] in page
    body = next(m.body for m in mail.outbox if montreal_client.email in m.to)
    assert WHEN[language]["monday"] in body and deadline[1] in body

    mail.outbox.clear()
    notifications.send_notice(services.decline(appointment), "declined", "client")
    assert WHEN[language]["monday"] in mail.outbox[0].body


def test_the_client_profile_zone_wins_over_the_browser_of_the_booking(book, montreal_client):
    appointment = book("fr", starts_at=MONDAY_10)
    montreal_client.time_zone = "Europe/London"
    montreal_client.save()
    page = logged_in(montreal_client).get(f"/booking/done/{appointment.code}/").content.decode()
    assert "lundi 2 novembre 2026, 09:00 (heure de Londres)" in page


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_expert_reads_paris_times_named(book, expert_setup, make_user, language):
    expert, _page = expert_setup
    expert.user.language = language
    expert.user.save()
    appointment = book("fr", starts_at=MONDAY_10, confirmation=True)
    to_expert = next(m.body for m in mail.outbox if expert.user.email in m.to)
    assert WHEN[language]["expert"] in to_expert
    assert "Montr" not in to_expert  # the expert's own zone, not the client's
    answer = Client().get(f"/{'en/' if language == 'en' else ''}booking/answer/"
                          f"{notifications.answer_token(appointment)}/").content.decode()
    assert WHEN[language]["expert"] in answer
    inspect = admin_in(make_user, language).get(f"/admin/appointments/inspect/{appointment.pk}/").content.decode()
    assert WHEN[language]["expert"] in inspect
    client_line = {"fr": "pour le client : ", "en": "for the client: "}[language] + WHEN[language]["monday"]
    assert client_line in inspect


def test_reminders_are_in_the_clients_zone(book, montreal_client, clock):
    appointment = book("en", starts_at=MONDAY_10)
    mail.outbox.clear()
    clock.now = MONDAY_10 - timedelta(minutes=50)
    notifications.send_notice(appointment, "reminder_1h", "client")
    assert "starts at Monday 2 November 2026, 04:00 (Montreal time)." in mail.outbox[0].body
