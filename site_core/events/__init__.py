"""Domain events: facts, in the past tense, that other parts of Cabinet act on.

Each is declared once here: its name, its payload (plain data: ids, amounts, codes; every
receiver also gets ``event_id``, ``site_id`` and ``occurred_at``), who sends it, and what it
means. A sender calls ``events.NAME.send(site=..., **payload)`` inside the transaction of the
change it reports; a module handles one with ``@events.NAME.receiver`` in its
``receivers.py`` (imported in its ``AppConfig.ready()``). Delivery is the outbox's
(``site_core/events/outbox.py``): after commit, to each receiver on its own, retried until
it succeeds once, and only where the receiver's module is on for the event's practice.

Live updates to an open session room are not events: they go to the channel layer on commit.
"""

from site_core.events.outbox import EventType

# --- The practice's people ------------------------------------------------------------------

expert_linked = EventType(
    "expert_linked", payload=("expert_id", "user_id", "previous_user_id"),
    sender="site_core.access.services.link_expert_user",
    doc="An expert's login was set or changed (``previous_user_id`` lost the expert's access).",
)

# --- Money (site_core.payments.services) ---------------------------------------------------
# ``paid_type`` is the paid object's "app_label.model" ("booking.appointment"), ``paid_id`` its
# primary key as a string; ``purpose`` the order's (the module that owns the paid object).

ORDER = ("order_id", "purpose", "paid_type", "paid_id")

order_paid = EventType(
    "order_paid", payload=ORDER + ("total", "currency"),
    sender="site_core.payments.services (confirm_capture, confirm_authorization, a free order)",
    doc="An order is secured: captured in full, or (capture_mode \"manual\") authorized in full. "
        "The module that owns the paid object reacts (the booking confirms, the timer extends). "
        "Sent once per order.",
)

order_canceled = EventType(
    "order_canceled", payload=ORDER + ("reason",),
    sender="site_core.payments.services.cancel_order",
    doc="An open order was given up (the client left, the hold expired, a payment failed for good).",
)

payment_captured = EventType(
    "payment_captured", payload=ORDER + ("payment_id", "amount", "currency"),
    sender="site_core.payments.services.confirm_capture",
    doc="Money was captured on a payment; ``amount`` (minor units) by this capture.",
)

payment_failed = EventType(
    "payment_failed", payload=ORDER + ("payment_id",),
    sender="site_core.payments.services.mark_failed",
    doc="A payment attempt failed or was declined.",
)

payment_voided = EventType(
    "payment_voided", payload=ORDER + ("payment_id", "amount", "currency"),
    sender="site_core.payments.services.void",
    doc="An authorization was released without capture (``amount`` was held).",
)

refund_done = EventType(
    "refund_done", payload=ORDER + ("refund_id", "payment_id", "amount", "currency"),
    sender="site_core.payments.services (refund, confirm_refund)",
    doc="Money went back to the client.",
)

# --- The appointment's life (modules.booking.services) -------------------------------------
# ``appointment_id`` and ``code`` (the reservation code) name the appointment; times are ISO 8601
# in UTC.

APPOINTMENT = ("appointment_id", "code", "expert_id", "client_id")

appointment_confirmed = EventType(
    "appointment_confirmed", payload=APPOINTMENT + ("mode", "starts_at", "ends_at", "minutes", "free"),
    sender="modules.booking.services (paid or free booking secured, confirm)",
    doc="The appointment will take place: paid (or free) and, where the practice asks, accepted by the expert.",
)

appointment_rescheduled = EventType(
    "appointment_rescheduled", payload=APPOINTMENT + ("previous_starts_at", "starts_at", "ends_at", "by"),
    sender="modules.booking.services (reschedule, accept_proposal)",
    doc="A confirmed or requested appointment moved; ``by``: \"client\", \"expert\" or \"admin\".",
)

appointment_canceled = EventType(
    "appointment_canceled", payload=APPOINTMENT + ("by", "reason", "refund_percent"),
    sender="modules.booking.services.cancel",
    doc="A request or a confirmed appointment was canceled by ``by`` (\"client\", \"expert\", \"admin\"); "
        "``refund_percent`` of what was paid goes back.",
)

appointment_no_show = EventType(
    "appointment_no_show", payload=APPOINTMENT + ("who", "marked_by_id"),
    sender="modules.booking.services.mark_no_show",
    doc="``who`` (\"client\" or \"expert\") did not come; ``marked_by_id`` is the account that said so.",
)

# --- The live session (C1: the room; D1: the timer; the kernel's auto-end) ---------------

SESSION = ("appointment_id", "code")

session_participant_joined = EventType(
    "session_participant_joined", payload=SESSION + ("role", "user_id"),
    sender="the session room (C1)",
    doc="Someone entered the room; ``role`` from modules.booking.access.session_role.",
)

session_participant_left = EventType(
    "session_participant_left", payload=SESSION + ("role", "user_id"),
    sender="the session room (C1)",
    doc="Someone left the room (closed it, or their connection dropped for good).",
)

session_chat_opened = EventType(
    "session_chat_opened", payload=SESSION,
    sender="the session room (C1)",
    doc="Both the client and the expert have written in the session's chat.",
)

session_started = EventType(
    "session_started", payload=SESSION + ("minutes",),
    sender="the timer (D1)",
    doc="The countdown started; ``minutes`` bought so far.",
)

session_paused = EventType(
    "session_paused", payload=SESSION + ("reason",),
    sender="the timer (D1)",
    doc="The countdown stopped for a while; ``reason``: \"participant_left\", \"admin\".",
)

session_resumed = EventType(
    "session_resumed", payload=SESSION,
    sender="the timer (D1)",
    doc="The countdown runs again.",
)

session_extended = EventType(
    "session_extended", payload=SESSION + ("minutes", "free", "order_id"),
    sender="the timer (D1)",
    doc="Time was added: ``minutes``, given (``free``) or paid by ``order_id``.",
)

session_ended = EventType(
    "session_ended",
    payload=SESSION + ("expert_id", "client_id", "source", "minutes_bought", "minutes_run", "free_minutes",
                       "amount_due", "currency"),
    sender="the timer (D1); modules.booking.services.end_session (\"auto\", where no module holds sessions)",
    doc="The consultation is over; the appointment is COMPLETED. ``source``: \"timer\" or \"auto\"; "
        "``amount_due`` (minor units) is what the client owes for it, per minute or package.",
)
