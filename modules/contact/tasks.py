"""Background work of the contact module (django-q2). Tasks take primary keys."""

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import translation

from modules.contact import services
from modules.contact.models import ContactMessage

logger = logging.getLogger(__name__)


def notify_expert(message_id):
    """Emails the expert about a new message, once."""
    message = ContactMessage.objects.select_related("expert__user").filter(pk=message_id).first()
    if message is None or message.notified_at is not None:
        return
    user = message.expert.user
    if user is None or not user.email:
        logger.warning("Contact message %s: expert %s has no email", message_id, message.expert_id)
        return
    with transaction.atomic():
        if not services.claim_notification(message_id):
            return
        with translation.override(user.language or settings.LANGUAGE_CODE):
            subject = render_to_string("contact/email/new_message_subject.txt", {"message": message}).strip()
            body = render_to_string("contact/email/new_message.txt", {"message": message, "base_url": settings.WAGTAILADMIN_BASE_URL})
        # Sent inside the claim's transaction: if sending fails, the claim
        # rolls back and the task's retry sends it.
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email], fail_silently=False)
