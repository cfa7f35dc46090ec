"""Messages from visitors to experts."""

from django.db import transaction
from django.utils import timezone, translation
from django_q.tasks import async_task

from modules.contact.models import ContactMessage


@transaction.atomic
def send_message(*, expert, name, email, message, phone="", proposed_times="", sender=None):
    row = ContactMessage.objects.create(
        expert=expert,
        sender=sender if sender is not None and sender.is_authenticated else None,
        name=name,
        email=email,
        phone=phone,
        proposed_times=proposed_times,
        message=message,
        language=translation.get_language() or "fr",
    )
    transaction.on_commit(lambda: async_task("modules.contact.tasks.notify_expert", row.pk))
    return row


def claim_notification(message_id):
    """Marks the message as notified; True for the one caller that did it.

    The conditional UPDATE is the claim: two workers running the same task
    send one email.
    """
    return bool(
        ContactMessage.objects.filter(pk=message_id, notified_at__isnull=True).update(
            notified_at=timezone.now()
        )
    )


@transaction.atomic
def mark_handled(message, handled=True):
    message.handled = handled
    message.save(update_fields=["handled"])
    return message
