"""Stripe settings, read at the moment they are needed (tests and deployments change them).

Kept apart from ``client`` so that deciding whether Stripe is offered does
not import the SDK.
"""

from django.conf import settings


def _setting(name) -> str:
    return (getattr(settings, name, "") or "").strip()


def secret_key() -> str:
    """The server-side key: ``sk_test_...``/``sk_live_...`` (or a restricted ``rk_...`` key)."""
    return _setting("STRIPE_SECRET_KEY")


def publishable_key() -> str:
    """The browser's key for Stripe.js: ``pk_test_...``/``pk_live_...``."""
    return _setting("STRIPE_PUBLISHABLE_KEY")


def webhook_secret() -> str:
    """The signing secret of the webhook endpoint: ``whsec_...``."""
    return _setting("STRIPE_WEBHOOK_SECRET")


def mode(key: str) -> str:
    """"test", "live" or "" (not a key whose mode can be read)."""
    for marker in ("test", "live"):
        if f"_{marker}_" in key:
            return marker
    return ""


def configured() -> bool:
    """Both keys are set: the server can create PaymentIntents and the browser can confirm them."""
    return bool(secret_key() and publishable_key())
