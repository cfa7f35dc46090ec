"""Helpers for modules' Wagtail admin views: module gating, "this practice's rows only" and
"an expert's own rows only" (site_core.access holds the definition)."""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.generic import FormView
from wagtail.admin.menu import MenuItem
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin
from wagtail.models import Site

from site_core import access
from site_core.modules import is_enabled


def admin_site(request):
    return Site.find_for_request(request)


class ModuleMenuItem(MenuItem):
    """A menu item shown only where its module is on."""

    def __init__(self, *args, module_label, **kwargs):
        self.module_label = module_label
        super().__init__(*args, **kwargs)

    def is_shown(self, request):
        return is_enabled(self.module_label, admin_site(request)) and super().is_shown(request)


def own_rows(queryset, user, owner_path, site_path=None):
    """Everything for the install owner; the rows of the practices they administer for a
    practice administrator; an expert's own rows for an expert (site_core.access.scope).

    ``owner_path`` leads from the model to site_core.Expert (``"expert"``,
    ``"appointment__expert"``); ``site_path`` to the row's Site (by default the expert's
    practice, ``"<owner_path>__site"``; ``"site"`` for a model that has its own).
    """
    return access.scope(queryset, user, site_path=site_path or f"{owner_path}__site", expert_path=owner_path)


def scope_choices(fields, user):
    """Limit the choices of the form fields (of a form or a filter form) that pick a practice,
    an expert or a client to those ``user`` may see."""
    from site_core.practice.models import Expert, User

    for field in fields.values():
        queryset = getattr(field, "queryset", None)
        if queryset is None:
            continue
        if queryset.model is Expert:
            field.queryset = queryset & access.visible_experts(user)
        elif queryset.model is User:
            field.queryset = queryset.filter(pk__in=access.visible_clients(user).values("pk"))
        elif queryset.model is Site:
            field.queryset = queryset & access.administered_sites(user)


class ScopedFiltersMixin:
    """For an index view: the list filters offer only the user's practices, experts, clients."""

    @cached_property
    def filters(self):
        filterset = super().filters
        if filterset is not None:
            scope_choices(filterset.form.fields, self.request.user)
            for name, field in filterset.form.fields.items():
                if name in filterset.filters and hasattr(field, "queryset"):
                    filterset.filters[name].queryset = field.queryset
        return filterset


class ModuleMenuItemMixin:
    """For a Wagtail ViewSet: menu item gated by module, and views limited to own rows.

    Set ``module_label`` (None: shown wherever the user may see the model), for
    expert-owned rows ``owner_path``, and ``site_path`` for a model with its own site.
    """

    module_label = None
    owner_path = "expert"
    site_path = None

    @property
    def menu_item_class(self):
        base = super().menu_item_class
        module_label = self.module_label

        def is_shown(item, request):
            return ((module_label is None or is_enabled(module_label, admin_site(request)))
                    and base.is_shown(item, request))

        return type(f"{base.__name__}Gated", (base,), {"is_shown": is_shown})

    # Views that list rows: limited to the expert's own.
    list_views = ("index_view_class",)
    # Views of one row: refused on a row that is not the expert's own (all of
    # them: the history and usage views show the row's title too).
    object_views = ("edit_view_class", "inspect_view_class", "delete_view_class",
                    "history_view_class", "usage_view_class", "copy_view_class")
    # Other views: only refused where the module is off.
    other_views = ("add_view_class", "reorder_view_class")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for kind, attrs in (("list", self.list_views), ("object", self.object_views),
                            ("other", self.other_views)):
            for attr in attrs:
                view_class = getattr(self, attr, None)
                if view_class is not None:
                    setattr(self, attr, self._gated(view_class, kind))
        chooser = getattr(self, "chooser_viewset_class", None)
        if chooser is not None:  # a snippet's chooser (its modal, search and "chosen" answers)
            self.chooser_viewset_class = scoped_chooser_viewset(chooser, self.owner_path, self.site_path)

    def _gated(self, view_class, kind):
        viewset = self

        bases = (ScopedFiltersMixin, view_class) if kind == "list" else (view_class,)

        class Gated(*bases):
            def dispatch(self, request, *args, **kwargs):
                if viewset.module_label is not None and not is_enabled(viewset.module_label, admin_site(request)):
                    raise PermissionDenied
                return super().dispatch(request, *args, **kwargs)

            if kind == "list":
                def get_base_queryset(self):
                    return own_rows(super().get_base_queryset(), self.request.user, viewset.owner_path,
                                    viewset.site_path)

            if kind == "object":
                def get_object(self, *args, **kwargs):
                    obj = super().get_object(*args, **kwargs)
                    model = type(obj)
                    if not own_rows(model._default_manager.filter(pk=obj.pk), self.request.user,
                                    viewset.owner_path, viewset.site_path).exists():
                        raise PermissionDenied
                    return obj

            if kind in ("object", "other"):
                def get_form(self, *args, **kwargs):
                    form = super().get_form(*args, **kwargs)
                    scope_choices(form.fields, self.request.user)
                    return form

        Gated.__name__ = view_class.__name__
        Gated.__qualname__ = view_class.__qualname__
        return Gated


def scoped_chooser_viewset(base, owner_path, site_path):
    """A ChooserViewSet class whose views offer, and answer for, only the rows ``own_rows``
    lets the user see (a chooser is reachable by URL, whatever form uses it)."""

    def rows(view, queryset):
        return own_rows(queryset, view.request.user, owner_path, site_path)

    def scoped(view_class):
        attrs = {}
        if hasattr(view_class, "get_object_list"):
            attrs["get_object_list"] = lambda self: rows(self, super(cls_ref[0], self).get_object_list())
        if hasattr(view_class, "get_object"):
            def get_object(self, pk):
                obj = super(cls_ref[0], self).get_object(pk)
                if not rows(self, type(obj)._default_manager.filter(pk=obj.pk)).exists():
                    raise PermissionDenied
                return obj
            attrs["get_object"] = get_object
        if hasattr(view_class, "get_objects"):
            attrs["get_objects"] = lambda self, pks: rows(self, super(cls_ref[0], self).get_objects(pks))
        cls_ref = []
        cls = type(view_class.__name__, (view_class,), attrs)
        cls_ref.append(cls)
        return cls

    names = ("choose_view_class", "choose_results_view_class", "chosen_view_class", "chosen_multiple_view_class")
    return type(f"Scoped{base.__name__}", (base,), {name: scoped(getattr(base, name)) for name in names
                                                     if getattr(base, name, None) is not None})


class ReadOnlyViewSetMixin:
    """For a ModelViewSet of records that only services change (payments, appointments):
    no add, edit or delete links or views; list, inspect and the viewset's own actions."""

    copy_view_enabled = False
    inspect_view_enabled = True

    def get_common_view_kwargs(self, **kwargs):
        view_kwargs = super().get_common_view_kwargs(**kwargs)
        view_kwargs.update(add_url_name=None, edit_url_name=None, delete_url_name=None)
        return view_kwargs


# --- Client invitations (site_core.access.invitations) --------------------------------------

class PracticeChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, site):
        from site_core.access.invitations import practice_name

        return practice_name(site)


class InviteClientForm(forms.Form):
    site = PracticeChoiceField(label=_("Practice"), queryset=Site.objects.none(), empty_label=None)
    email = forms.CharField(label=_("Email address"), max_length=254,
                            widget=forms.EmailInput(attrs={"autocomplete": "off"}))
    language = forms.ChoiceField(label=_("Language of the email"), choices=settings.LANGUAGES,
                                 initial=settings.LANGUAGE_CODE[:2])

    def __init__(self, *args, user, current=None, **kwargs):
        super().__init__(*args, **kwargs)
        sites = access.administered_sites(user).order_by("site_name", "hostname", "pk")
        field = self.fields["site"]
        field.queryset = sites
        if current is not None and sites.filter(pk=current.pk).exists():
            field.initial = current.pk
        if len(field.choices) == 1:
            field.help_text = _("The practice you administer.")


class InviteClientView(WagtailAdminTemplateMixin, FormView):
    """"Invite a client" (the Clients listing's header button): a practice's administrator
    picks one of their practices (the install owner any), types an address and a language;
    site_core.access.invitations sends the email. Refusals come back on the form."""

    template_name = "site_core/admin/invite_client.html"
    form_class = InviteClientForm
    page_title = _("Invite a client")
    header_icon = "mail"
    _submit = _("Send the invitation")

    def dispatch(self, request, *args, **kwargs):
        if not access.administers_any(request.user):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def get_breadcrumbs_items(self):
        return self.breadcrumbs_items + [
            {"url": reverse("practice_clients:index"), "label": gettext("Clients")},
            {"url": "", "label": self.get_page_title()},
        ]

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "user": self.request.user, "current": admin_site(self.request)}

    def get_context_data(self, **kwargs):
        from site_core.access.invitations import valid_days

        return super().get_context_data(action_url=reverse("practice_clients:invite"),
                                        submit_button_label=self._submit, invitation_days=valid_days(), **kwargs)

    def post(self, request, *args, **kwargs):
        # A practice one does not administer, named by its id: refused, not merely invalid.
        # (Raising PermissionDenied here would become Wagtail's redirect to the dashboard.)
        named = request.POST.get("site", "")
        site = Site.objects.filter(pk=int(named)).first() if named.isdigit() else None
        if site is not None and not access.is_practice_admin(request.user, site):
            form = self.get_form()
            form.is_valid()
            form.add_error(None, gettext("You do not administer this practice: choose one of yours."))
            return self.form_invalid(form, status=403)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        from site_core.access.invitations import invite_client

        data = form.cleaned_data
        try:
            invite_client(data["site"], data["email"], by=self.request.user, language=data["language"])
        except ValidationError as refused:
            form.add_error("email" if refused.code in ("invalid_email", "already_member") else None, refused)
            return self.form_invalid(form, status={"rate_limited": 429, "not_sent": 503}.get(refused.code, 400))
        messages.success(self.request, gettext("Invitation sent to %(email)s.")
                         % {"email": data["email"].strip().lower()})
        return redirect("practice_clients:index")

    def form_invalid(self, form, status=400):
        response = self.render_to_response(self.get_context_data(form=form))
        response.status_code = status
        return response
