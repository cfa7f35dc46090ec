"""How often a visitor may repeat what costs the practice something: booking steps, promo-code
checks, the contact form (issue 13, item 3).

Each limit is counted twice, per address (``site_core.base.net.client_ip``, so behind
``CABINET_PROXY_COUNT`` proxies the client's own address) and per signed-in account, by
django-ratelimit's fixed-window counters in the default cache: Redis when ``REDIS_URL`` is
set, so every worker process counts together. A request over either limit is refused before
it does anything: ``429`` with ``Retry-After`` (the seconds until the window ends) and a
message in the visitor's language; in the API, ``{"detail", "code": "rate_limited"}``.

Limits are ``"count/period"`` (django-ratelimit's syntax: ``s``, ``m``, ``h``, ``d``, with an
optional number, e.g. ``"20/10m"``); ``CABINET_RATE_LIMITS`` in the settings overrides them by
group, e.g. ``{"contact": {"address": "3/h", "account": "3/h"}}``. The contact form counts
only messages that would be sent (bad input costs nothing).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.utils.translation import ngettext
from django_ratelimit.core import get_usage

from site_core.base.net import client_ip

#: group → {"address": rate, "account": rate}. One booking is four step POSTs.
DEFAULT_LIMITS = {
    "booking": {"address": "40/10m", "account": "30/10m"},
    "promo_code": {"address": "10/10m", "account": "10/10m"},
    "contact": {"address": "10/h", "account": "10/h"},
    # Client invitations, per administrator (site_core.access.invitations): counted by account
    # only, outside any request, so a script calling the service is held like the admin form.
    "invitation": {"address": "50/h", "account": "50/h"},
}


@dataclass
class RateLimited(Exception):
    """Over a limit: ``retry_after`` seconds until the visitor may try again."""

    group: str
    retry_after: int

    @property
    def message(self) -> str:
        minutes = max(1, math.ceil(self.retry_after / 60))
        return ngettext(
            "Too many attempts in a short time. Please try again in %(minutes)d minute.",
            "Too many attempts in a short time. Please try again in %(minutes)d minutes.",
            minutes,
        ) % {"minutes": minutes}


def limits(group: str) -> dict:
    configured = getattr(settings, "CABINET_RATE_LIMITS", {}) or {}
    return {**DEFAULT_LIMITS[group], **configured.get(group, {})}


def _address(group, request):
    return f"address:{client_ip(request)}"


def _account(group, request):
    return f"account:{request.user.pk}"


def hit(request, group: str) -> None:
    """Counts one attempt of ``group`` for this visitor; raises RateLimited once over a limit."""
    rates = limits(group)
    keys = [(_address, rates["address"])]
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        keys.append((_account, rates["account"]))
    waits = [wait for key, rate in keys if (wait := _count(request, group, key, rate))]
    if waits:
        raise RateLimited(group, max(waits))


def _count(request, group, key, rate):
    """Counts one attempt under ``key``; the seconds to wait if that was over ``rate``, else None."""
    usage = get_usage(request, group=f"cabinet.{group}", key=key, rate=rate, increment=True)
    if usage is not None and usage["should_limit"]:
        return max(1, int(usage["time_left"]))
    return None


def hit_account(group: str, user) -> None:
    """Counts one attempt of ``group`` by ``user`` where there is no request (a service's own
    limit, e.g. invitations sent by one administrator): the same fixed-window counter as the
    per-account half of ``hit``; raises RateLimited once over the limit."""
    wait = _count(None, group, lambda _group, _request: f"account:{user.pk}", limits(group)["account"])
    if wait:
        raise RateLimited(group, wait)


def limit_posts(group: str):
    """A view decorator: each POST counts one attempt of ``group``. Over the limit, the page is
    shown again as on a GET, with the message, answered ``429`` with ``Retry-After``: what was
    posted is not acted on."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if request.method == "POST":
                try:
                    hit(request, group)
                except RateLimited as refused:
                    return refusal_page(request, refused, view, *args, **kwargs)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def refusal_page(request, refused: RateLimited, view, *args, **kwargs):
    messages.error(request, refused.message)
    request.method = "GET"
    response = view(request, *args, **kwargs)
    if response.status_code in (301, 302, 303, 307, 308):
        # The view would move on (nothing to show on a GET): show the message by itself.
        from django.shortcuts import render

        response = render(request, "site_core/rate_limited.html", {"message": refused.message})
    response.status_code = 429
    response["Retry-After"] = str(refused.retry_after)
    return response


