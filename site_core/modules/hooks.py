"""Every Cabinet hook name, once, with what it takes, returns and who calls it.

Modules register with ``@hooks.register(site_core.modules.hooks.NAME)`` (Wagtail's
registry, shared with Wagtail's own hooks: ours are prefixed ``cabinet_``).
Callers use :func:`get_hooks` or :func:`all_hooks` below, never
``wagtail.hooks.get_hooks`` directly (tests/site_core/test_import_rules.py
fails on one):

- ``get_hooks(name, site)`` at run time: the implementations of the modules
  that are on for ``site``. The site may be left out only while a request is
  being served (it is then the request's); outside a request, leaving it out
  raises :class:`NoSiteForHooks` rather than silently calling every module.
- ``all_hooks(name)`` at build time, for callers that must know every
  implementation whatever the site: URL and WebSocket routing, API routers,
  permissions granted install-wide, the payment registry's list of all
  providers. Each such caller checks the module per request itself.

Naming (Wagtail's convention): ``register_*`` returns items, ``construct_*``
changes a list in place, ``before_*`` may return a response that
short-circuits.
"""

from wagtail import hooks as wagtail_hooks

from site_core.modules import enabled_labels, module_for_object

REGISTER_EXPERT_PAGE_SECTIONS = "cabinet_register_expert_page_sections"
"""Sections of an expert's public page.

Called by ``ExpertPage.get_context`` as ``fn(page, request)`` for each
registered function, in hook order. Returns a :class:`site_core.pages.sections.PageSection`,
a list of them, or None (nothing to show for this page). Sections are then
sorted by their ``order``. A section must not run queries that grow with the
number of experts; it may read ``page`` and the request.
"""

CONSTRUCT_EXPERT_CARD = "cabinet_construct_expert_card"
"""Extra lines on an expert's card in the expert index.

Called by ``ExpertIndexPage.get_context`` once per request as
``fn(experts, cards, request)``: ``experts`` is the list of ExpertPage shown,
``cards`` a dict ``{page.pk: list of short strings}`` to append to in place.
Implementations must fetch what they need for all experts in one query.
"""

REGISTER_WEBSOCKET_ROUTES = "cabinet_register_websocket_routes"
"""WebSocket URL routes of a module.

Called once when the ASGI application is built, as ``fn()``; returns a list
of ``django.urls.path``/``re_path`` entries routed to Channels consumers.
Consumers check themselves that their module is on for the connection's site
(``site_core.asgi.site_for_scope``).
"""

REGISTER_SESSION_ROOM_URL = "cabinet_register_session_room_url"
"""Where a booked consultation is held: the live session room of one appointment.

Called by the booking module whenever it shows or sends an appointment's link
(the reservation page, the emails and reminders to both sides, the ``.ics``
event), as ``fn(appointment)``; returns the room's URL path (``/...``) or
None. The first answer that is not None, in hook order, wins; with none, the
reservation page is the link and no "join" link is shown.
"""

REGISTER_DEMO_DATA = "cabinet_register_demo_data"
"""Demo content of a module for ``manage.py seed_demo``.

Called after the kernel's demo practice exists, as ``fn(demo)`` where
``demo`` is a :class:`site_core.demo.DemoPractice` (site, admin, experts,
client, stdout). Must be idempotent: running seed_demo twice changes nothing.
"""


class NoSiteForHooks(RuntimeError):
    """``get_hooks`` was called without a site outside a request."""


def all_hooks(name):
    """Every function registered for ``name``, whichever modules are on: build-time callers only."""
    return list(wagtail_hooks.get_hooks(name))


def get_hooks(name, site=None):
    """The functions registered for ``name`` whose module is on for ``site``.

    Without a site, the site of the request being served is used; outside a
    request that is an error (:class:`NoSiteForHooks`): a task, a command or
    a signal handler knows which practice it works for and must say so.
    A request for a host that no practice serves (and no default site) has
    no module on: only kernel functions. Kernel functions (not in a module)
    are always returned.
    """
    if site is None:
        from site_core.base.context import current_site, get_current_request

        if get_current_request() is None:
            raise NoSiteForHooks(
                f"get_hooks({name!r}) needs a site outside a request; use all_hooks() for build-time callers"
            )
        site = current_site()
    fns = wagtail_hooks.get_hooks(name)
    on = enabled_labels(site) if site is not None else frozenset()
    result = []
    for fn in fns:
        module = module_for_object(fn)
        if module is None or module.label in on:
            result.append(fn)
    return result


REGISTER_EXPERT_PERMISSIONS = "cabinet_register_expert_permissions"
"""Model permissions every expert gets, so they can use a module's admin views.

Called by ``site_core.access.services.experts_group()`` as ``fn()``; returns a list
of ``"app_label.codename"`` strings. The module's admin views must still
limit their querysets to the expert's own rows.
"""

REGISTER_PORTAL_PANELS = "cabinet_register_portal_panels"
"""Panels of a client's portal (history, receipts, upcoming sessions, ...).

Called by the accounts module's portal view as ``fn(request)``; returns a
:class:`site_core.pages.sections.PageSection` or a list of them, or None. Sorted by
``order``.
"""


REGISTER_PAYMENT_PROVIDERS = "cabinet_register_payment_providers"
"""Payment providers of a module.

Called by ``site_core.payments.registry`` as ``fn()``; returns a list of
:class:`site_core.payments.providers.PaymentProvider` instances. A provider
that is not configured says so in ``is_available()`` and is not offered.
Checkout offers them in hook order.
"""

REGISTER_PAYMENT_PURPOSES = "cabinet_register_payment_purposes"
"""What orders pay for, with labels: ``fn()`` returns ``{"booking": _("Consultation")}``.

Used to show an order's purpose in the admin, receipts and emails.
"""

REGISTER_API_ROUTERS = "cabinet_register_api_routers"
"""A module's part of the JSON API under ``/api/v1/`` (django-ninja).

Called once when ``site_core.api`` builds the API, as ``fn()``; returns
``(prefix, ninja.Router)``. Every endpoint must call
``site_core.api.require_module(request, label)`` so that it answers 404 on a
site where its module is off.
"""
