"""Domain events: facts, in the past tense, sent on commit.

Modules connect receivers in their AppConfig.ready(). Each event's keyword
arguments are listed in its docstring; ``sender`` is the model class.
"""

from django.dispatch import Signal

expert_linked = Signal()
"""An expert's login was set or changed. kwargs: ``expert``, ``user``.
Sent by site_core.access.services.link_expert_user."""

order_paid = Signal()
"""An order is secured: captured in full, or (capture_mode "manual") authorized
in full. The module that owns ``order.paid_object`` reacts (the booking
confirms, the timer extends). kwargs: ``order``. Sent once per order, on commit,
by site_core.payments.services."""

order_canceled = Signal()
"""An open order was given up (the client left, the hold expired, a payment
failed for good). kwargs: ``order``."""

payment_captured = Signal()
"""Money was captured on a payment. kwargs: ``payment``, ``amount`` (minor units
captured by this call)."""

payment_failed = Signal()
"""A payment attempt failed or was declined. kwargs: ``payment``."""

payment_voided = Signal()
"""An authorization was released without capture. kwargs: ``payment``."""

refund_done = Signal()
"""Money went back to the client. kwargs: ``refund``."""
