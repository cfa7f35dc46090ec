"""PayPal settings, read at the moment they are needed (tests and deployments change them).

Kept apart from ``client`` so that deciding whether PayPal is offered does
not import the SDK (it takes about a second to import).
"""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

#: PAYPAL_ENVIRONMENT values, and the SDK environment each one means.
ENVIRONMENTS = {"sandbox": "SANDBOX", "live": "PRODUCTION"}


def client_id() -> str:
    return (getattr(settings, "PAYPAL_CLIENT_ID", "") or "").strip()


def client_secret() -> str:
    return (getattr(settings, "PAYPAL_CLIENT_SECRET", "") or "").strip()


def webhook_id() -> str:
    return (getattr(settings, "PAYPAL_WEBHOOK_ID", "") or "").strip()


def environment() -> str:
    """"sandbox" or "live"."""
    value = (getattr(settings, "PAYPAL_ENVIRONMENT", "") or "sandbox").strip().lower()
    if value not in ENVIRONMENTS:
        raise ImproperlyConfigured(f"PAYPAL_ENVIRONMENT must be 'sandbox' or 'live', not {value!r}")
    return value


def configured() -> bool:
    """Both halves of the REST app's credentials are set."""
    return bool(client_id() and client_secret())
