"""A receiver whose worker dies inside it (tests/site_core/test_outbox.py): imported by the
test and by the worker process it kills."""

import os

from django.contrib.auth.models import Group

from site_core.events.outbox import EventType

#: Set in the worker's environment: the receiver writes, then the process dies at once.
DIE = "CABINET_TEST_DIE_IN_RECEIVER"

VICTIM = EventType("test_victim", payload=("label",), sender="tests", doc="A fact whose worker dies.")


@VICTIM.receiver
def write_then_maybe_die(*, label, **_):
    Group.objects.create(name=f"victim: {label}")
    if os.environ.get(DIE):
        os._exit(137)
