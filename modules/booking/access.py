"""Who may enter an appointment's session: the one answer every session page, API endpoint
and socket asks (the room, the timer, the chat: C, D, E)."""

from site_core.access import is_practice_admin


def session_role(user, appointment) -> str | None:
    """``"client"``, ``"expert"``, ``"admin"`` (an administrator of the appointment's practice,
    or the install owner), or None: ``user`` may not enter. A person who is both the client and
    staff enters as the client."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    if appointment.client_id == user.pk:
        return "client"
    expert = getattr(user, "expert", None)
    if expert is not None and appointment.expert_id == expert.pk:
        return "expert"
    if is_practice_admin(user, appointment.site):
        return "admin"
    return None
