"""The transactional outbox: an event is a row written with the change it reports, and each
of its receivers is handed it on its own, until it has handled it once.

- ``EventType.send(site=..., **payload)`` writes an :class:`~site_core.events.models.Event`
  and one :class:`~site_core.events.models.Delivery` per receiver that listens where its
  module is on for the event's practice, in the caller's transaction; on commit it nudges a
  worker (a django-q2 task). A rolled-back transaction leaves nothing to deliver.
- :func:`deliver` runs one receiver inside a transaction that also holds the delivery's row
  (locked, ``SKIP LOCKED`` on PostgreSQL): the receiver's database effects and "done" commit
  together, so they happen once. A receiver that raises has its effects rolled back, its
  error recorded, and is tried again later (:func:`backoff`); one receiver's failure never
  touches another's delivery, nor the change the event reports.
- :func:`sweep` (every minute) delivers what is due: retries, and what a worker killed
  mid-delivery or a lost nudge left behind.

Receivers take keyword arguments: the event's declared payload, plus ``event_id``,
``site_id`` and ``occurred_at`` (an aware datetime). What a receiver does outside the
database (an email, a gateway call) must carry its own idempotency key, for it may run again
after a failure: at least once, never twice at the far end. ``event_id`` is there for that.
"""

from __future__ import annotations

import json
import logging
import traceback
from datetime import datetime, timedelta

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.utils import timezone

from site_core.events.models import Delivery, Event
from site_core.modules import is_enabled, module_for_object

logger = logging.getLogger(__name__)

#: After this many failed attempts a delivery waits for "retry" in the admin.
MAX_ATTEMPTS = 8
#: Deliveries handled per sweep (the next sweep takes the rest).
SWEEP_BATCH = 500
#: Keyword arguments every receiver gets besides the payload.
ENVELOPE = ("event_id", "site_id", "occurred_at")

_types: dict[str, EventType] = {}
_receivers: dict[str, dict[str, object]] = {}


def backoff(attempts: int) -> timedelta:
    """The wait before attempt ``attempts + 1``: 30 s, 1 min, 2 min... at most 6 h."""
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 6 * 3600))


class PlainData(DjangoJSONEncoder):
    """JSON of plain data only: a model instance in a payload is an error, not its str()."""

    def default(self, o):
        if isinstance(o, models.Model):
            raise TypeError(f"an event's payload is plain data: pass {type(o).__name__}'s id, not the row")
        return super().default(o)


def receiver_path(fn) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


class EventType:
    """A kind of fact, declared once in ``site_core/events/__init__.py``.

    ``payload`` names the fields every such event carries (``send`` refuses one more or one
    less); ``sender`` says who sends it; the docstring what it means.
    """

    def __init__(self, name: str, *, payload: tuple[str, ...], sender: str, doc: str = ""):
        clash = set(payload) & set(ENVELOPE)
        if clash:
            raise ValueError(f"{name}: {sorted(clash)} are given to every receiver already")
        self.name = name
        self.payload = tuple(payload)
        self.sender = sender
        self.__doc__ = doc
        _types[name] = self

    def __repr__(self):
        return f"<EventType {self.name}>"

    # --- receivers ---------------------------------------------------------------------
    def receiver(self, fn):
        """Decorator: ``fn`` handles this event (import its module in AppConfig.ready())."""
        _receivers.setdefault(self.name, {})[receiver_path(fn)] = fn
        return fn

    def disconnect(self, fn) -> None:
        _receivers.get(self.name, {}).pop(receiver_path(fn), None)

    def receivers(self) -> dict[str, object]:
        """{dotted path: function} of every receiver, whatever the site."""
        return dict(_receivers.get(self.name, {}))

    # --- sending -----------------------------------------------------------------------
    def send(self, *, site, occurred_at: datetime | None = None, **payload) -> Event:
        """Record this event in the current transaction; it is delivered after commit.

        ``site``: the practice (a Site or its id; None for an install-wide fact)."""
        given, declared = set(payload), set(self.payload)
        if given != declared:
            raise TypeError(
                f"{self.name} carries {sorted(declared)}; missing {sorted(declared - given)}, "
                f"unknown {sorted(given - declared)}"
            )
        data = json.loads(json.dumps(payload, cls=PlainData))
        site_id = getattr(site, "pk", site)
        site_row = site if hasattr(site, "pk") else None
        if site_id is not None and site_row is None:
            from wagtail.models import Site

            site_row = Site.objects.filter(pk=site_id).first()
        now = timezone.now()
        with transaction.atomic():
            event = Event.objects.create(name=self.name, site_id=site_id, payload=data,
                                         occurred_at=occurred_at or now, created_at=now)
            paths = [path for path, fn in self.receivers().items() if _listens(fn, site_row)]
            Delivery.objects.bulk_create([Delivery(event=event, receiver=path, next_attempt_at=now)
                                          for path in paths])
        if paths:
            event_id = event.pk
            transaction.on_commit(lambda: nudge(event_id), robust=True)
        return event


def _listens(fn, site) -> bool:
    """A module's receiver listens only where the module is on (the kernel's: everywhere)."""
    module = module_for_object(fn)
    return module is None or is_enabled(module.label, site)


def event_types() -> dict[str, EventType]:
    return dict(_types)


def nudge(event_id: int) -> None:
    """Ask a worker to deliver the event now (the sweep would, a minute later)."""
    from django_q.tasks import async_task

    async_task("site_core.events.tasks.deliver_event", event_id)


# --- delivering ----------------------------------------------------------------------------

def _arguments(event: Event) -> dict:
    return {**event.payload, "event_id": event.pk, "site_id": event.site_id, "occurred_at": event.occurred_at}


def deliver(delivery_id: int) -> str | None:
    """Hand one delivery to its receiver, if it is due and no other worker holds it.

    Returns the delivery's new state, or None when there was nothing to do (done already,
    not due yet, or being delivered by another worker)."""
    now = timezone.now()
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("event")
            .filter(pk=delivery_id, state=Delivery.State.PENDING, next_attempt_at__lte=now)
            .first()
        )
        if delivery is None:
            return None
        event = delivery.event
        fn = _receivers.get(event.name, {}).get(delivery.receiver)
        delivery.attempts += 1
        try:
            if fn is None:
                raise LookupError(f"no receiver {delivery.receiver} for {event.name} in this process")
            with transaction.atomic():
                fn(**_arguments(event))
        except Exception:
            logger.exception("Receiver %s failed on %s #%s (attempt %s)", delivery.receiver, event.name,
                             event.pk, delivery.attempts)
            delivery.last_error = traceback.format_exc()[-4000:]
            if delivery.attempts >= MAX_ATTEMPTS:
                delivery.state = Delivery.State.FAILED
            else:
                delivery.next_attempt_at = now + backoff(delivery.attempts)
        else:
            delivery.state = Delivery.State.DONE
            delivery.done_at = timezone.now()
            delivery.last_error = ""
        delivery.save(update_fields=["state", "attempts", "next_attempt_at", "last_error", "done_at"])
        return delivery.state


def deliver_event(event_id: int) -> dict[str, int]:
    """Deliver every due delivery of one event, each on its own. {state: count}."""
    ids = list(Delivery.objects.filter(event_id=event_id, state=Delivery.State.PENDING,
                                       next_attempt_at__lte=timezone.now()).order_by("pk").values_list("pk", flat=True))
    return _deliver_all(ids)


def sweep() -> dict[str, int]:
    """Deliver what is due, oldest first: retries, and anything a lost nudge or a killed worker left."""
    ids = list(Delivery.objects.filter(state=Delivery.State.PENDING, next_attempt_at__lte=timezone.now())
               .order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:SWEEP_BATCH])
    return _deliver_all(ids)


def _deliver_all(ids) -> dict[str, int]:
    counts: dict[str, int] = {}
    for pk in ids:
        state = deliver(pk)
        if state is not None:
            counts[state] = counts.get(state, 0) + 1
    return counts


@transaction.atomic
def retry(delivery: Delivery) -> bool:
    """An administrator's "retry": the delivery is tried again now, with a full series of
    attempts. False if it was delivered meanwhile."""
    updated = Delivery.objects.filter(pk=delivery.pk).exclude(state=Delivery.State.DONE).update(
        state=Delivery.State.PENDING, attempts=0, next_attempt_at=timezone.now()
    )
    if updated:
        event_id = delivery.event_id
        transaction.on_commit(lambda: nudge(event_id), robust=True)
    return bool(updated)
