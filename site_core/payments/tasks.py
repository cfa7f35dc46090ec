"""Background work of the payments kernel (django-q2). Tasks are idempotent."""

import logging
from datetime import timedelta

from django.utils import timezone

from site_core.payments.models import Payment, Refund
from site_core.payments.providers import ProviderError
from site_core.payments.registry import UnknownProvider, get_provider

logger = logging.getLogger(__name__)


def sweep_pending_payments(older_than_minutes=2, max_age_hours=48):
    """Re-reads payments still pending at their gateway: the third path to confirm,
    for a client who closed the tab and a webhook that never came."""
    now = timezone.now()
    stale = Payment.objects.filter(
        state__in=[Payment.State.CREATED, Payment.State.PENDING],
        created_at__lt=now - timedelta(minutes=older_than_minutes),
        created_at__gt=now - timedelta(hours=max_age_hours),
    ).exclude(reference="")
    checked = 0
    for payment in stale.iterator():
        try:
            get_provider(payment.provider, any_site=True).refresh(payment)
            checked += 1
        except (ProviderError, UnknownProvider) as exc:
            logger.warning("Sweeper could not refresh payment %s: %s", payment.pk, exc)
    return checked


def retry_pending_refunds(older_than_minutes=5, max_age_hours=48):
    """Sends again the refunds a gateway did not answer about (left requested), each with its
    own idempotency key, so the gateway makes each of them once."""
    from site_core.payments import services

    now = timezone.now()
    waiting = Refund.objects.filter(
        state=Refund.State.CREATED,
        created_at__lt=now - timedelta(minutes=older_than_minutes),
        created_at__gt=now - timedelta(hours=max_age_hours),
    )
    done = 0
    for row in waiting.iterator():
        try:
            if services.retry_refund(row).state == Refund.State.DONE:
                done += 1
        except (services.PaymentRefused, UnknownProvider) as exc:
            logger.warning("Refund %s not sent again now: %s", row.pk, exc)
    return done
