"""The outbox's worker entry points (django-q2)."""

from site_core.events import outbox


def deliver_event(event_id):
    """Nudged on commit of the transaction that recorded the event."""
    return outbox.deliver_event(event_id)


def sweep():
    """Every minute: retries that are due, and what a lost nudge or a killed worker left."""
    return outbox.sweep()
