"""The opening-hours editor in the Wagtail admin (*Schedule and prices → Opening hours*): an
expert edits their own week and dates; a practice administrator picks any expert."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.generic import TemplateView
from wagtail.admin.menu import MenuItem
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin
from wagtail.admin.viewsets.base import ViewSet

from modules.booking import availability, hours, services
from modules.booking.models import Mode
from site_core.access.admin import admin_site
from site_core.modules import is_enabled


def editable_experts(user):
    """Whose hours ``user`` may edit: their own, or every expert for a practice administrator."""
    from modules.booking.wagtail_hooks import _own_experts

    return _own_experts(user)


class HoursMenuItem(MenuItem):
    def is_shown(self, request):
        return is_enabled("booking", admin_site(request)) and editable_experts(request.user).exists()


class _Gated:
    def dispatch(self, request, *args, **kwargs):
        if not is_enabled("booking", admin_site(request)) or not editable_experts(request.user).exists():
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)


class ExpertsView(_Gated, WagtailAdminTemplateMixin, TemplateView):
    """An expert goes straight to their hours; an administrator chooses whose."""

    template_name = "booking/admin/hours_experts.html"
    page_title = _("Opening hours")
    header_icon = "time"
    edit_url_name = None

    def get_breadcrumbs_items(self):
        return self.breadcrumbs_items + [{"url": "", "label": self.page_title}]

    def get(self, request, *args, **kwargs):
        user = request.user
        if not (user.is_superuser or user.has_perm("site_core.change_expert")):
            return redirect(self.edit_url_name, expert_id=editable_experts(user).get().pk)
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["experts"] = [
            {"expert": expert, "url": reverse(self.edit_url_name, kwargs={"expert_id": expert.pk})}
            for expert in editable_experts(self.request.user).order_by("name")
        ]
        return context


class HoursView(_Gated, WagtailAdminTemplateMixin, TemplateView):
    """The week, the dates, and the next two weeks' free times beside them."""

    template_name = "booking/admin/hours.html"
    header_icon = "time"
    index_url_name = None

    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        self.expert = None

    def get_page_title(self):
        return gettext("Opening hours")

    def get_page_subtitle(self):
        return str(self.expert) if self.expert else ""

    def get_breadcrumbs_items(self):
        # An administrator goes back to the list of experts; an expert has only their own hours.
        many = editable_experts(self.request.user).count() > 1
        return self.breadcrumbs_items + [
            {"url": reverse(self.index_url_name) if many else "", "label": self.get_page_title()},
            {"url": "", "label": self.get_page_subtitle()},
        ]

    def _load(self, expert_id):
        self.expert = get_object_or_404(editable_experts(self.request.user), pk=expert_id)
        self.now = timezone.now()
        self.today = self.now.astimezone(ZoneInfo(self.expert.time_zone)).date()
        self.stored = hours.read(self.expert, availability.profile_for(self.expert), self.now)

    def get(self, request, expert_id):
        self._load(expert_id)
        editor = hours.HoursEditor(plan=self.stored.plan, today=self.today)
        return self.render_to_response(self.get_context_data(editor=editor))

    def post(self, request, expert_id):
        self._load(expert_id)
        copy = request.POST.get("copy")
        if copy is not None and copy.isdigit() and int(copy) in hours.DAYS:
            # The "copy" button without JavaScript: the form again, with the day copied, unsaved.
            data = hours.copy_to_workdays(request.POST, int(copy))
            editor = hours.HoursEditor(data, plan=self.stored.plan, today=self.today)
            editor.is_valid()
            return self.render_to_response(self.get_context_data(editor=editor, copied=True))
        editor = hours.HoursEditor(request.POST, plan=self.stored.plan, today=self.today)
        if editor.is_valid() and "preview" in request.POST:
            # "Preview": the free times these hours would give, nothing saved.
            try:
                shown = hours.preview_unsaved(self.expert, editor.plan(), self._mode(), self.now)
            except services.BookingError as error:
                messages.error(request, error.message)
            else:
                return self.render_to_response(self.get_context_data(editor=editor, preview=shown))
        elif editor.is_valid():
            try:
                services.set_hours(self.expert, editor.plan(), now=self.now)
            except services.BookingError as error:
                messages.error(request, error.message)
            else:
                messages.success(request, gettext("Your hours are saved; the free times beside them are updated."))
                return redirect(request.get_full_path())
        else:
            messages.error(request, gettext("Nothing was saved: please correct the fields marked below."))
        response = self.render_to_response(self.get_context_data(editor=editor))
        response.status_code = 400
        return response

    def _mode(self):
        """The mode the preview shows: the one asked for, else the first the expert sells."""
        mode = self.request.GET.get("mode")
        if mode in Mode.values:
            return mode
        offered = list(availability.bookable_offerings([self.expert.pk])[self.expert.pk]) or list(Mode.values)
        return offered[0]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            expert=self.expert,
            preview=kwargs.get("preview") or hours.preview(self.expert, self._mode(), self.now),
            preview_modes=[(m.value, m.label) for m in Mode],
            kept_rules=self.stored.kept_rules,
            kept_exceptions=self.stored.kept_exceptions,
            exceptions_url=reverse("booking_exceptions:index"),
            index_url=reverse(self.index_url_name),
            many_experts=editable_experts(self.request.user).count() > 1,
            workdays=[str(hours.WEEKDAYS[d]) for d in hours.WORKDAYS],
        )
        return context


class HoursViewSet(ViewSet):
    icon = "time"
    menu_label = _("Opening hours")
    menu_item_class = HoursMenuItem

    def get_urlpatterns(self):
        edit_name = self.get_url_name("edit")
        index_name = self.get_url_name("index")
        return [
            path("", ExpertsView.as_view(edit_url_name=edit_name), name="index"),
            path("<int:expert_id>/", HoursView.as_view(index_url_name=index_name), name="edit"),
        ]
