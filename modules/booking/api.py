"""The booking part of the JSON API: experts, offerings, free slots, one's own bookings."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from ninja import Field, Header, Router, Schema, Status
from ninja.errors import HttpError
from ninja.security import django_auth
from pydantic import StrictInt

from modules.booking import availability, services
from modules.booking.models import Appointment, Mode, Product
from site_core.access import ratelimits
from site_core.api import InputSchema, require_module
from site_core.base.money import Money
from site_core.pages.models import ExpertPage

router = Router(tags=["booking"])
MAX_SLOT_DAYS = 31
#: An Idempotency-Key: 1 to 80 visible ASCII characters (a UUID fits).
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,80}")


class Error(Schema):
    detail: str
    code: str = "invalid"
    field: str | None = None


class Fault(Schema):
    field: str | None = None
    detail: str


class InvalidInput(Error):
    errors: list[Fault] = []


class ExpertOut(Schema):
    slug: str
    name: str
    specialty: str
    url: str
    modes: list[str]


class ProductOut(Schema):
    product: str
    price: int = Field(description="In minor units (cents); per minute for per_minute")
    price_display: str = Field("", description="The price as the language of the request writes it "
                                               "(\"45,00 €\", \"€45.00\"), or \"Free\"")
    free: bool = Field(False, description="A free consultation: booked without any payment")
    minutes: int | None = None


class OfferingOut(Schema):
    mode: str
    currency: str
    products: list[ProductOut]
    instant_rate: int | None = None


class SlotsOut(Schema):
    expert: str
    mode: str
    minutes: int
    slots: list[datetime]


class BookingIn(InputSchema):
    expert: str = Field(max_length=255, description="The expert's slug")
    mode: Mode
    product: Product
    starts_at: datetime = Field(description="A free start time from the slots endpoint, with its UTC offset")
    budget_minutes: StrictInt | None = Field(None, ge=1, le=240,
                                             description="per_minute: the minutes the budget buys")
    phone: str = Field("", max_length=32)
    promo_code: str = Field("", max_length=40)
    note: str = Field("", max_length=2000)
    time_zone: str = Field("", max_length=64, description="The client's IANA time zone, for emails")


class BookingOut(Schema):
    code: str
    expert: str
    mode: str
    product: str
    state: str
    starts_at: datetime
    ends_at: datetime
    minutes: int
    currency: str
    total: int | None
    free: bool = Field(False, description="Free: no order, no payment; confirmed or waiting for the expert")
    checkout_url: str | None


def _pages(site, root=None):
    """The site's live expert pages in the client's language: each language has its own tree,
    whose root is the translation of the site's root page (the French one, by default)."""
    root = root or site.root_page.localized
    return (ExpertPage.objects.live().public().descendant_of(root)
            .filter(expert__isnull=False, locale_id=root.locale_id)
            .select_related("expert", "locale"))


def _page(site, slug):
    """The expert page with ``slug``, in the client's language if it has one there."""
    page = _pages(site).filter(slug=slug).first() or _pages(site, site.root_page).filter(slug=slug).first()
    if page is None:
        raise HttpError(404, _("No expert with this slug."))
    return page


def _booking_out(appointment) -> BookingOut:
    order = appointment.order
    free = order is None and appointment.unit_price == 0 and not appointment.instant
    return BookingOut(
        code=appointment.code, expert=appointment.expert.name, mode=appointment.mode, product=appointment.product,
        state=appointment.state, starts_at=appointment.starts_at, ends_at=appointment.ends_at,
        minutes=appointment.minutes, currency=appointment.currency,
        total=order.total if order else (0 if free else None), free=free,
        checkout_url=reverse("payments:checkout", args=[order.public_id])
        if order and appointment.state == Appointment.State.HELD else None,
    )


def _product_out(product, price, minutes, currency) -> ProductOut:
    return ProductOut(product=product, price=price, minutes=minutes, free=price == 0,
                      price_display=str(_("Free")) if price == 0 else Money(price, currency).format())


@router.get("/experts", response=list[ExpertOut], summary="The practice's experts")
def list_experts(request):
    site = require_module(request, "booking")
    pages = list(_pages(site))
    offerings = availability.bookable_offerings([p.expert_id for p in pages])
    # get_url: relative on the site asked, whatever the number of sites.
    return [ExpertOut(slug=p.slug, name=p.display_name or p.title, specialty=p.specialty,
                      url=p.get_url(request) or "",
                      modes=sorted(offerings[p.expert_id])) for p in pages]


@router.get("/experts/{slug}/offerings", response={200: list[OfferingOut], 404: Error})
def list_offerings(request, slug: str):
    site = require_module(request, "booking")
    page = _page(site, slug)
    from site_core.practice.models import PracticeSettings

    currency = PracticeSettings.for_site(site).currency
    return Status(200, [
        OfferingOut(mode=o.mode, currency=currency, instant_rate=o.instant_rate or None,
                    products=[_product_out(p, price, m, currency) for p, price, m in o.products()])
        for o in availability.bookable_offerings([page.expert_id])[page.expert_id].values()
    ])


@router.get("/experts/{slug}/slots", response={200: SlotsOut, 400: Error, 404: Error},
            summary="Free start times (UTC) for a product")
def list_slots(request, slug: str, mode: Mode, product: Product, budget_minutes: int | None = None,
               start: datetime | None = None, days: int = 7):
    site = require_module(request, "booking")
    page = _page(site, slug)
    if not 1 <= days <= MAX_SLOT_DAYS:
        return Status(400, Error(detail=_("days must be between 1 and %(most)d.") % {"most": MAX_SLOT_DAYS},
                                 field="days"))
    try:
        _offering, _unit, minutes, _total = services.quote(page.expert, mode, product, budget_minutes)
    except services.BookingError as error:
        return Status(400, Error(detail=error.message, code=error.code, field=error.field))
    now = timezone.now()
    if start is not None and timezone.is_naive(start):
        return Status(400, Error(detail=_("start must carry a time zone offset (e.g. +01:00 or Z)."), field="start"))
    begin = max(start or now, now)
    if begin - now > timedelta(days=366):
        return Status(400, Error(detail=_("start is too far ahead."), field="start"))
    slots = availability.free_slots(page.expert, mode, minutes, begin, begin + timedelta(days=days), now)
    return Status(200, SlotsOut(expert=page.slug, mode=mode, minutes=minutes, slots=slots))


AUTH_ERRORS = {401: Error, 403: Error, 422: InvalidInput}


@router.post("/bookings", auth=django_auth,
             response={201: BookingOut, 400: Error, 404: Error, 409: Error, 429: Error, **AUTH_ERRORS},
             summary="Hold a slot and open its order; pay at checkout_url. Honours Idempotency-Key.")
def create_booking(request, data: BookingIn, response: HttpResponse, idempotency_key: str | None = Header(
        None, alias="Idempotency-Key", description="Sent again with the same booking: the first request's answer "
        "(201 and the booking, with Idempotent-Replayed: true), never a second booking, even while the first is "
        "still being made (the retry waits for it, or after a few seconds answers 409 idempotency_key_in_use "
        "with Retry-After); sent with another booking: 422")):
    site = require_module(request, "booking")
    key = idempotency_key or ""
    if key and not IDEMPOTENCY_KEY.fullmatch(key):
        return Status(400, Error(detail=_("Idempotency-Key must be 1 to 80 visible ASCII characters."),
                                 field="idempotency_key"))
    if timezone.is_naive(data.starts_at):
        return Status(400, Error(detail=_("starts_at must carry a time zone offset (e.g. +01:00 or Z)."),
                                 field="starts_at"))
    page = _page(site, data.expert)
    try:
        ratelimits.hit(request, "booking")
        if data.promo_code.strip():
            ratelimits.hit(request, "promo_code")
    except ratelimits.RateLimited as refused:
        response["Retry-After"] = str(refused.retry_after)
        return Status(429, Error(detail=refused.message, code="rate_limited"))
    try:
        book = services.secure_free if services.is_free(page.expert, data.mode, data.product) else services.hold
        appointment = book(services.BookingRequest(
            site=site, expert=page.expert, client=request.user, mode=data.mode, product=data.product,
            starts_at=data.starts_at, budget_minutes=data.budget_minutes, phone=data.phone,
            promo_code=data.promo_code.strip().upper(), note=data.note,
            language=(translation.get_language() or "fr")[:2], client_time_zone=data.time_zone,
            idempotency_key=key,
        ))
    except services.SlotTaken as error:
        return Status(409, Error(detail=error.message, code=error.code, field="starts_at"))
    except services.KeyInUse as error:
        response["Retry-After"] = str(error.retry_after)
        return Status(409, Error(detail=error.message, code=error.code, field=error.field))
    except services.BookingError as error:
        status = {"idempotency_key_reused": 422, "hold_limit": 409}.get(error.code, 400)
        return Status(status, Error(detail=error.message, code=error.code, field=error.field))
    if getattr(appointment, "replayed", False):
        # The IETF Idempotency-Key draft: a retry gets the result of the request it repeats.
        response["Idempotent-Replayed"] = "true"
    # A free order (a 100 % promo code) is confirmed as the hold commits: answer what is stored.
    appointment.refresh_from_db()
    return Status(201, _booking_out(appointment))


def _own(request, code):
    site = require_module(request, "booking")
    return get_object_or_404(Appointment.objects.select_related("order", "expert"), code=code.upper()[:16],
                             client=request.user, site=site)


@router.get("/bookings/{code}", auth=django_auth, response={200: BookingOut, 404: Error, **AUTH_ERRORS})
def read_booking(request, code: str):
    return Status(200, _booking_out(_own(request, code)))


@router.post("/bookings/{code}/cancel", auth=django_auth,
             response={200: BookingOut, 404: Error, 409: Error, **AUTH_ERRORS})
def cancel_booking(request, code: str):
    appointment = _own(request, code)
    try:
        if appointment.state == Appointment.State.HELD:
            appointment = services.release_hold(appointment, reason="client canceled")
        else:
            appointment = services.cancel(appointment, by="client")
    except services.BookingError as error:
        return Status(409, Error(detail=error.message, code=error.code))
    return Status(200, _booking_out(appointment))
