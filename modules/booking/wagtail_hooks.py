from django.utils.translation import gettext_lazy as _
from wagtail import hooks

from modules.booking.models import Mode, Offering, Product
from site_core import hooks as cabinet_hooks
from site_core.money import Money
from site_core.sections import PageSection


@hooks.register(cabinet_hooks.REGISTER_PAYMENT_PURPOSES)
def booking_purpose():
    return {"booking": _("Consultation")}


def _currency(request):
    from site_core.models import PracticeSettings

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
    return PageSection(key="consultations", title=_("Consultations and prices"),
                       template="booking/section.html", context={"rows": rows}, order=100)


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
