"""System checks: a Stripe configuration that cannot work is said at startup, not at the first payment."""

from django.core import checks

from modules.payments_stripe import conf


@checks.register(checks.Tags.compatibility)
def stripe_settings(app_configs=None, **kwargs):
    problems = []
    secret, publishable = conf.secret_key(), conf.publishable_key()
    if bool(secret) != bool(publishable):
        problems.append(checks.Warning(
            "Only one of STRIPE_SECRET_KEY and STRIPE_PUBLISHABLE_KEY is set: card payments are not offered.",
            hint="Copy both from the Stripe Dashboard, Developers > API keys.", id="payments_stripe.W001",
        ))
    if secret and not secret.startswith(("sk_", "rk_")):
        problems.append(checks.Error(
            "STRIPE_SECRET_KEY does not look like a Stripe secret key (sk_... or rk_...).",
            hint="The publishable key (pk_...) goes in STRIPE_PUBLISHABLE_KEY.", id="payments_stripe.E001",
        ))
    if publishable and not publishable.startswith("pk_"):
        problems.append(checks.Error(
            "STRIPE_PUBLISHABLE_KEY does not look like a Stripe publishable key (pk_...).",
            hint="Never put the secret key in STRIPE_PUBLISHABLE_KEY: it is sent to browsers.",
            id="payments_stripe.E002",
        ))
    if secret and publishable and conf.mode(secret) and conf.mode(publishable) \
            and conf.mode(secret) != conf.mode(publishable):
        problems.append(checks.Error(
            "STRIPE_SECRET_KEY and STRIPE_PUBLISHABLE_KEY are of different modes (test and live).",
            hint="Use both test keys or both live keys.", id="payments_stripe.E003",
        ))
    if conf.configured() and not conf.webhook_secret():
        problems.append(checks.Warning(
            "STRIPE_WEBHOOK_SECRET is not set: Stripe's notifications are refused (503) until it is.",
            hint="Add the endpoint https://<host>/payments/webhooks/stripe/ in the Stripe Dashboard "
                 "and copy its signing secret (whsec_...).",
            id="payments_stripe.W002",
        ))
    return problems
