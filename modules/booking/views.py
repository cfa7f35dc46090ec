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

from allauth.account import app_settings as account_settings
from allauth.account.decorators import verified_email_required
from allauth.account.utils import complete_signup
from allauth.core import ratelimit
from allauth.core.exceptions import ImmediateHttpResponse
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from modules.booking import availability, notifications, services
from modules.booking.forms import (
    WHEN_NOW,
    ModeForm,
    ProductForm,
    SlotForm,
    guest_login_form,
    guest_signup_form,
    valid_time_zone,
)
from modules.booking.models import Appointment, Mode, Product
from site_core.access import ratelimits
from site_core.base.context import current_site
from site_core.base.money import Money
from site_core.pages.lookups import expert_page_or_404
from site_core.pages.models import ExpertPage
from site_core.payments.services import PromoCodeError, check_promo_code
from site_core.practice.models import PracticeSettings

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


@ratelimits.limit_posts("booking")
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
        try:
            usable = form.is_valid() and _promo_code_usable(request, page, form)
        except ratelimits.RateLimited as refused:
            form.add_error("promo_code", refused.message)
            response = render(request, "booking/step_mode.html", _context(request, page, 1, form=form), status=429)
            response["Retry-After"] = str(refused.retry_after)
            return response
        if usable:
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
    ratelimits.hit(request, "promo_code")  # guessing codes costs attempts
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


@ratelimits.limit_posts("booking")
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


@ratelimits.limit_posts("booking")
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


@ratelimits.limit_posts("booking")
def confirm(request, page_id):
    """Step 3: who is booking (log in or sign up inline, through allauth), then the slot is
    held and the client goes to the payment page."""
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
    if request.method == "GET" and not summary["instant"] and not _time_still_free(page, state):
        # Taken by someone else while this visitor signed up, confirmed their address or
        # simply waited: back to the times, everything else they chose kept.
        messages.error(request, _("The time you chose is no longer available: someone may have just booked it. "
                                  "Please choose another one; your other choices are kept."))
        return redirect("booking:slot", page_id=page.pk)
    signup_form = guest_signup_form()
    login_form = guest_login_form(request)
    if request.method == "POST":
        if not request.user.is_authenticated:
            response, signup_form, login_form = _guest(request, page, signup_form, login_form)
            if response is None:
                return render(request, "booking/step_confirm.html", _context(
                    request, page, 3, summary=summary, signup_form=signup_form, login_form=login_form,
                    idempotency_key=request.POST.get("idempotency_key", "")), status=400)
            if not request.user.is_authenticated:
                # allauth's next step (the code sent to confirm the address); once confirmed, it
                # brings the client back here, logged in, with their choices as they left them.
                return response
        unverified = _unverified_response(request)
        if unverified is not None:
            return unverified
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


def _time_still_free(page, state):
    """Whether the time in ``state`` is still one of the expert's free times (what the hold checks)."""
    try:
        _offering, _unit, minutes, _total = services.quote(page.expert, state["mode"], state["product"],
                                                           state.get("budget_minutes"))
    except services.BookingError:
        return False
    return availability.is_free(page.expert, state["mode"], minutes, datetime.fromisoformat(state["starts_at"]),
                                timezone.now(), fresh=True)


def _guest(request, page, signup_form, login_form):
    """Logs in, or signs up, a visitor at step 3 through allauth's own flow: its forms, its
    adapter, its login stages (email verification, django-axes through ``authenticate``), its
    ``user_signed_up`` signal. (allauth's response or None when a form is invalid, the forms)."""
    back_here = reverse("booking:confirm", kwargs={"page_id": page.pk})
    # allauth's own limits on its log-in and sign-up views (ACCOUNT_RATE_LIMITS) apply here too.
    action = "login" if request.POST.get("account") == "login" else "signup"
    limited = ratelimit.consume_or_429(request, action=action)
    if limited is not None:
        return limited, signup_form, login_form
    if action == "login":
        login_form = guest_login_form(request, request.POST)
        if not login_form.is_valid():
            return None, signup_form, login_form
        try:
            return login_form.login(request, redirect_url=back_here), signup_form, login_form
        except ImmediateHttpResponse as error:
            return error.response, signup_form, login_form
    signup_form = guest_signup_form(request.POST)
    if not signup_form.is_valid():
        return None, signup_form, login_form
    # As allauth's sign-up view does: an address that already has an account creates nothing
    # and gets a notice by email, the visitor sees the same "enter the code" page (no enumeration).
    try:
        user, response = signup_form.try_save(request)
        if response is None:
            response = complete_signup(request, user, account_settings.EMAIL_VERIFICATION, back_here)
    except ImmediateHttpResponse as error:
        response = error.response
    return response, signup_form, login_form


def _unverified_response(request):
    """When the verification policy requires a confirmed address and this client has none (an
    account made before the policy, or by hand), allauth's answer: a code is sent, and once it is
    typed in the client comes back to step 3. None when the client may hold and pay."""
    if account_settings.EMAIL_VERIFICATION != account_settings.EmailVerificationMethod.MANDATORY:
        return None
    return verified_email_required(lambda _request: None)(request)


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
    site = current_site()
    # The link is the practice's own: on another practice's address it answers nothing.
    if appointment is None or site is None or appointment.site_id != site.pk:
        return render(request, "booking/answer.html", {"invalid": True}, status=404)
    status = 200
    if request.method == "POST":
        try:
            if request.POST.get("action") == "confirm":
                appointment = services.confirm(appointment)
                messages.success(request, _("The consultation is confirmed; the client has been told."))
            elif request.POST.get("action") == "unavailable":
                appointment = services.unavailable_call_client(appointment, expert=appointment.expert)
                messages.success(request, _("The request is declined; the client has been told you will call "
                                            "them, and is not charged."))
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
    site = current_site()
    # The expert's practice's own link: on another practice's address it answers nothing.
    if expert is None or (expert.site_id is not None and (site is None or expert.site_id != site.pk)):
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


def proposal(request, token):
    """The client's signed link to another time the expert proposed: GET shows it (mail
    scanners open links: nothing changes), POST accepts it or cancels with a full refund.
    A bad link answers 404; an answered, replaced or outdated proposal a clear page (409 on
    POST), nothing changed."""
    found = notifications.read_proposal_token(token)
    if found is None:
        return render(request, "booking/proposal.html", {"invalid": True}, status=404)
    appointment = found.appointment
    status = 200
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "accept":
                services.accept_proposal(found)
                messages.success(request, _("Done: your consultation has moved to the new time."))
            elif action == "cancel":
                services.refuse_proposal(found)
                messages.success(request, _("Your consultation is canceled; you are refunded in full."))
            else:
                messages.error(request, _("Choose to accept the new time or to cancel."))
                status = 400
        except services.BookingError as error:
            messages.error(request, error.message)
            status = 409
        if status == 200:
            return redirect("booking:proposal", token=token)
        found.refresh_from_db()
        appointment.refresh_from_db()
    now = timezone.now()
    waiting = (found.state == found.State.PENDING and appointment.starts_at == found.old_starts_at
               and appointment.state in (Appointment.State.REQUESTED, Appointment.State.CONFIRMED)
               and found.old_starts_at > now)
    return render(request, "booking/proposal.html", {
        "proposal": found, "appointment": appointment, "zone": appointment.client_zone, "waiting": waiting},
        status=status)
