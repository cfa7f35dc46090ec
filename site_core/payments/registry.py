"""Which payment providers and purposes exist, per site."""

from django.utils.translation import gettext_lazy as _

from site_core.modules.hooks import (
    REGISTER_PAYMENT_PROVIDERS,
    REGISTER_PAYMENT_PURPOSES,
    all_hooks,
    get_hooks,
)


class UnknownProvider(LookupError):
    pass


def providers(site=None):
    """Every provider registered by a module that is on for ``site`` and configured."""
    result = []
    for fn in get_hooks(REGISTER_PAYMENT_PROVIDERS, site):
        for provider in fn() or []:
            if provider.is_available():
                result.append(provider)
    return result


def all_providers():
    """Every registered provider, configured or not, whatever the site (webhooks, admin)."""
    return [provider for fn in all_hooks(REGISTER_PAYMENT_PROVIDERS) for provider in fn() or []]


def get_provider(identifier, site=None, *, any_site=False):
    candidates = all_providers() if any_site else providers(site)
    for provider in candidates:
        if provider.identifier == identifier:
            return provider
    raise UnknownProvider(identifier)


def purpose_label(purpose):
    labels = {"other": _("Payment")}
    for fn in all_hooks(REGISTER_PAYMENT_PURPOSES):
        labels.update(fn())
    return labels.get(purpose, purpose)
