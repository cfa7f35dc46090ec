"""What clients and experts are told about an appointment: emails (with an .ics file),
text messages, signed answer links, calendar files and feeds."""

from __future__ import annotations

import logging
from datetime import UTC, timedelta
from email.mime.text import MIMEText
from email.utils import parseaddr
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _
from icalendar import Calendar, Event, vCalAddress, vText

from modules.booking.models import Appointment
from site_core.base.local_time import local_time
from site_core.base.money import Money
from site_core.base.sms import send_sms
from site_core.modules import hooks

logger = logging.getLogger(__name__)

ANSWER_SALT = "cabinet.booking.answer"
PROPOSAL_SALT = "cabinet.booking.proposal"
FEED_SALT = "cabinet.booking.feed"

#: kind -> recipients; the texts are in ``_texts`` (translated in the recipient's language).
RECIPIENTS = {
    "confirmed": ("client", "expert"),
    "requested": ("client", "expert"),
    "instant": ("expert",),
    "declined": ("client",),
    "unavailable": ("client",),
    "expired": ("client", "expert"),
    "canceled_by_client": ("client", "expert"),
    "canceled_by_expert": ("client", "expert"),
    "rescheduled": ("client", "expert"),
    "proposal_expired": ("client", "expert"),
    "reminder_24h": ("client", "expert"),
    "reminder_1h": ("client", "expert"),
}
#: Kinds that also go out as a text message, to whom.
SMS = {
    ("requested", "expert"), ("instant", "expert"), ("reminder_24h", "client"), ("reminder_1h", "client"),
    ("reminder_1h", "expert"), ("canceled_by_expert", "client"),
}
#: Kinds whose client email carries the appointment as an .ics file, with its iTIP method
#: (RFC 5546): REQUEST adds or updates the event in the client's calendar, CANCEL removes it.
ICS_METHODS = {
    "confirmed": "REQUEST", "requested": "REQUEST", "rescheduled": "REQUEST",
    "declined": "CANCEL", "unavailable": "CANCEL", "proposal_expired": "CANCEL", "expired": "CANCEL", "canceled_by_client": "CANCEL", "canceled_by_expert": "CANCEL",
}


def answer_token(appointment) -> str:
    return signing.dumps({"a": appointment.pk, "c": appointment.code}, salt=ANSWER_SALT)


def read_answer_token(token, max_age=timedelta(days=8)):
    """The appointment an expert's signed link is about, or None (bad, tampered or too old)."""
    try:
        data = signing.loads(token, salt=ANSWER_SALT, max_age=max_age)
    except signing.BadSignature:
        return None
    return Appointment.objects.select_related("expert", "client", "site").filter(
        pk=data.get("a"), code=data.get("c")).first()


#: What an expert's calendar feed lists, and the STATUS each state has there (RFC 5545):
#: a request waiting for the expert is tentative, a confirmed or completed consultation is
#: confirmed. Held slots (a client still paying or gone), declined, expired and canceled
#: appointments are left out: a subscribed calendar replaces its copy of the feed on each
#: refresh, so an appointment canceled since is removed from it (no CANCELLED entry needed).
FEED_STATUS = {
    Appointment.State.REQUESTED: "TENTATIVE",
    Appointment.State.CONFIRMED: "CONFIRMED",
    Appointment.State.COMPLETED: "CONFIRMED",
}


def feed_token(expert, key) -> str:
    """The secret part of an expert's calendar feed address: the expert's id and the key of
    their booking profile (``services.calendar_feed_key``), signed. The key makes it
    revocable ("new address" draws a new one); the signature means a copy of the database
    alone is not enough to forge it. No timestamp: the address stays the same until replaced."""
    return signing.Signer(salt=FEED_SALT).sign(f"{expert.pk}-{key}")


def read_feed_token(token):
    """The expert whose current feed address this is, or None (bad signature, unknown expert,
    or a key replaced since by "new address"); keys are compared in constant time."""
    from site_core.practice.models import Expert

    try:
        value = signing.Signer(salt=FEED_SALT).unsign(token)
    except signing.BadSignature:
        return None
    pk, _sep, key = value.partition("-")
    if not pk.isascii() or not pk.isdigit() or not key:
        return None
    expert = Expert.objects.filter(pk=int(pk)).select_related("booking_profile", "user").first()
    profile = getattr(expert, "booking_profile", None) if expert else None
    if profile is None or not constant_time_compare(profile.feed_key, key):
        return None
    return expert


def _client_for_expert(appointment):
    """The client as the expert's calendar names them: first name and initial, no email or
    phone (the feed address is a secret, but it travels through calendar providers)."""
    user = appointment.client
    first, last = (user.first_name or "").strip(), (user.last_name or "").strip()
    if not first:
        return _("a client")
    return f"{first} {last[0]}." if last else first


def expert_feed(expert, appointments) -> bytes:
    """The expert's private calendar feed (RFC 5545, METHOD:PUBLISH), in the expert's
    language: one event per appointment in ``FEED_STATUS`` (others are skipped), times in
    UTC, a link to the appointment in the admin, and of the client only a first name."""
    language = (getattr(expert.user, "language", "") or settings.LANGUAGE_CODE)[:2] if expert.user_id else (
        settings.LANGUAGE_CODE[:2])
    with translation.override(language):
        calendar = Calendar()
        calendar.add("prodid", "-//Cabinet//Consultations//FR")
        calendar.add("version", "2.0")
        calendar.add("calscale", "GREGORIAN")
        calendar.add("method", "PUBLISH")
        calendar.add("x-wr-calname", _("Consultations: %(name)s") % {"name": expert.name})
        # Calendar apps poll a subscribed feed; ask for every 15 minutes (RFC 7986; Outlook's name).
        calendar.add("refresh-interval", timedelta(minutes=15), parameters={"VALUE": "DURATION"})
        calendar.add("x-published-ttl", "PT15M")
        stamp = timezone.now()
        for appointment in appointments:
            status = FEED_STATUS.get(appointment.state)
            if status is None:
                continue
            summary = _("Consultation (%(mode)s) with %(client)s") % {
                "mode": appointment.get_mode_display(), "client": _client_for_expert(appointment)}
            if status == "TENTATIVE":
                summary = _("To confirm: %(summary)s") % {"summary": summary}
            admin_url = _absolute(appointment, reverse("appointments:inspect", args=[appointment.pk]))
            lines = [_("Reservation code: %(code)s") % {"code": appointment.code},
                     _("%(minutes)s minutes") % {"minutes": appointment.minutes}]
            if appointment.instant:
                lines.append(_("Instant session"))
            lines.append(admin_url)
            event = Event()
            event.add("uid", f"{appointment.code}@cabinet")
            event.add("dtstamp", stamp)
            event.add("dtstart", appointment.starts_at.astimezone(UTC))
            event.add("dtend", appointment.ends_at.astimezone(UTC))
            event.add("last-modified", appointment.updated_at.astimezone(UTC))
            event.add("sequence", appointment.reschedules)
            event.add("summary", summary)
            event.add("description", "\n".join(lines))
            event.add("url", admin_url)
            event.add("status", status)
            event.add("transp", "OPAQUE")
            calendar.add_component(event)
        return calendar.to_ical()


def rebook_url(appointment):
    """Where the client chooses another time with the same expert: the booking form of the
    expert's page (absolute, in the active language), or the client's consultation page."""
    from site_core.pages.models import ExpertPage

    page = ExpertPage.objects.live().filter(expert_id=appointment.expert_id).first()
    if page is None:
        return _absolute(appointment, reverse("booking:done", args=[appointment.code]))
    return _absolute(appointment, reverse("booking:start", args=[page.localized.pk]))


def _absolute(appointment, path):
    return appointment.site.root_url.rstrip("/") + path


def room_path(appointment):
    """The path of the appointment's live session room, from the module that serves it
    (``cabinet_register_session_room_url``), or None while no module does."""
    for fn in hooks.get_hooks(hooks.REGISTER_SESSION_ROOM_URL, site=appointment.site):
        path = fn(appointment)
        if path:
            return path
    return None


def room_url(appointment):
    """The session room's absolute URL (for emails), or None."""
    path = room_path(appointment)
    return _absolute(appointment, path) if path else None


def _zone(appointment, recipient):
    """Each side reads times in their own zone, named (site_core.base.local_time)."""
    return ZoneInfo(appointment.expert_zone if recipient == "expert" else appointment.client_zone)


def _language(appointment, recipient):
    if recipient == "expert":
        user = appointment.expert.user
        return (getattr(user, "language", "") or settings.LANGUAGE_CODE)[:2]
    return (appointment.language or settings.LANGUAGE_CODE)[:2]


def _address(appointment, recipient):
    if recipient == "expert":
        user = appointment.expert.user
        return getattr(user, "email", "")
    return appointment.client.email


def _phone(appointment, recipient):
    if recipient == "expert":
        profile = getattr(appointment.expert, "booking_profile", None)
        return getattr(profile, "alert_phone", "") or getattr(appointment.expert.user, "phone", "")
    return appointment.phone or appointment.client.phone


def _texts(kind, recipient, appointment, when, deadline):
    """(subject, first paragraph) of a notice, in the active language."""
    client = appointment.client.get_full_name() or appointment.client.email
    expert = appointment.expert.name
    values = {"expert": expert, "client": client, "when": when, "code": appointment.code, "deadline": deadline}
    table = {
        ("confirmed", "client"): (_("Your consultation with %(expert)s is confirmed"),
                                  _("Your consultation with %(expert)s is confirmed for %(when)s.")),
        ("confirmed", "expert"): (_("New consultation with %(client)s"),
                                  _("%(client)s booked a consultation with you for %(when)s.")),
        ("requested", "client"): (_("Your request has been sent to %(expert)s"),
                                  _("%(expert)s will confirm your consultation of %(when)s before %(deadline)s. "
                                    "If they do not, the amount reserved is released.")),
        ("requested", "expert"): (_("Consultation request from %(client)s"),
                                  _("%(client)s asks for a consultation on %(when)s. Please confirm or decline "
                                    "before %(deadline)s, or the request expires.")),
        ("instant", "expert"): (_("%(client)s wants to consult you now"),
                                _("%(client)s asks for an immediate consultation. Accept before %(deadline)s, "
                                  "or the request is canceled and the client is not charged.")),
        ("declined", "client"): (_("%(expert)s cannot take your consultation"),
                                 _("%(expert)s cannot take your consultation of %(when)s. Nothing is charged: "
                                   "the amount reserved is released. You can choose another time.")),
        ("unavailable", "client"): (_("%(expert)s is not available at the time you asked"),
                                    _("%(expert)s is not available for your consultation of %(when)s and will "
                                      "contact you to agree on another time. Nothing is charged: the amount "
                                      "reserved is released. You can also choose another time yourself.")),
        ("expired", "client"): (_("Your request to %(expert)s has expired"),
                                _("%(expert)s did not answer your request for %(when)s in time. Nothing is "
                                  "charged: the amount reserved is released.")),
        ("expired", "expert"): (_("A request from %(client)s has expired"),
                                _("The request of %(client)s for %(when)s was not answered in time and has "
                                  "expired. The client was told and not charged.")),
        ("canceled_by_client", "client"): (_("Your consultation with %(expert)s is canceled"),
                                           _("Your consultation of %(when)s with %(expert)s is canceled.")),
        ("canceled_by_client", "expert"): (_("%(client)s canceled a consultation"),
                                           _("%(client)s canceled the consultation of %(when)s.")),
        ("canceled_by_expert", "client"): (_("%(expert)s canceled your consultation"),
                                           _("%(expert)s canceled your consultation of %(when)s. You are "
                                             "refunded in full.")),
        ("canceled_by_expert", "expert"): (_("You canceled a consultation"),
                                           _("You canceled the consultation of %(when)s with %(client)s; they "
                                             "are refunded in full.")),
        ("rescheduled", "client"): (_("Your consultation with %(expert)s has moved"),
                                    _("Your consultation with %(expert)s is now on %(when)s.")),
        ("rescheduled", "expert"): (_("A consultation has moved"),
                                    _("The consultation with %(client)s is now on %(when)s.")),
        ("proposal_expired", "client"): (_("Your consultation with %(expert)s is canceled"),
                                         _("You did not answer the other time %(expert)s proposed before your "
                                           "consultation of %(when)s: it is canceled and you are refunded in "
                                           "full.")),
        ("proposal_expired", "expert"): (_("%(client)s did not answer the time you proposed"),
                                         _("%(client)s did not answer the other time you proposed before the "
                                           "consultation of %(when)s: it is canceled and the client is refunded "
                                           "in full.")),
        ("reminder_24h", "client"): (_("Reminder: consultation with %(expert)s tomorrow"),
                                     _("Your consultation with %(expert)s is on %(when)s.")),
        ("reminder_24h", "expert"): (_("Reminder: consultation with %(client)s tomorrow"),
                                     _("Your consultation with %(client)s is on %(when)s.")),
        ("reminder_1h", "client"): (_("Your consultation with %(expert)s starts in one hour"),
                                    _("Your consultation with %(expert)s starts at %(when)s.")),
        ("reminder_1h", "expert"): (_("Consultation with %(client)s in one hour"),
                                    _("Your consultation with %(client)s starts at %(when)s.")),
    }
    subject, intro = table[(kind, recipient)]
    return subject % values, intro % values


def render_notice(appointment, kind, recipient):
    """(subject, body, ics attachment or None, sms text or None) in the recipient's language;
    the attachment is a MIME part (text/calendar with its iTIP method)."""
    with translation.override(_language(appointment, recipient)), timezone.override(_zone(appointment, recipient)):
        zone = _zone(appointment, recipient)
        when = local_time(appointment.starts_at, zone)
        deadline = local_time(appointment.confirm_by, zone)
        subject, intro = _texts(kind, recipient, appointment, when, deadline)
        context = {
            "appointment": appointment, "recipient": recipient, "intro": intro, "when": when,
            "page_url": _absolute(appointment, reverse("booking:done", args=[appointment.code])),
            "room_url": room_url(appointment) if appointment.is_live else None,
            "answer_url": _absolute(appointment, reverse("booking:answer", args=[answer_token(appointment)]))
            if recipient == "expert" and kind in ("requested", "instant") else "",
            # Contact rules (README): the client never gets the expert's email or phone; a
            # client told "no" gets a link to choose another time instead.
            "rebook_url": rebook_url(appointment)
            if recipient == "client" and kind in ("declined", "unavailable") else "",
            "amount": Money(appointment.order.total, appointment.currency) if appointment.order_id else None,
            "payment_status": appointment.payment_status,
        }
        body = render_to_string("booking/email/notice.txt", context)
        method = ICS_METHODS.get(kind) if recipient == "client" else None
        ics = _ics_part(appointment, method) if method else None
        sms = None
        if (kind, recipient) in SMS:
            sms = f"{subject}. {_('Code')}: {appointment.code}"
            if context["answer_url"]:
                sms += f" {context['answer_url']}"
    return subject, body, ics, sms


def send_notice(appointment, kind, recipient):
    """Sends one notice now: the email, then the text message where it applies.

    The email is the notice: if it fails, this raises and the caller tries again later.
    Once it has gone, a failing text message is logged, not raised, so that a retry
    never sends the same email twice.
    """
    subject, body, ics, sms = render_notice(appointment, kind, recipient)
    address = _address(appointment, recipient)
    if address:
        message = EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [address])
        if ics is not None:
            message.attach(ics)
        message.send(fail_silently=False)
    if sms:
        try:
            send_sms(_phone(appointment, recipient), sms)
        except Exception:
            if not address:
                raise  # the text message was the only notice: try again later
            logger.exception("Text message %s to the %s of %s failed (the email went out)",
                             kind, recipient, appointment.code)


def _ics_part(appointment, method):
    """The appointment as an email attachment that mail clients offer to add, update or remove:
    ``text/calendar; method=...`` (RFC 6047), one charset parameter."""
    part = MIMEText(ics_for([appointment], method=method).decode(), "calendar", "utf-8")
    part.set_param("method", method)
    part.add_header("Content-Disposition", "attachment", filename=f"consultation-{appointment.code}.ics")
    return part


def ics_for(appointments, *, method="PUBLISH", name=""):
    """An iCalendar file of ``appointments`` (RFC 5545), for mail clients and calendar apps.

    REQUEST and CANCEL (iTIP, RFC 5546) name the practice as organizer and the client as
    attendee, as that standard requires; a cancellation carries a higher SEQUENCE than
    the last update, so calendars apply it."""
    calendar = Calendar()
    calendar.add("prodid", "-//Cabinet//Consultations//FR")
    calendar.add("version", "2.0")
    calendar.add("method", method)
    if name:
        calendar.add("x-wr-calname", name)
    for appointment in appointments:
        event = Event()
        event.add("uid", f"{appointment.code}@cabinet")
        event.add("dtstamp", timezone.now())
        event.add("dtstart", appointment.starts_at)
        event.add("dtend", appointment.ends_at)
        event.add("summary", _("Consultation %(code)s (%(mode)s) with %(expert)s") % {
            "code": appointment.code, "mode": appointment.get_mode_display(), "expert": appointment.expert.name})
        event.add("url", room_url(appointment)
                  or _absolute(appointment, reverse("booking:done", args=[appointment.code])))
        event.add("sequence", appointment.reschedules + (1 if method == "CANCEL" else 0))
        if method in ("REQUEST", "CANCEL"):
            organizer = vCalAddress(f"mailto:{parseaddr(settings.DEFAULT_FROM_EMAIL)[1]}")
            organizer.params["cn"] = vText(appointment.site.site_name or appointment.expert.name)
            event.add("organizer", organizer)
            attendee = vCalAddress(f"mailto:{appointment.client.email}")
            attendee.params["cn"] = vText(appointment.client.get_full_name() or appointment.client.email)
            attendee.params["role"] = vText("REQ-PARTICIPANT")
            event.add("attendee", attendee)
        event.add("status", FEED_STATUS.get(appointment.state,
                                            "TENTATIVE" if appointment.is_live else "CANCELLED"))
        calendar.add_component(event)
    return calendar.to_ical()


# --- "Propose another time": the client's signed link and email ---------------------

def proposal_token(proposal) -> str:
    """The client's link to answer a proposed time: the proposal and its nonce, signed. It
    answers once: an answered or replaced proposal no longer waits, and the page says so."""
    return signing.dumps({"p": proposal.pk, "n": proposal.nonce}, salt=PROPOSAL_SALT)


def read_proposal_token(token, max_age=timedelta(days=60)):
    """The proposal a client's link is about, or None (bad, tampered or too old)."""
    from modules.booking.models import Proposal

    try:
        data = signing.loads(token, salt=PROPOSAL_SALT, max_age=max_age)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    return Proposal.objects.select_related("appointment__expert", "appointment__client", "appointment__site").filter(
        pk=data.get("p"), nonce=data.get("n")).first()


def render_proposal(proposal):
    """(subject, body) of the email proposing another time, in the client's language and zone.
    Nothing in it reaches the expert: no email, no phone (contact rules)."""
    appointment = proposal.appointment
    with translation.override(_language(appointment, "client")), timezone.override(_zone(appointment, "client")):
        zone = _zone(appointment, "client")
        values = {"expert": appointment.expert.name, "old": local_time(proposal.old_starts_at, zone),
                  "new": local_time(proposal.starts_at, zone)}
        subject = _("%(expert)s proposes another time for your consultation") % values
        context = {
            "appointment": appointment, "proposal": proposal, **values,
            "answer_url": _absolute(appointment, reverse("booking:proposal", args=[proposal_token(proposal)])),
            "move_url": _absolute(appointment, reverse("booking:reschedule", args=[appointment.code])),
        }
        body = render_to_string("booking/email/proposal.txt", context)
    return subject, body


def send_proposal(proposal):
    subject, body = render_proposal(proposal)
    address = _address(proposal.appointment, "client")
    if address:
        EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [address]).send(fail_silently=False)
