"""Wagtail admin for payments: read-only list and detail, refunds with a confirmation step,
and turning a payment into a promo code for the client."""


from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from wagtail.admin.viewsets.model import ModelViewSet

from site_core.access.admin import ReadOnlyViewSetMixin, ScopedFiltersMixin, own_rows
from site_core.base.money import Money, input_text
from site_core.payments import services
from site_core.payments.forms import RefundForm
from site_core.payments.models import Payment, PaymentLog
from site_core.payments.providers import ProviderError
from site_core.payments.registry import UnknownProvider


def can_move_money(user, payment=None):
    """Refunds and credits: the install owner, or an administrator of the payment's practice
    (with the refund permission); never an expert."""
    from site_core.access import is_practice_admin

    if not (user.is_superuser or user.has_perm("payments.add_refund")):
        return False
    return payment is None or is_practice_admin(user, payment.order.site)


def own_payment(request, pk):
    payment = get_object_or_404(
        own_rows(Payment.objects.select_related("order__client", "order__expert", "order__site"), request.user,
                 "order__expert", "order__site"),
        pk=pk,
    )
    return payment


class PaymentViewSet(ReadOnlyViewSetMixin, ModelViewSet):
    model = Payment
    icon = "credit-card"
    menu_label = gettext_lazy("Payments")
    menu_order = 220
    add_to_admin_menu = True
    list_display = ["__str__", "order", "status_display", "created_at"]
    list_filter = {
        "state": ["exact"],
        "provider": ["exact"],
        "order__expert": ["exact"],
        "created_at": ["date__gte", "date__lte"],
    }
    search_fields = ["reference", "order__client__email", "order__client__last_name"]
    inspect_template_name = "payments/admin/inspect.html"

    def get_urlpatterns(self):
        return [
            path("", self.index_view, name="index"),
            path("results/", self.index_results_view, name="index_results"),
            path("inspect/<int:pk>/", self.inspect_view, name="inspect"),
            path("refund/<int:pk>/", self.refund_view, name="refund"),
            path("promo-code/<int:pk>/", self.promo_code_view, name="promo_code"),
        ]

    @property
    def index_view_class(self):
        base = super().index_view_class

        class OwnPayments(ScopedFiltersMixin, base):
            def get_base_queryset(self):
                return own_rows(super().get_base_queryset().select_related("order__expert", "order__client")
                                .prefetch_related("refunds"), self.request.user, "order__expert", "order__site")

        return OwnPayments

    @property
    def inspect_view_class(self):
        base = super().inspect_view_class
        viewset = self

        class PaymentInspect(base):
            def get_object(self, queryset=None):
                return own_payment(self.request, self.pk)

            def get_context_data(self, **kwargs):
                context = super().get_context_data(**kwargs)
                payment = self.object
                context.update(
                    payment=payment,
                    order=payment.order,
                    lines=payment.order.lines.all(),
                    log=PaymentLog.objects.filter(payment=payment).select_related("user", "refund"),
                    refunds=payment.refunds.all(),
                    can_move_money=can_move_money(self.request.user, payment),
                    refund_url=reverse(viewset.get_url_name("refund"), args=[payment.pk]),
                    promo_url=reverse(viewset.get_url_name("promo_code"), args=[payment.pk]),
                    promo_codes=payment.issued_promo_codes.all(),
                    authorized=Money(payment.authorized_amount or 0, payment.currency),
                )
                return context

        return PaymentInspect

    def refund_view(self, request, pk):
        payment = own_payment(request, pk)
        if not can_move_money(request.user, payment):
            raise PermissionDenied
        inspect_url = reverse(self.get_url_name("inspect"), args=[payment.pk])
        refundable = Money(payment.refundable_amount, payment.currency)
        confirming = False
        status = 200
        if request.method == "POST":
            form = RefundForm(request.POST, currency=payment.currency)
            if form.is_valid():
                amount = form.cleaned_data["amount"]
                if form.cleaned_data["confirm"]:
                    try:
                        services.refund(payment, amount, reason=form.cleaned_data["reason"], user=request.user)
                    except (services.PaymentRefused, ProviderError, UnknownProvider) as exc:
                        form.add_error("amount", str(exc))
                        status = 400
                    else:
                        messages.success(request, _("Refunded %(amount)s.") % {
                            "amount": Money(amount, payment.currency).format()})
                        return redirect(inspect_url)
                elif 0 < amount <= payment.refundable_amount:
                    confirming = True
                else:
                    form.add_error("amount", _("Enter an amount between 0 and %(max)s.") % {"max": refundable.format()})
                    status = 400
            else:
                status = 400
        else:
            form = RefundForm(initial={"amount": payment.refundable_amount}, currency=payment.currency)
        return TemplateResponse(request, "payments/admin/refund.html", {
            "payment": payment, "form": form, "confirming": confirming, "refundable": refundable,
            "inspect_url": inspect_url,
            "amount_money": Money(form.cleaned_data["amount"], payment.currency) if confirming else None,
            "amount_input": input_text(form.cleaned_data["amount"], payment.currency) if confirming else "",
            "header_icon": "credit-card", "page_title": _("Refund"),
        }, status=status)

    def promo_code_view(self, request, pk):
        payment = own_payment(request, pk)
        if not can_move_money(request.user, payment):
            raise PermissionDenied
        inspect_url = reverse(self.get_url_name("inspect"), args=[payment.pk])
        if request.method != "POST":
            return redirect(inspect_url)
        try:
            promo = services.issue_promo_code_for_payment(payment, user=request.user)
        except services.PaymentRefused as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("Promo code %(code)s created for %(client)s.") % {
                "code": promo.code, "client": payment.order.client})
        return redirect(inspect_url)
