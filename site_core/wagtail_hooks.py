"""The kernel's admin: a practice's clients, and Wagtail's own views kept to the user's practices."""

from django.urls import path, reverse
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.ui.tables import Column
from wagtail.admin.views.generic.models import IndexView
from wagtail.admin.viewsets.model import ModelViewSet
from wagtail.admin.widgets.button import HeaderButton

from site_core import access
from site_core.access.admin import InviteClientView, ModuleMenuItemMixin, ReadOnlyViewSetMixin
from site_core.access.event_admin import DeliveryViewSet
from site_core.practice.models import ClientMembership


class ClientIndexView(IndexView):
    """The clients listing, with "Invite a client" for whoever administers a practice."""

    @cached_property
    def header_buttons(self):
        buttons = list(super().header_buttons)
        if access.administers_any(self.request.user):
            buttons.append(HeaderButton(_("Invite a client"), url=reverse("practice_clients:invite"),
                                        icon_name="mail"))
        return buttons


class ClientViewSet(ReadOnlyViewSetMixin, ModuleMenuItemMixin, ModelViewSet):
    """A practice's clients: the people who signed up, booked or were invited on its site."""

    model = ClientMembership
    index_view_class = ClientIndexView
    owner_path = None
    site_path = "site"
    icon = "group"
    menu_label = _("Clients")
    menu_order = 215
    add_to_admin_menu = True
    list_display = ["user", Column("email", label=_("email"), accessor=lambda row: row.user.email), "site",
                    "source", "created_at"]
    list_filter = ["source"]
    search_fields = ["user__email", "user__first_name", "user__last_name"]
    inspect_view_fields = ["user", "site", "source", "created_at"]
    list_export = ["user.first_name", "user.last_name", "user.email", "site", "source", "created_at"]
    export_headings = {"user.first_name": _("first name"), "user.last_name": _("last name"),
                       "user.email": _("email")}
    export_filename = "clients"

    def get_queryset(self, request):
        return ClientMembership.objects.select_related("user", "site")

    def get_urlpatterns(self):
        return [
            path("", self.index_view, name="index"),
            path("results/", self.index_results_view, name="index_results"),
            path("inspect/<int:pk>/", self.inspect_view, name="inspect"),
            path("invite/", InviteClientView.as_view(), name="invite"),
        ]


@hooks.register("register_admin_viewset")
def register_client_viewset():
    return ClientViewSet("practice_clients")


@hooks.register("register_admin_viewset")
def register_delivery_viewset():
    return DeliveryViewSet("event_deliveries", url_prefix="event-deliveries")


@hooks.register("construct_page_chooser_queryset")
def pages_of_own_practices(pages, request):
    """The page chooser (links in rich text, page fields) offers the pages of the user's
    practices only."""
    user = request.user
    if access.is_install_owner(user):
        return pages
    sites = list(access.administered_sites(user)) + list(access.expert_sites(user))
    return access.pages_of_sites(pages, sites) | pages.filter(depth=1)


@hooks.register("construct_explorer_page_queryset")
def explorer_own_practices(parent_page, pages, request):
    """The explorer (its listing, search and the sidebar's menu) keeps to the user's
    practices, whatever page permissions a group was given by hand."""
    user = request.user
    if access.is_install_owner(user):
        return pages
    sites = list(access.administered_sites(user)) + list(access.expert_sites(user))
    return access.pages_of_sites(pages, sites)


@hooks.register("construct_reports_menu")
def owner_only_reports(request, menu_items):
    if not access.is_install_owner(request.user):
        menu_items[:] = [item for item in menu_items if item.name not in access.OWNER_ONLY_REPORTS]


def _choosable_only(viewset):
    """An admin API endpoint of images or documents that answers only what the user may
    choose or edit (Wagtail's lists every one to anyone with admin access)."""
    from wagtail.permissions import policy_registry

    class ChoosableOnly(viewset):
        def get_queryset(self):
            policy = policy_registry.get_by_type(self.model)
            allowed = policy.instances_user_has_any_permission_for(self.request.user, ["choose", "change"])
            return super().get_queryset().filter(pk__in=allowed.values("pk"))

    ChoosableOnly.__name__ = ChoosableOnly.__qualname__ = viewset.__name__
    return ChoosableOnly


@hooks.register("construct_admin_api", order=100)
def media_of_own_practices_in_the_admin_api(router):
    """The admin API's images and documents (after Wagtail registers them): a practice's staff
    get their practice's collection only, like the choosers and listings."""
    from wagtail.documents.api.admin.views import DocumentsAdminAPIViewSet
    from wagtail.images.api.admin.views import ImagesAdminAPIViewSet

    router.register_endpoint("images", _choosable_only(ImagesAdminAPIViewSet))
    router.register_endpoint("documents", _choosable_only(DocumentsAdminAPIViewSet))
