"""Helpers for modules' Wagtail admin views: module gating and "own rows only"."""

from django.core.exceptions import PermissionDenied
from wagtail.admin.menu import MenuItem
from wagtail.models import Site

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


def own_rows(queryset, user, owner_path):
    """Everything for a practice administrator; an expert's own rows for an expert.

    ``owner_path`` leads from the model to site_core.Expert (``"expert"``,
    ``"appointment__expert"``).
    """
    if user.is_superuser or user.has_perm("site_core.change_expert"):
        return queryset
    expert = getattr(user, "expert", None)
    if expert is None:
        return queryset.none()
    return queryset.filter(**{owner_path: expert})


class ModuleMenuItemMixin:
    """For a Wagtail ViewSet: menu item gated by module, and views limited to own rows.

    Set ``module_label`` and, for expert-owned rows, ``owner_path``.
    """

    module_label = None
    owner_path = "expert"

    @property
    def menu_item_class(self):
        base = super().menu_item_class
        module_label = self.module_label

        def is_shown(item, request):
            return is_enabled(module_label, admin_site(request)) and base.is_shown(item, request)

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

    def _gated(self, view_class, kind):
        viewset = self

        class Gated(view_class):
            def dispatch(self, request, *args, **kwargs):
                if not is_enabled(viewset.module_label, admin_site(request)):
                    raise PermissionDenied
                return super().dispatch(request, *args, **kwargs)

            if kind == "list":
                def get_base_queryset(self):
                    return own_rows(super().get_base_queryset(), self.request.user, viewset.owner_path)

            if kind == "object":
                def get_object(self, *args, **kwargs):
                    obj = super().get_object(*args, **kwargs)
                    model = type(obj)
                    if not own_rows(model._default_manager.filter(pk=obj.pk), self.request.user,
                                    viewset.owner_path).exists():
                        raise PermissionDenied
                    return obj

        Gated.__name__ = view_class.__name__
        Gated.__qualname__ = view_class.__qualname__
        return Gated


class ReadOnlyViewSetMixin:
    """For a ModelViewSet of records that only services change (payments, appointments):
    no add, edit or delete links or views; list, inspect and the viewset's own actions."""

    copy_view_enabled = False
    inspect_view_enabled = True

    def get_common_view_kwargs(self, **kwargs):
        view_kwargs = super().get_common_view_kwargs(**kwargs)
        view_kwargs.update(add_url_name=None, edit_url_name=None, delete_url_name=None)
        return view_kwargs
