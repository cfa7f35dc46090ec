"""The outbox (site_core/events/outbox.py): an event is written with its change, and each
receiver gets it on its own until it has handled it once."""

import os
import subprocess
import sys
import threading
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.utils import timezone

from site_core import events
from site_core.events import outbox
from site_core.events.models import Delivery, Event

pytestmark = pytest.mark.django_db

NOTICE = events.EventType("test_notice", payload=("number",), sender="tests", doc="A fact for these tests.")


def send(site=None, number=1):
    return NOTICE.send(site=site, number=number)


def test_an_event_and_its_deliveries_are_written_with_the_change(listen, django_capture_on_commit_callbacks):
    received = listen(NOTICE)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        with transaction.atomic():
            Group.objects.create(name="the change")
            event = send(number=7)
            # Written, not delivered: nothing is handed out before the change commits.
            assert Event.objects.filter(pk=event.pk, name="test_notice", payload={"number": 7}).exists()
            assert Delivery.objects.filter(event=event, state=Delivery.State.PENDING).count() == 1
            assert received == []
    assert len(callbacks) == 1
    callbacks[0]()
    assert [(r["number"], r["event_id"], r["site_id"]) for r in received] == [(7, event.pk, None)]
    assert received[0]["occurred_at"] == event.occurred_at
    assert Delivery.objects.get(event=event).state == Delivery.State.DONE


def test_a_rolled_back_change_leaves_nothing_to_deliver(listen, django_capture_on_commit_callbacks):
    received = listen(NOTICE)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            send()
            raise RuntimeError("the change failed")
    assert callbacks == [] and received == []
    assert not Event.objects.exists() and not Delivery.objects.exists()
    assert outbox.sweep() == {}


@pytest.mark.parametrize("payload, message", [
    ({}, "missing ['number']"),
    ({"number": 1, "colour": "red"}, "unknown ['colour']"),
])
def test_a_payload_must_be_the_declared_one(payload, message):
    with pytest.raises(TypeError, match=message.replace("[", r"\[").replace("]", r"\]")):
        NOTICE.send(site=None, **payload)
    assert not Event.objects.exists()


def test_a_payload_is_plain_data_not_rows(practice):
    with pytest.raises(TypeError, match="pass Site's id"):
        NOTICE.send(site=None, number=practice.site)
    assert not Event.objects.exists()


def test_a_declaration_may_not_take_the_envelopes_names():
    with pytest.raises(ValueError, match="site_id"):
        events.EventType("test_bad", payload=("site_id",), sender="tests")


def test_a_raising_receiver_does_not_stop_the_others_and_its_effects_roll_back(
        listen, django_capture_on_commit_callbacks):
    def half_done_then_fail(kwargs):
        Group.objects.create(name="written by the failing receiver")
        raise RuntimeError("the receiver broke")

    listen(NOTICE, fail=half_done_then_fail)
    good = listen(NOTICE)
    with django_capture_on_commit_callbacks(execute=True):
        event = send()
    assert len(good) == 1
    failed, done = Delivery.objects.filter(event=event).order_by("pk")
    assert done.state == Delivery.State.DONE and done.attempts == 1
    assert failed.state == Delivery.State.PENDING and failed.attempts == 1
    assert "the receiver broke" in failed.last_error
    assert failed.next_attempt_at > timezone.now() + timedelta(seconds=25)
    assert not Group.objects.filter(name="written by the failing receiver").exists()


def test_a_failed_receiver_is_retried_and_succeeds_once(listen, django_capture_on_commit_callbacks, monkeypatch):
    calls = []

    def fail_first(kwargs):
        calls.append(kwargs["event_id"])
        if len(calls) == 1:
            raise RuntimeError("not yet")

    received = listen(NOTICE, fail=fail_first)
    with django_capture_on_commit_callbacks(execute=True):
        event = send()
    assert received == [] and outbox.sweep() == {}  # not due yet
    later = timezone.now() + outbox.backoff(1) + timedelta(seconds=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert outbox.sweep() == {"done": 1}
    assert outbox.sweep() == {}  # once
    assert [r["event_id"] for r in received] == [event.pk] and calls == [event.pk, event.pk]
    delivery = Delivery.objects.get(event=event)
    assert delivery.state == Delivery.State.DONE and delivery.attempts == 2 and delivery.last_error == ""


def test_after_the_last_attempt_it_waits_for_retry(listen, django_capture_on_commit_callbacks, monkeypatch):
    broken = {"on": True}

    def maybe_fail(kwargs):
        if broken["on"]:
            raise RuntimeError("down")

    received = listen(NOTICE, fail=maybe_fail)
    with django_capture_on_commit_callbacks(execute=True):
        event = send()
    clock = {"now": timezone.now()}
    monkeypatch.setattr(timezone, "now", lambda: clock["now"])
    for _ in range(outbox.MAX_ATTEMPTS):
        clock["now"] += timedelta(hours=7)
        outbox.sweep()
    delivery = Delivery.objects.get(event=event)
    assert delivery.state == Delivery.State.FAILED and delivery.attempts == outbox.MAX_ATTEMPTS
    clock["now"] += timedelta(days=1)
    assert outbox.sweep() == {}  # no more attempts on its own
    broken["on"] = False
    with django_capture_on_commit_callbacks(execute=True):
        assert outbox.retry(delivery) is True
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.DONE and len(received) == 1
    assert outbox.retry(delivery) is False  # delivered: nothing to retry


def test_backoff_grows_and_is_capped():
    assert [outbox.backoff(n).total_seconds() for n in (1, 2, 3)] == [30, 60, 120]
    assert outbox.backoff(30) == timedelta(hours=6)


def test_a_receiver_of_a_module_off_for_the_site_is_not_called(practice, listen, django_capture_on_commit_callbacks):
    from site_core.practice.models import PracticeSettings

    settings_row = PracticeSettings.for_site(practice.site)
    settings_row.enabled_modules = [label for label in ("contact",)]
    settings_row.save()
    kernel = listen(events.order_paid)
    with django_capture_on_commit_callbacks(execute=True):
        event = events.order_paid.send(site=practice.site, order_id=1, purpose="other", paid_type="", paid_id="",
                                       total=0, currency="EUR")
    receivers = set(Delivery.objects.filter(event=event).values_list("receiver", flat=True))
    assert "modules.booking.receivers.confirm_paid_booking" not in receivers
    assert len(kernel) == 1
    # Where the booking is on, its receiver listens.
    settings_row.enabled_modules = None
    settings_row.save()
    event = events.order_paid.send(site=practice.site, order_id=1, purpose="other", paid_type="", paid_id="",
                                   total=0, currency="EUR")
    assert Delivery.objects.filter(event=event, receiver="modules.booking.receivers.confirm_paid_booking").exists()


def test_a_delivery_whose_receiver_is_gone_is_recorded_as_failing(django_capture_on_commit_callbacks):
    event = send()
    delivery = Delivery.objects.create(event=event, receiver="modules.gone.receivers.handler")
    assert outbox.deliver(delivery.pk) == Delivery.State.PENDING
    delivery.refresh_from_db()
    assert "no receiver modules.gone.receivers.handler" in delivery.last_error


# --- Several workers, and a worker that dies (PostgreSQL, real transactions) ---------------

@pytest.fixture
def no_nudge(monkeypatch):
    """Deliveries wait for a worker: the on-commit nudge does nothing (the sweep delivers)."""
    monkeypatch.setattr(outbox, "nudge", lambda event_id: None)


@pytest.mark.django_db(transaction=True)
def test_two_workers_deliver_once(require_postgres, no_nudge, listen):
    """Worker A is inside the receiver; worker B sweeps meanwhile: B skips the locked row,
    and once A has committed there is nothing left to do."""
    inside, release = threading.Event(), threading.Event()

    def slow(kwargs):
        inside.set()
        assert release.wait(10)

    received = listen(NOTICE, fail=slow)
    with transaction.atomic():
        event = send()
    delivery = Delivery.objects.get(event=event)
    results = {}

    def worker_a():
        try:
            results["a"] = outbox.deliver(delivery.pk)
        finally:
            connection.close()

    thread = threading.Thread(target=worker_a)
    thread.start()
    assert inside.wait(10)
    results["b"] = outbox.sweep()
    release.set()
    thread.join(10)
    assert results == {"a": "done", "b": {}}
    assert outbox.sweep() == {}
    assert len(received) == 1 and Delivery.objects.get(pk=delivery.pk).attempts == 1


KILLER = """
import os, sys
sys.path.insert(0, sys.argv[2])
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "site_core.settings.test")
django.setup()
from tests.site_core import outbox_victim
from site_core.events import outbox
outbox.deliver(int(sys.argv[1]))
"""


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_during_delivery_leaves_it_to_the_next(require_postgres, no_nudge, tmp_path):
    """A real process dies inside the receiver, after the receiver wrote: its transaction is
    gone with it, the delivery stays due, and the next worker delivers it once."""
    from tests.site_core import outbox_victim

    event = outbox_victim.VICTIM.send(site=None, label="killed")
    delivery = Delivery.objects.get(event=event)
    database = connection.settings_dict
    env = {**os.environ, "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT'] or 5432}/"
                                         f"{database['NAME']}", outbox_victim.DIE: "1"}
    script = tmp_path / "worker.py"
    script.write_text(KILLER)
    finished = subprocess.run([sys.executable, str(script), str(delivery.pk), str(settings.BASE_DIR)], env=env,
                              cwd=str(settings.BASE_DIR),
                              capture_output=True, timeout=120)
    assert finished.returncode == 137, finished.stderr.decode()[-2000:]
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.PENDING and delivery.attempts == 0
    assert not Group.objects.filter(name="victim: killed").exists()
    assert outbox.sweep() == {"done": 1}
    assert outbox.sweep() == {}
    assert Group.objects.filter(name="victim: killed").count() == 1
