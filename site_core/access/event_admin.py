"""The outbox in the admin: the deliveries that need someone's attention, their error, and
"Retry" (Reports → Event deliveries).

Who sees what is site_core.access's business, not a model permission: the install owner
sees every delivery; a practice administrator those of their practices' events (with the
receiver's traceback: it is their practice's data, and what they need to report a fault);
events of no practice (install-wide facts) are the install owner's only. Experts and
clients never get here. Nothing here changes a delivery but ``outbox.retry``, on a POST.

It lives in access/, not events/: the events layer sits below the practices and their
access rules (tests/site_core/test_import_rules.py), and this view is scoped by them.
"""

import json

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Q
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.functional import cached_property
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_filters import ChoiceFilter, ModelChoiceFilter
from wagtail.admin.filters import WagtailFilterSet
from wagtail.admin.ui.tables import Column, DateColumn, StatusTagColumn, TitleColumn
from wagtail.admin.viewsets.model import ModelViewSet
from wagtail.models import Site
from wagtail.permission_policies.base import BasePermissionPolicy
from wagtail.permissions import register_permission_policy

from site_core import access
from site_core.access.admin import ReadOnlyViewSetMixin
from site_core.events import outbox
from site_core.events.models import Delivery

#: What the list shows unless told otherwise.
ATTENTION = "attention"


def needs_attention():
    """Failed deliveries, and pending ones that have failed at least once (being retried)."""
    return Q(state=Delivery.State.FAILED) | Q(state=Delivery.State.PENDING, attempts__gt=0)


def visible_deliveries(user):
    """The deliveries ``user`` may see: all for the install owner, their practices' events'
    for a practice administrator (never an event of no practice), none for anyone else."""
    return access.scope(Delivery.objects.select_related("event__site"), user, site_path="event__site")


def error_summary(text, limit=160):
    """The line of a traceback that says what went wrong: its last (the exception and its
    message; the first is always "Traceback (most recent call last):")."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    if not lines:
        return ""
    line = lines[-1]
    return line if len(line) <= limit else line[:limit - 1] + "…"


def is_retryable(delivery):
    """What the Retry button is offered on: failed, or pending after a failure."""
    return delivery.state == Delivery.State.FAILED or (
        delivery.state == Delivery.State.PENDING and delivery.attempts > 0)


class DeliveryPermissionPolicy(BasePermissionPolicy):
    """Deliveries are seen (and retried) by the install owner and practice administrators,
    whatever model permissions a group holds; which rows is ``visible_deliveries``. They are
    never added, changed or deleted in the admin."""

    actions = ("view", "retry")

    def user_has_permission(self, user, action):
        return action in self.actions and access.administers_any(user)

    def users_with_any_permission(self, actions):
        from site_core.practice.models import PracticeGroup, User

        if not set(actions) & set(self.actions):
            return User.objects.none()
        admin_groups = PracticeGroup.objects.filter(role=access.ADMINS).values("group_id")
        return User.objects.filter(Q(is_superuser=True) | Q(groups__in=admin_groups), is_active=True).distinct()

    def user_has_permission_for_instance(self, user, action, instance):
        return (self.user_has_permission(user, action)
                and visible_deliveries(user).filter(pk=instance.pk).exists())

    def instances_user_has_any_permission_for(self, user, actions):
        if not any(self.user_has_permission(user, action) for action in actions):
            return Delivery.objects.none()
        return visible_deliveries(user)

    def users_with_any_permission_for_instance(self, actions, instance):
        users = self.users_with_any_permission(actions)
        site_id = instance.event.site_id
        if site_id is None:
            return users.filter(is_superuser=True)
        from site_core.practice.models import PracticeGroup

        groups = PracticeGroup.objects.filter(role=access.ADMINS, site_id=site_id).values("group_id")
        return users.filter(Q(is_superuser=True) | Q(groups__in=groups)).distinct()


policy = DeliveryPermissionPolicy(Delivery)
register_permission_policy(Delivery, policy, exact_class=True)


def _event_name_choices():
    return sorted((name, name) for name in outbox.event_types())


class DeliveryFilterSet(WagtailFilterSet):
    state = ChoiceFilter(
        label=_("State"), method="filter_state", empty_label=None, widget=forms.RadioSelect,
        choices=[(ATTENTION, _("Needs attention")), (Delivery.State.FAILED, _("Failed")),
                 ("retrying", _("Being retried")), (Delivery.State.PENDING, _("To deliver")),
                 (Delivery.State.DONE, _("Delivered")), ("all", _("All"))],
    )
    event = ChoiceFilter(label=_("Event"), field_name="event__name", choices=_event_name_choices,
                         empty_label=_("All"), widget=forms.RadioSelect)
    practice = ModelChoiceFilter(label=_("Practice"), field_name="event__site", queryset=Site.objects.none())

    class Meta:
        model = Delivery
        fields = []

    def __init__(self, data=None, *args, request=None, **kwargs):
        # Unless told otherwise, the list shows what needs attention.
        if data is not None and not data.get("state"):
            data = data.copy()
            data["state"] = ATTENTION
        super().__init__(data, *args, request=request, **kwargs)
        user = getattr(request, "user", None)
        sites = access.practices_administered(user) if user is not None else Site.objects.none()
        self.filters["practice"].queryset = sites
        self.form.fields["practice"].queryset = sites

    def filter_state(self, queryset, name, value):
        if value == ATTENTION:
            return queryset.filter(needs_attention())
        if value == "retrying":
            return queryset.filter(state=Delivery.State.PENDING, attempts__gt=0)
        if value in Delivery.State.values:
            return queryset.filter(state=value)
        return queryset


def _practice(delivery):
    site = delivery.event.site
    if site is None:
        return gettext("Every practice") if delivery.event.site_id is None else "—"
    return site.site_name or site.hostname


def _next_attempt(delivery):
    # A failed delivery waits for Retry, a delivered one for nothing.
    return delivery.next_attempt_at if delivery.state == Delivery.State.PENDING else None


def _pretty_payload(event):
    return json.dumps(event.payload, cls=DjangoJSONEncoder, indent=2, sort_keys=True, ensure_ascii=False)


class DeliveryViewSet(ReadOnlyViewSetMixin, ModelViewSet):
    """Reports → Event deliveries: by default the failed deliveries and those being retried,
    filtered by state, event and practice; each opens on its payload and full error, with
    Retry."""

    model = Delivery
    icon = "warning"
    menu_label = _("Event deliveries")
    menu_name = "event-deliveries"
    menu_order = 650
    menu_hook = "register_reports_menu_item"
    filterset_class = DeliveryFilterSet
    inspect_template_name = "site_core/admin/delivery_inspect.html"
    list_per_page = 50

    def get_urlpatterns(self):
        return [
            path("", self.index_view, name="index"),
            path("results/", self.index_results_view, name="index_results"),
            path("inspect/<int:pk>/", self.inspect_view, name="inspect"),
            path("retry/<int:pk>/", self.retry_view, name="retry"),
        ]

    def get_permissions_to_register(self):
        # The group editor offers no delivery permission: DeliveryPermissionPolicy ignores them.
        from django.contrib.auth.models import Permission

        return Permission.objects.none()

    @property
    def index_view_class(self):
        base = super().index_view_class

        class DeliveryIndex(base):
            default_ordering = "-pk"

            def get_base_queryset(self):
                return visible_deliveries(self.request.user)

            @cached_property
            def columns(self):
                return [
                    TitleColumn("event", label=_("Event"), accessor=lambda d: d.event.name, sort_key="event__name",
                                get_url=self.get_inspect_url),
                    Column("practice", label=_("Practice"), accessor=_practice),
                    DateColumn("occurred_at", label=_("Occurred at"), accessor=lambda d: d.event.occurred_at,
                               sort_key="event__occurred_at"),
                    Column("receiver", label=_("Receiver"), sort_key="receiver"),
                    StatusTagColumn("state", label=_("State"), accessor="get_state_display", sort_key="state",
                                    primary=lambda d: d.state == Delivery.State.FAILED),
                    Column("attempts", label=_("Attempts"), sort_key="attempts"),
                    DateColumn("next_attempt_at", label=_("Next attempt"), accessor=_next_attempt,
                               sort_key="next_attempt_at"),
                    Column("last_error", label=_("Last error"), accessor=lambda d: error_summary(d.last_error)),
                ]

        return DeliveryIndex

    @property
    def inspect_view_class(self):
        base = super().inspect_view_class
        viewset = self

        class DeliveryInspect(base):
            def get_object(self, queryset=None):
                return get_object_or_404(visible_deliveries(self.request.user), pk=self.pk)

            def get_fields(self):
                return []  # the template lays the delivery out

            def get_page_subtitle(self):
                return f"{self.object.event.name} → {self.object.receiver}"

            def get_context_data(self, **kwargs):
                context = super().get_context_data(**kwargs)
                delivery = self.object
                context.update(
                    delivery=delivery, event=delivery.event, practice=_practice(delivery),
                    next_attempt=_next_attempt(delivery), payload=_pretty_payload(delivery.event),
                    retryable=is_retryable(delivery) and self.user_has_permission("retry"),
                    retry_url=reverse(viewset.get_url_name("retry"), args=[delivery.pk]),
                    max_attempts=outbox.MAX_ATTEMPTS,
                )
                return context

        return DeliveryInspect

    def retry_view(self, request, pk):
        """POST: the delivery is tried again now, with a full series of attempts."""
        if not policy.user_has_permission(request.user, "retry"):
            raise PermissionDenied
        delivery = get_object_or_404(visible_deliveries(request.user), pk=pk)
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if outbox.retry(delivery):
            messages.success(request, gettext("%(receiver)s will be handed %(event)s again now.") % {
                "receiver": delivery.receiver, "event": delivery.event.name})
        else:
            messages.info(request, gettext("Already delivered: there is nothing to retry."))
        target = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                               require_https=request.is_secure()):
            target = reverse(self.get_url_name("inspect"), args=[delivery.pk])
        return redirect(target)
