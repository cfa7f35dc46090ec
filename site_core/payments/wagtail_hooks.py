from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.panels import ObjectList, extract_panel_definitions_from_model_class
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet

from site_core.access.admin import ModuleMenuItemMixin
from site_core.base.admin_columns import MoneyColumn
from site_core.modules import hooks as cabinet_hooks
from site_core.payments.admin_views import PaymentViewSet
from site_core.payments.forms import PromoCodeAdminForm
from site_core.payments.models import PromoCode


@hooks.register("register_admin_viewset")
def register_payment_viewset():
    return PaymentViewSet("payment_admin")


class PromoCodeViewSet(ModuleMenuItemMixin, SnippetViewSet):
    """Promo codes of the practices the user administers (the install owner: all)."""

    model = PromoCode
    site_path = "site"
    owner_path = None
    icon = "tag"
    menu_label = _("Promo codes")
    menu_order = 230
    add_to_admin_menu = True
    list_display = ["code", "kind", "percent", MoneyColumn("amount", model=PromoCode, currency_field="currency"),
                    "expert", "valid_until", "active"]
    list_filter = ["active", "kind", "expert"]
    search_fields = ["code"]

    def get_edit_handler(self):
        # The model's own fields, in a form that types the amounts in the code's currency.
        panels = extract_panel_definitions_from_model_class(self.model, exclude=["currency"])
        return ObjectList(panels, base_form_class=PromoCodeAdminForm).bind_to_model(self.model)


register_snippet(PromoCodeViewSet)


@hooks.register(cabinet_hooks.REGISTER_EXPERT_PERMISSIONS)
def expert_payment_permissions():
    # Experts see their own clients' payments (the views filter by expert).
    return ["payments.view_payment"]


@hooks.register("register_icons")
def credit_card_icon(icons):
    # Wagtail's icon set has no card; the Payments menu uses this one.
    return [*icons, "payments/icons/credit-card.svg"]
