"""The booking's handlers of site_core events (site_core/events/__init__.py), imported in
BookingConfig.ready(). Each gets the event's plain data and reads the rows it needs; the
outbox delivers each on its own and retries it until it succeeds once."""

from site_core import events


def _booking_order(order_id, purpose):
    from modules.booking import services
    from site_core.payments.models import Order

    if purpose != services.PAYMENT_PURPOSE:
        return None
    return Order.objects.filter(pk=order_id).first()


@events.order_paid.receiver
def confirm_paid_booking(*, order_id, purpose, **_):
    from modules.booking import services

    order = _booking_order(order_id, purpose)
    if order is not None:
        services.order_paid(order)


@events.order_canceled.receiver
def release_unpaid_booking(*, order_id, purpose, **_):
    from modules.booking import services
    from modules.booking.models import Appointment

    if _booking_order(order_id, purpose) is None:
        return
    appointment = Appointment.objects.filter(order_id=order_id, state=Appointment.State.HELD).first()
    if appointment is not None:
        services.release_hold(appointment, reason="order canceled")


@events.payment_captured.receiver
def refund_capture_of_ended_booking(*, order_id, purpose, **_):
    """Money captured for a booking that no longer stands (the hold ran out while the client
    was at the gateway): it goes back to the client."""
    from modules.booking import services
    from modules.booking.models import Appointment

    if _booking_order(order_id, purpose) is None:
        return
    appointment = Appointment.objects.filter(order_id=order_id).first()
    if appointment is not None and appointment.state in (Appointment.State.CANCELED, Appointment.State.EXPIRED,
                                                         Appointment.State.DECLINED):
        services.refund_ended(appointment)
