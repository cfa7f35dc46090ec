from datetime import timedelta
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.forms import WagtailAdminModelForm
from wagtail.admin.ui.components import Component
from wagtail.admin.views.generic import InspectView
from wagtail.admin.viewsets.base import ViewSetGroup
from wagtail.admin.viewsets.model import ModelViewSet

from modules.booking import availability, services
from modules.booking.hours_views import HoursViewSet
from modules.booking.models import (
    Appointment,
    AvailabilityException,
    BookingProfile,
    Mode,
    Offering,
    Product,
)
from site_core import access
from site_core.access.admin import ModuleMenuItemMixin, ReadOnlyViewSetMixin, own_rows
from site_core.base.admin_columns import MoneyColumn
from site_core.base.money import Money
from site_core.modules import hooks as cabinet_hooks
from site_core.pages.sections import PageSection


@hooks.register(cabinet_hooks.REGISTER_PAYMENT_PURPOSES)
def booking_purpose():
    return {"booking": _("Consultation")}


def _currency(request):
    from site_core.practice.models import PracticeSettings

    return PracticeSettings.for_request(request).currency


def offering_rows(offerings, currency):
    """What each offered mode sells, as rows ready for a template."""
    rows = []
    for offering in offerings:
        products = []
        for product, price, minutes in offering.products():
            products.append({
                "product": product,
                "label": Product(product).label,
                "price": Money(price, currency),
                "free": price == 0,
                "minutes": minutes,
            })
        if products:
            rows.append({"mode": offering.mode, "label": Mode(offering.mode).label, "products": products,
                         "instant_rate": Money(offering.instant_rate, currency) if offering.instant_rate else None})
    return rows


@hooks.register(cabinet_hooks.REGISTER_EXPERT_PAGE_SECTIONS)
def consultations_section(page, request):
    if not page.expert_id:
        return None
    rows = offering_rows(Offering.objects.filter(expert_id=page.expert_id, enabled=True), _currency(request))
    if not rows:
        return None
    profile = BookingProfile.objects.filter(expert_id=page.expert_id).first()
    return PageSection(key="consultations", title=_("Consultations and prices"),
                       template="booking/section.html",
                       context={"rows": rows, "right_now": right_now(profile)}, order=100)


def right_now(profile, now=None) -> str | None:
    """What the expert's switches say to visitors: "available" (now, for an instant session
    or a slot soon), "paused" (a short break), or None."""
    now = now or timezone.now()
    if profile is None:
        return None
    if profile.paused_until and profile.paused_until > now:
        return "paused"
    if profile.is_available_now(now):
        return "available"
    return None


@hooks.register(cabinet_hooks.CONSTRUCT_EXPERT_CARD)
def lowest_price_on_card(experts, cards, request):
    ids = [page.expert_id for page in experts if page.expert_id]
    if not ids:
        return
    currency = _currency(request)
    lowest = {}
    for offering in Offering.objects.filter(expert_id__in=ids, enabled=True):
        for product, price, _minutes in offering.products():
            if product == Product.PER_MINUTE:
                lowest[offering.expert_id] = min(price, lowest.get(offering.expert_id, price))
    for page in experts:
        if page.expert_id in lowest:
            cards.setdefault(page.pk, []).append(
                _("From %(price)s per minute") % {"price": Money(lowest[page.expert_id], currency)})


@hooks.register(cabinet_hooks.CONSTRUCT_EXPERT_CARD)
def available_now_on_card(experts, cards, request):
    ids = [page.expert_id for page in experts if page.expert_id]
    now = timezone.now()
    available = {profile.expert_id for profile in BookingProfile.objects.filter(
        expert_id__in=ids, available_now_until__gt=now) if right_now(profile, now) == "available"}
    for page in experts:
        if page.expert_id in available:
            cards.setdefault(page.pk, []).append(_("Available now"))


# --- Admin ------------------------------------------------------------------

class AppointmentInspect(InspectView):
    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        appointment = self.object
        context.update(
            appointment=appointment,
            act_url=reverse("appointments:act", args=[appointment.pk]),
            payments_url=reverse("payment_admin:index") + f"?q={appointment.order.public_id}"
            if appointment.order_id else "",
            notices=appointment.notices.all(),
            other_orders=[order for order in appointment.orders() if order.pk != appointment.order_id],
            no_show_roles=_no_show_roles(self.request, appointment),
            expert_zone=appointment.expert_zone, client_zone=appointment.client_zone,
            **_contact_context(self.request, appointment),
            **_proposal_context(self.request, appointment),
        )
        return context


def _no_show_roles(request, appointment):
    """Whose absence ``request.user`` may record now ([] before the start or once it ended)."""
    from modules.booking.access import session_role

    if appointment.state != Appointment.State.CONFIRMED or appointment.starts_at > timezone.now():
        return []
    role = session_role(request.user, appointment)
    return ["client", "expert"] if role == "admin" else ["client"] if role == "expert" else []


def _proposal_context(request, appointment):
    from modules.booking.admin_proposals import inspect_context

    return inspect_context(request, appointment)


def _contact_context(request, appointment):
    """Contact rules: the client's phone number only for the appointment's own expert, after
    "unavailable: call the client"; the action itself only offered to that expert."""
    expert = getattr(request.user, "expert", None)
    shown = services.may_see_client_phone(appointment, request.user)
    return {"is_own_expert": expert is not None and expert.pk == appointment.expert_id,
            "show_client_phone": shown, "client_phone": services.client_phone(appointment) if shown else ""}


class AppointmentViewSet(ReadOnlyViewSetMixin, ModuleMenuItemMixin, ModelViewSet):
    """Requests (with the time left to answer), upcoming and past appointments. Experts see
    their own; administrators all. Never edited by hand: confirm, decline and cancel go
    through the booking services."""

    model = Appointment
    module_label = "booking"
    site_path = "site"
    icon = "date"
    menu_label = _("Appointments")
    menu_order = 200
    add_to_admin_menu = True
    list_display = ["code", "expert", "client", "mode", "starts_at", "state", "answer_within"]
    list_filter = {
        "state": ["exact"],
        "mode": ["exact"],
        "expert": ["exact"],
        "starts_at": ["date__gte", "date__lte"],
    }
    search_fields = ["code", "client__email", "client__last_name"]
    inspect_template_name = "booking/admin/inspect.html"

    def get_urlpatterns(self):
        return [
            path("", self.index_view, name="index"),
            path("results/", self.index_results_view, name="index_results"),
            path("inspect/<int:pk>/", self.inspect_view, name="inspect"),
            path("act/<int:pk>/", self.act_view, name="act"),
            path("propose/<int:pk>/", self.propose_view, name="propose"),
            path("pending.json", self.pending_view, name="pending"),
            path("switch/", self.switch_view, name="switch"),
        ]

    inspect_view_class = AppointmentInspect

    def _own(self, request, pk):
        return get_object_or_404(own_rows(Appointment.objects.select_related("expert", "client", "order"),
                                          request.user, "expert", "site"), pk=pk)

    def act_view(self, request, pk):
        if request.method != "POST":
            raise PermissionDenied
        appointment = self._own(request, pk)
        action = request.POST.get("action")
        try:
            if action == "confirm":
                services.confirm(appointment)
                messages.success(request, gettext("Confirmed; the client has been told."))
            elif action == "unavailable":
                services.unavailable_call_client(appointment, expert=getattr(request.user, "expert", None))
                messages.success(request, gettext("Declined; the client is told you will call them. Their number "
                                                  "is below."))
            elif action == "decline":
                services.decline(appointment, reason=request.POST.get("reason", "")[:300])
                messages.success(request, gettext("Declined; the client has been told and is not charged."))
            elif action == "cancel":
                services.cancel(appointment, by="expert", reason=request.POST.get("reason", "")[:300])
                messages.success(request, gettext("Canceled; the client is refunded in full."))
            elif action in ("no_show_client", "no_show_expert"):
                who = action.removeprefix("no_show_")
                services.mark_no_show(appointment, who, by=request.user)
                messages.success(request, gettext("Recorded: the client did not come; nothing is refunded.")
                                 if who == "client" else
                                 gettext("Recorded: the expert did not come; the client is refunded in full."))
            else:
                messages.error(request, gettext("Unknown action."))
        except services.BookingError as error:
            messages.error(request, error.message)
        return redirect(reverse(self.get_url_name("inspect"), args=[appointment.pk]))

    def propose_view(self, request, pk):
        """"Propose another time" (seed 002): the expert picks a new start among their free
        times; the client answers from an email. Only the appointment's own expert."""
        from modules.booking.admin_proposals import propose_view

        return propose_view(self, request, self._own(request, pk))

    def switch_view(self, request):
        """The expert's switches (seeds 000, 004): available now for three hours, pause 20
        minutes, back from break."""
        expert = getattr(request.user, "expert", None)
        if request.method != "POST" or expert is None:
            raise PermissionDenied
        action = request.POST.get("action")
        if action == "now":
            services.available_now(expert)
            messages.success(request, gettext("You are available now, for three hours."))
        elif action == "pause":
            services.pause(expert)
            messages.success(request, gettext("Paused for 20 minutes: no new booking until then."))
        elif action == "back":
            services.back_from_break(expert)
            messages.success(request, gettext("Welcome back: clients can book again."))
        else:
            messages.error(request, gettext("Unknown action."))
        return redirect("wagtailadmin_home")

    def pending_view(self, request):
        """What is waiting for the expert's answer (polled by the dashboard panel, which rings
        when a new instant request arrives)."""
        rows = own_rows(Appointment.objects.filter(state=Appointment.State.REQUESTED), request.user, "expert", "site")
        now = timezone.now()
        return JsonResponse({"now": now.isoformat(), "requests": [
            {"id": a.pk, "code": a.code, "instant": a.instant, "mode": a.mode,
             "seconds_left": max(0, int((a.confirm_by - now).total_seconds())) if a.confirm_by else None,
             "url": reverse(self.get_url_name("inspect"), args=[a.pk])}
            for a in rows.order_by("confirm_by")[:50]
        ]})


class ExpertOwnedForm(WagtailAdminModelForm):
    """An expert's own rows: the expert field offers only themselves."""

    def __init__(self, *args, for_user=None, **kwargs):
        super().__init__(*args, for_user=for_user, **kwargs)
        field = self.fields.get("expert")
        if field is not None and for_user is not None:
            field.queryset = _own_experts(for_user)
            if field.queryset.count() == 1:
                field.initial = field.queryset.first().pk


class ExpertClockForm(ExpertOwnedForm):
    """Dates and times typed in the expert's own time zone (a New York expert closes 24 December
    in New York), whatever zone the admin page runs in; shown back the same way."""

    CLOCK_FIELDS = ("starts_at", "ends_at")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        expert = self.instance.expert if self.instance.pk else None
        if expert is None:
            choices = self.fields["expert"].queryset if "expert" in self.fields else None
            expert = choices.first() if choices is not None and choices.count() == 1 else None
        for name in self.CLOCK_FIELDS:
            field = self.fields.get(name)
            if field is None:
                continue
            field.help_text = (_("In the expert's time zone (%(zone)s).") % {"zone": expert.time_zone}
                               if expert else _("In the expert's time zone."))
            value = getattr(self.instance, name, None)
            if self.instance.pk and value:
                self.initial[name] = _same_clock(value, ZoneInfo(expert.time_zone), timezone.get_current_timezone())

    def clean(self):
        data = super().clean()
        expert = data.get("expert") or (self.instance.expert if self.instance.pk else None)
        if expert is not None:
            for name in self.CLOCK_FIELDS:
                if data.get(name):
                    data[name] = _same_clock(data[name], timezone.get_current_timezone(), ZoneInfo(expert.time_zone))
        return data


def _same_clock(value, read_in, as_in):
    """The instant whose wall-clock time in ``as_in`` is ``value``'s wall-clock time in ``read_in``."""
    return value.astimezone(read_in).replace(tzinfo=as_in, fold=0)


def _own_experts(user):
    return access.visible_experts(user)


class OwnedViewSet(ModuleMenuItemMixin, ModelViewSet):
    module_label = "booking"
    copy_view_enabled = False
    add_to_admin_menu = False
    owned_form = ExpertOwnedForm

    def get_form_class(self, for_update=False):
        form_class = super().get_form_class(for_update)
        return type(form_class.__name__, (self.owned_form, form_class), {"Meta": form_class.Meta})


class OfferingViewSet(OwnedViewSet):
    model = Offering
    icon = "tag"
    menu_label = _("Prices")
    list_display = ["expert", "mode", "enabled", *(MoneyColumn(name, model=Offering) for name in (
        "price_per_minute", "short_price", "long_price", "instant_rate"))]
    form_fields = ["expert", "mode", "enabled", "price_per_minute", "short_minutes", "short_price",
                   "long_minutes", "long_price", "free_products", "instant_rate"]


class AvailabilityExceptionViewSet(OwnedViewSet):
    model = AvailabilityException
    icon = "calendar-alt"
    menu_label = _("Holidays and extra openings")
    owned_form = ExpertClockForm
    list_display = ["expert", "kind", "starts_at", "ends_at", "note"]
    form_fields = ["expert", "kind", "starts_at", "ends_at", "modes", "note"]


class BookingProfileViewSet(OwnedViewSet):
    model = BookingProfile
    icon = "cogs"
    menu_label = _("Booking rules")
    list_display = ["expert", "slot_minutes", "buffer_minutes", "notice_minutes", "horizon_days"]
    form_fields = ["expert", "slot_minutes", "buffer_minutes", "notice_minutes", "horizon_days", "modes_off",
                   "alert_phone"]


class BookingGroup(ViewSetGroup):
    menu_label = _("Schedule and prices")
    menu_icon = "date"
    menu_order = 205
    # Weekly hours are edited in the hours editor (hours_views), not row by row: its form
    # replaces django-recurrence's widget, whose script needs django.contrib.admin's jQuery.
    items = (OfferingViewSet("booking_offerings"), HoursViewSet("booking_hours"),
             AvailabilityExceptionViewSet("booking_exceptions"), BookingProfileViewSet("booking_profiles"))


@hooks.register("register_admin_viewset")
def register_booking_admin():
    return [AppointmentViewSet("appointments"), BookingGroup()]


@hooks.register(cabinet_hooks.REGISTER_EXPERT_PERMISSIONS)
def expert_permissions():
    return [f"booking.{action}_{model}" for model in ("offering", "availabilityrule", "availabilityexception",
                                                      "bookingprofile")
            for action in ("add", "change", "delete", "view")] + ["booking.view_appointment",
                                                                    "booking.change_appointment"]


class RequestsPanel(Component):
    """Dashboard panel: requests waiting for an answer, with the time left; rings for an
    instant request (it polls the pending list)."""

    name = "cabinet_booking_requests"
    order = 50
    template_name = "booking/admin/requests_panel.html"

    def __init__(self, request):
        self.request = request

    def get_context_data(self, parent_context=None):
        # The component renders with a plain dict: what its forms need from the page
        # ({% csrf_token %} reads csrf_token) is passed on, as Wagtail's own panels do.
        context = super().get_context_data(parent_context) or {}
        parent = parent_context or {}
        context.update(request=parent.get("request", self.request), csrf_token=parent.get("csrf_token"))
        rows = own_rows(Appointment.objects.filter(state=Appointment.State.REQUESTED)
                        .select_related("client", "expert"), self.request.user, "expert", "site").order_by("confirm_by")
        expert = getattr(self.request.user, "expert", None)
        profile = availability.profile_for(expert) if expert else None
        context.update({
            "call_back": _clients_to_call(expert),
            "requests": rows[:20], "pending_url": reverse("appointments:pending"), "now": timezone.now(),
            "expert": expert, "profile": profile, "switch_url": reverse("appointments:switch"),
            "available_now": profile.is_available_now() if profile else False,
            "paused": bool(profile and profile.paused_until and profile.paused_until > timezone.now())})
        return context


def _clients_to_call(expert, now=None):
    """The expert's own "unavailable: call the client" appointments of the last week whose
    time has not long passed, each with the client's number (contact rules)."""
    if expert is None:
        return []
    now = now or timezone.now()
    rows = (Appointment.objects.filter(expert=expert, call_client_at__gt=now - timedelta(days=7))
            .select_related("client").order_by("-call_client_at")[:20])
    return [{"appointment": a, "phone": services.client_phone(a)} for a in rows]


@hooks.register("construct_homepage_panels")
def add_requests_panel(request, panels):
    from site_core.access.admin import admin_site
    from site_core.modules import is_enabled

    if is_enabled("booking", admin_site(request)) and request.user.has_perm("booking.view_appointment"):
        panels.append(RequestsPanel(request))


# The expert's calendar feed (address, copy, "new address"): see feed_admin.py.
@hooks.register("construct_homepage_panels")
def add_calendar_feed_panel(request, panels):
    from modules.booking.feed_admin import CalendarFeedPanel, feed_expert

    expert = feed_expert(request)
    if expert is not None:
        panels.append(CalendarFeedPanel(expert, request))


@hooks.register("register_admin_urls")
def calendar_feed_admin_urls():
    from modules.booking.feed_admin import new_feed_view

    return [path("booking/calendar-feed/new/", new_feed_view, name="booking_new_calendar_feed")]


@hooks.register(cabinet_hooks.REGISTER_API_ROUTERS)
def booking_api():
    from modules.booking.api import router

    return "", router


@hooks.register(cabinet_hooks.REGISTER_DEMO_DATA)
def booking_demo(demo):
    from modules.booking.demo import seed

    seed(demo)


@hooks.register(cabinet_hooks.REGISTER_PORTAL_PANELS)
def appointments_panel(request):
    """The client's consultations in their portal: upcoming first, then the past ones."""
    from site_core.base.context import current_site

    site = current_site()
    rows = list(Appointment.objects.filter(client=request.user, site=site).exclude(state=Appointment.State.HELD)
                .select_related("expert", "order", "client", "site").prefetch_related("order__payments__refunds")
                .order_by("-starts_at")[:50])
    # Receipts: every paid order of each appointment (the booking, extra time...), in one query.
    from django.contrib.contenttypes.models import ContentType

    from site_core.payments.models import Order

    receipts = {}
    for order in Order.objects.filter(content_type=ContentType.objects.get_for_model(Appointment),
                                      object_id__in=[str(a.pk) for a in rows],
                                      state=Order.State.PAID).order_by("created_at", "pk"):
        receipts.setdefault(order.object_id, []).append(order)
    for a in rows:
        a.receipts = receipts.get(str(a.pk), [])
    now = timezone.now()
    upcoming = sorted((a for a in rows if a.ends_at >= now and a.is_live), key=lambda a: a.starts_at)
    past = [a for a in rows if a not in upcoming]
    return PageSection(key="appointments", title=_("My consultations"), template="booking/portal_panel.html",
                       context={"upcoming": upcoming, "past": past}, order=10)
