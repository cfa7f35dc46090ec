"""System checks: a PayPal configuration that cannot work is said at startup, not at the first payment."""

from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from modules.payments_paypal import conf


@checks.register(checks.Tags.compatibility)
def paypal_settings(app_configs=None, **kwargs):
    problems = []
    try:
        conf.environment()
    except ImproperlyConfigured as exc:
        problems.append(checks.Error(str(exc), hint="Set PAYPAL_ENVIRONMENT to sandbox or live.",
                                     id="payments_paypal.E001"))
    if bool(conf.client_id()) != bool(conf.client_secret()):
        problems.append(checks.Warning(
            "Only one of PAYPAL_CLIENT_ID and PAYPAL_CLIENT_SECRET is set: PayPal is not offered.",
            hint="Copy both from your REST app at developer.paypal.com.", id="payments_paypal.W001",
        ))
    if conf.configured() and not conf.webhook_id():
        problems.append(checks.Warning(
            "PAYPAL_WEBHOOK_ID is not set: PayPal's notifications are refused (503) until it is.",
            hint="Add the webhook https://<host>/payments/webhooks/paypal/ to the REST app and copy its id.",
            id="payments_paypal.W002",
        ))
    return problems
