"""The booking form in three steps (seed 000), from an expert's page.

1. how (chat, video, phone + the number to call), when (now or by
   appointment), an optional promo code;
2. what (per minute with a maximum budget, a short or a long package), and,
   by appointment, the time, shown in the client's own time zone;
3. who (log in or create an account inline) and payment, through the
   payments kernel's checkout (card or PayPal).

The choices travel in the session, one entry per expert page; nothing is
written before step 3, where the slot is held while the client pays.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from itertools import groupby
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth import authenticate, login
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from modules.booking import availability, notifications, services
from modules.booking.forms import (
    WHEN_NOW,
    GuestLoginForm,
    GuestSignupForm,
    ModeForm,
    ProductForm,
    SlotForm,
    valid_time_zone,
)
from modules.booking.models import Appointment, Mode, Product
from site_core.context import current_site
from site_core.lookups import expert_page_or_404
from site_core.models import ExpertPage, PracticeSettings
from site_core.money import Money
from site_core.payments.services import PromoCodeError, check_promo_code

SESSION_PREFIX = "cabinet:booking:"


def _state(request, page):
    return request.session.get(f"{SESSION_PREFIX}{page.pk}", {})


def _save_state(request, page, **values):
    state = {**_state(request, page), **values}
    request.session[f"{SESSION_PREFIX}{page.pk}"] = state
    return state


def _clear_state(request, page):
    request.session.pop(f"{SESSION_PREFIX}{page.pk}", None)


def _last_key(page):
    """The session key of the reservation code this session last held with this expert page."""
    return f"{SESSION_PREFIX}last:{page.pk}"


def _already_booked(request, page):
    """This session's last booking with this expert, when it is still the client's and under
    way: pressing Back after paying leads to it rather than to an empty form. Else None."""
    code = request.session.get(_last_key(page))
    site = current_site()
    if not code or not request.user.is_authenticated or site is None:
        return None
    return Appointment.objects.select_related("order").filter(
        code=code, client=request.user, site=site, expert=page.expert,
        state__in=[*Appointment.LIVE_STATES, Appointment.State.COMPLETED]).first()


def _practice(request):
    return PracticeSettings.for_request(request)


def _client_zone(request, state):
    """The zone the client reads times in, by the rule of ``Appointment.client_zone``: the one
    their profile names, else their browser's (posted at step 1), else the practice's."""
    profile_zone = getattr(request.user, "time_zone", "") if request.user.is_authenticated else ""
    return ZoneInfo(valid_time_zone(profile_zone, "") or valid_time_zone(state.get("time_zone", ""),
                                                                         _practice(request).time_zone))


def _offerings(expert):
    return availability.bookable_offerings([expert.pk])[expert.pk]


def _context(request, page, step, **extra):
    return {"expert_page": page, "expert": page.expert, "step": step, "steps": 3, **extra}


def start(request, page_id):
    """Step 1: mode, phone, now or by appointment, promo code."""
    page = expert_page_or_404(page_id)
    expert = page.expert
    offerings = _offerings(expert)
    profile = availability.profile_for(expert)
    modes = list(offerings)
    has_slots = availability.has_availability(expert)
    instant_modes = [m for m in modes if offerings[m].instant_rate] if profile.is_available_now() else []
    if not modes or (not has_slots and not instant_modes):
        return render(request, "booking/unavailable.html", _context(request, page, 1, has_offer=bool(modes)))
    state = _state(request, page)
    form = ModeForm(request.POST or None, modes=modes, instant_modes=instant_modes,
                    initial={k: state.get(k) for k in ("mode", "when", "phone", "promo_code")} if state else None)
    if request.method == "POST":
        if form.is_valid() and _promo_code_usable(request, page, form):
            data = form.cleaned_data
            _save_state(request, page, mode=data["mode"], when=data["when"], phone=data["phone"],
                        promo_code=data["promo_code"], time_zone=data["time_zone"])
            return redirect("booking:product", page_id=page.pk)
        return render(request, "booking/step_mode.html", _context(request, page, 1, form=form), status=400)
    return render(request, "booking/step_mode.html", _context(request, page, 1, form=form))


def _promo_code_usable(request, page, form):
    """Step 1 refuses a promo code that cannot be used here, before an account is made at
    step 3. The amount is not known yet: its minimum is checked when the order is made."""
    code = form.cleaned_data.get("promo_code")
    if not code:
        return True
    try:
        check_promo_code(site=current_site(), code=code,
                         client=request.user if request.user.is_authenticated else None,
                         expert=page.expert, currency=_practice(request).currency, subtotal=None)
    except PromoCodeError as error:
        if error.reason == "other_client" and not request.user.is_authenticated:
            return True  # maybe theirs: checked again once they log in at step 3
        form.add_error("promo_code", str(error))
        return False
    return True


def _product_choices(offering, currency, instant=False):
    if instant:
        return [(Product.PER_MINUTE, _("Per minute: %(price)s") % {"price": Money(offering.instant_rate, currency)})]
    choices = []
    for product, price, minutes in offering.products():
        money = _("Free") if price == 0 else Money(price, currency)
        if product == Product.PER_MINUTE:
            label = _("Per minute: %(price)s") % {"price": money}
        else:
            label = _("%(label)s, %(minutes)d min: %(price)s") % {
                "label": Product(product).label, "minutes": minutes, "price": money}
        choices.append((product, label))
    return choices


def product(request, page_id):
    """Step 2: the product, and per minute the budget and the minutes it buys."""
    page = expert_page_or_404(page_id)
    state = _state(request, page)
    offering = _offerings(page.expert).get(state.get("mode"))
    if offering is None:
        return redirect("booking:start", page_id=page.pk)
    currency = _practice(request).currency
    instant = state.get("when") == WHEN_NOW
    per_minute = offering.instant_rate if instant else offering.price_per_minute
    form = ProductForm(request.POST or None, products=_product_choices(offering, currency, instant),
                       per_minute_price=per_minute,
                       initial={"product": state.get("product"), "budget_minutes": state.get("budget_minutes") or 20})
    if request.method == "POST":
        if form.is_valid():
            _save_state(request, page, product=form.cleaned_data["product"],
                        budget_minutes=form.cleaned_data["budget_minutes"])
            return redirect("booking:confirm" if instant else "booking:slot", page_id=page.pk)
        status = 400
    else:
        status = 200
    budgets = [{"minutes": m, "amount": Money(per_minute * m, currency)} for m in (10, 20, 30, 45, 60)] \
        if per_minute else []
    return render(request, "booking/step_product.html", _context(
        request, page, 2, form=form, offering=offering, per_minute=Money(per_minute or 0, currency),
        per_minute_cents=per_minute or 0, currency=currency, budgets=budgets, instant=instant), status=status)


def slot(request, page_id):
    """Step 2, by appointment: the free times of one day at a time, in the client's zone."""
    page = expert_page_or_404(page_id)
    state = _state(request, page)
    try:
        _offering, _unit, minutes, _total = services.quote(page.expert, state.get("mode"), state.get("product"),
                                                           state.get("budget_minutes"))
    except services.BookingError:
        return redirect("booking:start", page_id=page.pk)
    zone = _client_zone(request, state)
    now = timezone.now()
    free = availability.free_slots(page.expert, state["mode"], minutes, now,
                                   availability.booking_horizon_end(page.expert, now), now)
    days = [(day, list(group)) for day, group in groupby(free, key=lambda s: s.astimezone(zone).date())]
    if not days:
        return render(request, "booking/no_slot.html", _context(request, page, 2), status=200)
    wanted = request.GET.get("day") or request.POST.get("day")
    day_index = next((i for i, (day, _s) in enumerate(days) if day.isoformat() == wanted), 0)
    day, day_slots = days[day_index]
    form = SlotForm(request.POST or None, slots=free, initial={"note": state.get("note", "")})
    if request.method == "POST":
        if form.is_valid():
            _save_state(request, page, starts_at=form.cleaned_data["starts_at"].isoformat(),
                        note=form.cleaned_data["note"])
            return redirect("booking:confirm", page_id=page.pk)
        status = 400
    else:
        status = 200
    return render(request, "booking/step_slot.html", _context(
        request, page, 2, form=form, days=[d for d, _s in days], day=day,
        day_slots=[(s.isoformat(), s.astimezone(zone)) for s in day_slots],
        zone=str(zone), minutes=minutes), status=status)


def _summary(request, page, state):
    offering = _offerings(page.expert).get(state.get("mode"))
    if offering is None or not state.get("product"):
        return None
    zone = _client_zone(request, state)
    starts_at = datetime.fromisoformat(state["starts_at"]) if state.get("starts_at") else None
    try:
        _offering, unit, minutes, total = services.quote(page.expert, state["mode"], state["product"],
                                                         state.get("budget_minutes"),
                                                         instant=state.get("when") == WHEN_NOW)
    except services.BookingError:
        return None
    currency = _practice(request).currency
    return {
        "mode": Mode(state["mode"]).label, "product": Product(state["product"]).label,
        "minutes": minutes, "total": Money(total, currency), "unit": Money(unit, currency),
        "per_minute": state["product"] == Product.PER_MINUTE, "phone": state.get("phone"),
        "starts_at": starts_at.astimezone(zone) if starts_at else None, "zone": str(zone),
        "promo_code": state.get("promo_code"), "instant": state.get("when") == WHEN_NOW,
        "free": services.is_free(page.expert, state["mode"], state["product"], instant=state.get("when") == WHEN_NOW),
    }


def confirm(request, page_id):
    """Step 3: who is booking (log in or sign up inline), then the slot is held and the
    client goes to the payment page."""
    page = expert_page_or_404(page_id)
    state = _state(request, page)
    summary = _summary(request, page, state)
    if summary is None or (not summary["instant"] and not summary["starts_at"]):
        booked = None if state else _already_booked(request, page)
        if booked is None:
            return redirect("booking:start", page_id=page.pk)
        messages.info(request, _("This booking is already made."))
        if booked.state == Appointment.State.HELD and booked.order_id:
            return redirect("payments:checkout", public_id=booked.order.public_id)
        return redirect("booking:done", code=booked.code)
    signup_form = GuestSignupForm(prefix="signup")
    login_form = GuestLoginForm(prefix="login")
    if request.method == "POST":
        if not request.user.is_authenticated:
            user, signup_form, login_form = _guest(request, signup_form, login_form)
            if user is None:
                return render(request, "booking/step_confirm.html", _context(
                    request, page, 3, summary=summary, signup_form=signup_form, login_form=login_form,
                    idempotency_key=request.POST.get("idempotency_key", "")), status=400)
        book = services.secure_free if summary["free"] else services.hold
        try:
            appointment = book(_booking_request(request, page, state))
        except services.BookingError as error:
            messages.error(request, error.message)
            target = "booking:slot" if error.field == "starts_at" or error.code == "slot_taken" else "booking:start"
            if error.field in ("product", "budget_minutes"):
                target = "booking:product"
            return redirect(target, page_id=page.pk)
        _clear_state(request, page)
        request.session[_last_key(page)] = appointment.code
        if appointment.order_id is None:  # a free consultation: no payment step
            return redirect("booking:done", code=appointment.code)
        return redirect("payments:checkout", public_id=appointment.order.public_id)
    return render(request, "booking/step_confirm.html", _context(
        request, page, 3, summary=summary, signup_form=signup_form, login_form=login_form,
        idempotency_key=uuid.uuid4().hex))


def _guest(request, signup_form, login_form):
    """Logs in, or creates the account of, a visitor at step 3. (user or None, forms)."""
    if request.POST.get("account") == "login":
        login_form = GuestLoginForm(request.POST, prefix="login")
        if login_form.is_valid():
            user = authenticate(request, username=login_form.cleaned_data["login_email"],
                                password=login_form.cleaned_data["login_password"])
            if user is not None:
                login(request, user)
                return user, signup_form, login_form
            login_form.add_error(None, _("This email and password do not match an account."))
        return None, signup_form, login_form
    signup_form = GuestSignupForm(request.POST, prefix="signup")
    if not signup_form.is_valid():
        return None, signup_form, login_form
    user, address = _create_account(request, signup_form.cleaned_data)
    # The booking goes on at once; the address is confirmed by the link we send.
    address.send_confirmation(request, signup=True)
    return user, signup_form, login_form


@transaction.atomic
def _create_account(request, data):
    from allauth.account.models import EmailAddress

    from site_core.models import User

    user = User.objects.create_user(
        username=data["email"], email=data["email"], password=data["password"],
        first_name=data["first_name"].strip(), last_name=data["last_name"].strip(),
        language=(translation.get_language() or "fr")[:2],
    )
    address = EmailAddress.objects.create(user=user, email=data["email"], primary=True, verified=False)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return user, address


def _booking_request(request, page, state):
    return services.BookingRequest(
        site=current_site(), expert=page.expert, client=request.user, mode=state["mode"],
        product=state["product"],
        starts_at=datetime.fromisoformat(state["starts_at"]) if state.get("starts_at") else None,
        budget_minutes=state.get("budget_minutes"), phone=state.get("phone", ""),
        promo_code=state.get("promo_code", ""), note=state.get("note", ""),
        language=(translation.get_language() or "fr")[:2],
        client_time_zone=str(_client_zone(request, state)),
        instant=state.get("when") == WHEN_NOW,
        idempotency_key=request.POST.get("idempotency_key", "")[:80],
    )


def _own_appointment(request, code):
    appointment = get_object_or_404(Appointment.objects.select_related("expert", "order"), code=code.upper())
    site = current_site()
    if appointment.client_id != request.user.pk or site is None or appointment.site_id != site.pk:
        raise Http404
    return appointment


@login_required
def done(request, code):
    """After payment: the reservation code and what happens next."""
    appointment = _own_appointment(request, code)
    return render(request, "booking/done.html", {
        "appointment": appointment, "zone": appointment.client_zone,
        "total": Money(appointment.order.total, appointment.currency) if appointment.order else None,
        "free": appointment.order_id is None and appointment.unit_price == 0 and not appointment.instant,
        "payment_status": appointment.payment_status,
        "room_path": notifications.room_path(appointment) if appointment.is_live else None,
        "can_move": _move_refusal(appointment, timezone.now()) is None,
    })


@login_required
def abandon(request, code):
    """The client leaves the payment page ("Cancel and go back"): GET asks, POST gives the
    held time back to others at once."""
    appointment = _own_appointment(request, code)
    page = ExpertPage.objects.live().filter(expert=appointment.expert).first()
    back = page.localized.url if page else "/"
    if request.method == "POST":
        # Only a held booking is given up; one already paid (even just now) stays as it is.
        released = appointment.state == Appointment.State.HELD and services.release_hold(
            appointment, reason="client gave up").state == Appointment.State.CANCELED
        if not released:
            return redirect("booking:done", code=appointment.code)
        messages.info(request, _("Your booking was not completed; the time was released."))
        return redirect(back)
    if appointment.state != Appointment.State.HELD:
        return redirect("booking:done", code=appointment.code)
    return render(request, "booking/abandon.html", {"appointment": appointment, "back": back,
                                                    "checkout": appointment.order})


def answer(request, token):
    """The expert's signed link (email, text message): confirm or decline a request without
    logging in. GET only shows it (mail scanners open links); POST acts."""
    appointment = notifications.read_answer_token(token)
    if appointment is None:
        return render(request, "booking/answer.html", {"invalid": True}, status=404)
    status = 200
    if request.method == "POST":
        try:
            if request.POST.get("action") == "confirm":
                appointment = services.confirm(appointment)
                messages.success(request, _("The consultation is confirmed; the client has been told."))
            elif request.POST.get("action") == "decline":
                appointment = services.decline(appointment, reason=request.POST.get("reason", "")[:300])
                messages.success(request, _("The request is declined; the client has been told and is not "
                                            "charged."))
            else:
                messages.error(request, _("Choose to confirm or to decline."))
                status = 400
        except services.BookingError as error:
            messages.error(request, error.message)
            status = 409
        if status == 200:
            return redirect("booking:answer", token=token)
    return render(request, "booking/answer.html", {"appointment": appointment, "zone": appointment.expert_zone},
                  status=status)


def calendar_feed(request, token):
    """An expert's private iCal feed (Google/Apple/Outlook calendars subscribe to it): their
    requests, confirmed and completed appointments from 30 days ago on. The secret token in
    the URL is the only key; "new address" on the dashboard replaces it (the old one answers
    404 from then on). A wrong, forged or retired token answers 404, like an unknown page."""
    expert = notifications.read_feed_token(token)
    if expert is None:
        raise Http404
    since = timezone.now() - timedelta(days=30)
    rows = (Appointment.objects.filter(expert=expert, ends_at__gte=since, state__in=list(notifications.FEED_STATUS))
            .select_related("expert", "site", "client").order_by("starts_at")[:1000])
    response = HttpResponse(notifications.expert_feed(expert, rows), content_type="text/calendar; charset=utf-8")
    # Never kept by a shared cache (a retired address must stop at once), never indexed.
    response["Cache-Control"] = "private, no-cache"
    response["X-Robots-Tag"] = "noindex"
    response["Referrer-Policy"] = "no-referrer"
    return response


@login_required
def appointment_ics(request, code):
    appointment = _own_appointment(request, code)
    response = HttpResponse(notifications.ics_for([appointment]), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="consultation-{appointment.code}.ics"'
    return response


@login_required
def cancel(request, code):
    """The client cancels: the page says what comes back before they confirm."""
    appointment = _own_appointment(request, code)
    allowed, percent = services.cancellation_terms(appointment, "client")
    if request.method == "POST":
        try:
            services.cancel(appointment, by="client", reason=request.POST.get("reason", "")[:300])
        except services.BookingError as error:
            messages.error(request, error.message)
            return redirect("booking:done", code=appointment.code)
        messages.success(request, _("Your consultation is canceled."))
        return redirect("booking:done", code=appointment.code)
    return render(request, "booking/cancel.html", {
        "appointment": appointment, "allowed": allowed and appointment.state in (
            Appointment.State.REQUESTED, Appointment.State.CONFIRMED),
        "percent": percent})


def _move_refusal(appointment, now):
    """Why the client may not move this appointment now (the service's own rule), or None."""
    refusal = services.reschedule_refusal(appointment, by="client", now=now)
    return refusal.message if refusal is not None else None


@login_required
def reschedule(request, code):
    """The client moves an appointment to another free time of the same length."""
    appointment = _own_appointment(request, code)
    zone = ZoneInfo(appointment.client_zone)
    now = timezone.now()
    refusal = _move_refusal(appointment, now)
    if refusal is not None:
        # Nothing to choose from; a POST changes nothing (the service would refuse it too).
        return render(request, "booking/reschedule.html", {
            "appointment": appointment, "refusal": refusal, "days": [], "zone": str(zone)},
            status=400 if request.method == "POST" else 200)
    free = availability.free_slots(appointment.expert, appointment.mode, appointment.minutes, now,
                                   availability.booking_horizon_end(appointment.expert, now), now,
                                   exclude_appointment=appointment)
    form = SlotForm(request.POST or None, slots=free)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.reschedule(appointment, form.cleaned_data["starts_at"], by="client")
            except services.BookingError as error:
                form.add_error("starts_at", error.message)
                status = 409 if error.code == "slot_taken" else 400
            else:
                messages.success(request, _("Your consultation has moved."))
                return redirect("booking:done", code=appointment.code)
        else:
            status = 400
    days = [(day, [(s.isoformat(), s.astimezone(zone)) for s in group])
            for day, group in groupby(free, key=lambda s: s.astimezone(zone).date())]
    return render(request, "booking/reschedule.html", {
        "appointment": appointment, "form": form, "days": days, "zone": str(zone)}, status=status)
