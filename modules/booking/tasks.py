"""Background work of the booking module (django-q2). Tasks take primary keys and are idempotent."""

import logging
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from modules.booking import notifications, services
from modules.booking.models import Appointment, Notice

logger = logging.getLogger(__name__)

A = Appointment.State
REMINDERS = (("reminder_24h", timedelta(hours=24)), ("reminder_1h", timedelta(hours=1)))


def send_notices(appointment_id, kind):
    """Sends the notice ``kind`` to everyone it is for, each once: the Notice row is the claim,
    inserted in the same transaction as the sending, so a failed send is tried again and a
    second worker finds the row taken."""
    appointment = Appointment.objects.select_related("expert__user", "client", "site", "order").filter(
        pk=appointment_id).first()
    if appointment is None:
        return 0
    sent = 0
    failed = None
    for recipient in notifications.RECIPIENTS.get(kind, ()):
        try:
            with transaction.atomic():
                Notice.objects.create(appointment=appointment, kind=kind, recipient=recipient)
                notifications.send_notice(appointment, kind, recipient)
                sent += 1
        except IntegrityError:
            continue  # already sent
        except Exception as exc:  # noqa: BLE001  (the other side is still told; this one is retried)
            logger.exception("Notice %s to the %s of %s failed; it will be tried again", kind, recipient,
                             appointment.code)
            failed = exc
    if failed is not None:
        raise failed  # django-q records the failure; the claim was rolled back
    return sent


def settle_money(appointment_id):
    appointment = Appointment.objects.filter(pk=appointment_id).first()
    if appointment is not None:
        services.settle_money(appointment)


def sweep(now=None):
    """Every minute: expire unanswered requests, release unpaid holds, send due reminders,
    settle money that a gateway failure left unsettled."""
    now = now or timezone.now()
    # Proposals first: a request waiting for the client's answer ends as "no answer to the
    # proposed time" at its old start, not as a request the expert did not answer.
    changed = services.expire_proposals(now) + services.expire_due(now) + services.end_due_sessions(now)
    reminded = send_due_reminders(now)
    for pk in Appointment.objects.filter(
        state__in=Appointment.SETTLED_STATES, money_settled_at__isnull=True,
        updated_at__lt=now - timedelta(minutes=2), updated_at__gt=now - timedelta(days=7),
    ).values_list("pk", flat=True)[:100]:
        try:
            settle_money(pk)
        except Exception:  # noqa: BLE001  (one failing gateway must not stop the others)
            logger.exception("Could not settle the money of appointment %s", pk)
    return changed, reminded


def send_due_reminders(now=None):
    """Reminders 24 h and 1 h before, each once (the Notice claim), only while still due."""
    now = now or timezone.now()
    sent = 0
    for kind, before in REMINDERS:
        due = Appointment.objects.filter(
            state=A.CONFIRMED, starts_at__gt=now, starts_at__lte=now + before,
        ).exclude(notices__kind=kind)
        if kind == "reminder_24h":
            # Booked less than a day ahead: the confirmation was the reminder.
            due = due.filter(created_at__lte=F("starts_at") - timedelta(hours=24)).exclude(
                starts_at__lte=now + timedelta(hours=1))
        for pk in due.values_list("pk", flat=True)[:500]:
            try:
                sent += send_notices(pk, kind)
            except Exception:  # noqa: BLE001  (logged; the others are still reminded, this one next minute)
                continue
    return sent


def send_proposal(proposal_id):
    """Emails the client a proposed time, once (the Notice claim, one per proposal)."""
    from modules.booking.models import Proposal

    proposal = Proposal.objects.select_related("appointment__expert", "appointment__client",
                                               "appointment__site").filter(pk=proposal_id).first()
    if proposal is None or proposal.state != Proposal.State.PENDING:
        return 0
    try:
        with transaction.atomic():
            Notice.objects.create(appointment=proposal.appointment, kind=f"proposal:{proposal.pk}",
                                  recipient="client")
            notifications.send_proposal(proposal)
    except IntegrityError:
        return 0  # already sent
    return 1
