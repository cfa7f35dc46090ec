"""Text messages, through a backend chosen by the SMS_BACKEND setting.

The default backend writes each message to the log (the console in
development), so nothing needs an account with an SMS provider. A real
provider is a class with ``send(to, body)`` that raises on failure; name it
in SMS_BACKEND (dotted path).
"""

import logging

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger("cabinet.sms")


class ConsoleBackend:
    """Writes messages to the log instead of sending them."""

    def send(self, to, body):
        logger.warning("SMS to %s: %s", to, body)


class LocmemBackend:
    """Keeps messages in ``outbox`` (tests)."""

    outbox = []

    def send(self, to, body):
        type(self).outbox.append((to, body))


def send_sms(to, body):
    """Sends ``body`` to the E.164 number ``to``; does nothing without a number."""
    if not to:
        return False
    backend = import_string(getattr(settings, "SMS_BACKEND", "site_core.base.sms.ConsoleBackend"))()
    backend.send(to, body[:640])
    return True
