"""The expert's "propose another time" in the admin: the page listing their free times for an
appointment, and what the appointment's inspect view shows of a proposal."""

from datetime import datetime
from itertools import groupby
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext

from modules.booking import availability, services
from modules.booking.models import Proposal


def _is_own_expert(request, appointment):
    expert = getattr(request.user, "expert", None)
    return expert is not None and expert.pk == appointment.expert_id


def inspect_context(request, appointment, now=None):
    now = now or timezone.now()
    pending = availability.live_proposals(now).filter(appointment=appointment).first()
    return {
        "pending_proposal": pending,
        "propose_url": reverse("appointments:propose", args=[appointment.pk])
        if _is_own_expert(request, appointment) and services.proposal_refusal(appointment, now) is None else "",
    }


def _parse(value):
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return parsed if timezone.is_aware(parsed) else None


def propose_view(viewset, request, appointment):
    if not _is_own_expert(request, appointment):
        raise PermissionDenied
    now = timezone.now()
    zone = ZoneInfo(appointment.expert_zone)
    inspect_url = reverse(viewset.get_url_name("inspect"), args=[appointment.pk])
    refusal = services.proposal_refusal(appointment, now)
    error, status = (refusal.message if refusal else ""), (400 if refusal and request.method == "POST" else 200)
    if request.method == "POST" and refusal is None:
        starts_at = _parse(request.POST.get("starts_at", ""))
        try:
            proposal = services.propose_time(appointment, starts_at, expert=request.user.expert)
        except services.BookingError as exc:
            error, status = exc.message, 409 if exc.code == "not_free" else 400
        else:
            messages.success(request, gettext("Proposed: the client has been emailed the new time and will "
                                              "answer from there."))
            return redirect(inspect_url + f"#proposal-{proposal.pk}")
    free = [] if refusal else availability.free_slots(
        appointment.expert, appointment.mode, appointment.minutes, now,
        availability.booking_horizon_end(appointment.expert, now), now, exclude_appointment=appointment)
    free = [s for s in free if s != appointment.starts_at]
    days = [(day, [(s.isoformat(), s.astimezone(zone)) for s in group])
            for day, group in groupby(free, key=lambda s: s.astimezone(zone).date())][:14]
    return TemplateResponse(request, "booking/admin/propose.html", {
        "appointment": appointment, "days": days, "error": error, "refusal": refusal, "zone": str(zone),
        "inspect_url": inspect_url, "header_title": gettext("Propose another time"),
        "page_title": gettext("Propose another time"),
        "pending_proposal": Proposal.objects.filter(appointment=appointment, state=Proposal.State.PENDING).first(),
    }, status=status)
