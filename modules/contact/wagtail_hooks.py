from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.viewsets.model import ModelViewSet

from modules.contact.models import ContactMessage
from site_core.access.admin import ModuleMenuItemMixin
from site_core.modules import hooks as cabinet_hooks
from site_core.pages.sections import PageSection


@hooks.register(cabinet_hooks.REGISTER_EXPERT_PAGE_SECTIONS)
def languages_and_contact_section(page, request):
    if not page.languages_spoken and not page.expert_id:
        return None
    return PageSection(
        key="contact",
        title=_("Languages and contact"),
        template="contact/section.html",
        context={"languages": page.language_names, "can_write": bool(page.expert_id)},
        order=900,
    )


@hooks.register(cabinet_hooks.REGISTER_EXPERT_PERMISSIONS)
def expert_permissions():
    return ["contact.view_contactmessage", "contact.change_contactmessage"]


class ContactMessageViewSet(ModuleMenuItemMixin, ModelViewSet):
    model = ContactMessage
    module_label = "contact"
    icon = "mail"
    menu_label = _("Messages")
    menu_order = 210
    add_to_admin_menu = True
    list_display = ["name", "expert", "email", "created_at", "handled"]
    list_filter = ["handled", "expert"]
    search_fields = ["name", "email", "message"]
    form_fields = ["handled"]
    inspect_view_enabled = True
    copy_view_enabled = False
    # Each view shows an expert only their own messages: ModuleMenuItemMixin
    # (owner_path "expert").


@hooks.register("register_admin_viewset")
def register_contact_viewset():
    return ContactMessageViewSet("contact_messages")
