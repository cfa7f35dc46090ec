"""The expert's calendar feed in the admin: its address on the dashboard (copy, subscribe,
"new address") and the view behind "new address".

Kept apart from ``wagtail_hooks.py``, which only registers the panel and the URL."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext
from django.views.decorators.http import require_POST
from django.views.defaults import permission_denied
from wagtail.admin.ui.components import Component

from modules.booking import notifications, services


def feed_expert(request):
    """The expert whose feed this admin user manages: themselves, on a site where booking is
    on; None for anyone else (an administrator who is not an expert has no feed)."""
    from site_core.access.admin import admin_site
    from site_core.modules import is_enabled

    expert = getattr(request.user, "expert", None) if request.user.is_authenticated else None
    if expert is None or not is_enabled("booking", admin_site(request)):
        return None
    return expert


def feed_path(expert) -> str:
    """The path of the expert's current feed, without a language prefix: one address whatever
    the admin's language (the feed speaks the expert's own)."""
    token = notifications.feed_token(expert, services.calendar_feed_key(expert))
    with translation.override(settings.LANGUAGE_CODE):
        return reverse("booking:feed", args=[token])


class CalendarFeedPanel(Component):
    """Dashboard panel: the expert's private calendar address (an iCal feed their calendar
    app subscribes to), a copy button, a webcal:// subscribe link, and "new address", which
    retires the old address at once.

    Wagtail renders a component with a plain dict: ``request`` and ``csrf_token`` are taken
    from the page's context (``parent_context``), as Wagtail's own panels do, or the form's
    ``{% csrf_token %}`` would be empty."""

    name = "cabinet_booking_calendar_feed"
    order = 60
    template_name = "booking/admin/calendar_feed_panel.html"

    class Media:
        js = ["booking/calendar_feed.js"]

    def __init__(self, expert, request):
        self.expert = expert
        self.request = request

    def get_context_data(self, parent_context=None):
        context = super().get_context_data(parent_context) or {}
        parent = parent_context or {}
        request = parent.get("request", self.request)
        url = request.build_absolute_uri(feed_path(self.expert))
        context.update(request=request, csrf_token=parent.get("csrf_token"), feed_url=url,
                       webcal_url="webcal://" + url.split("://", 1)[1],
                       new_feed_url=reverse("booking_new_calendar_feed"))
        return context


@require_POST
def new_feed_view(request):
    """"New address" for the signed-in expert's own calendar feed (never anyone else's: it
    takes no expert from the request). The old address answers 404 from now on."""
    expert = feed_expert(request)
    if expert is None:
        # A plain 403 (Wagtail would turn PermissionDenied into a redirect home).
        return permission_denied(request, PermissionDenied())
    services.new_calendar_feed_address(expert)
    messages.success(request, gettext("Your calendar has a new address; the old one no longer works. "
                                      "Subscribe to the new one in your calendar app."))
    return redirect("wagtailadmin_home")
