"""Handlers of site_core events for appointments, connected in BookingConfig.ready()."""

from django.dispatch import receiver

from site_core import events


@receiver(events.order_paid, dispatch_uid="booking-order-paid")
def confirm_paid_booking(sender, order, **kwargs):
    from modules.booking import services

    if order.purpose == services.PAYMENT_PURPOSE:
        services.order_paid(order)


@receiver(events.order_canceled, dispatch_uid="booking-order-canceled")
def release_unpaid_booking(sender, order, **kwargs):
    from modules.booking import services
    from modules.booking.models import Appointment

    if order.purpose != services.PAYMENT_PURPOSE:
        return
    appointment = Appointment.objects.filter(order=order, state=Appointment.State.HELD).first()
    if appointment is not None:
        services.release_hold(appointment, reason="order canceled")


@receiver(events.payment_captured, dispatch_uid="booking-late-capture")
def refund_capture_of_ended_booking(sender, payment, **kwargs):
    """Money captured for a booking that no longer stands (the hold ran out while the client
    was at the gateway): it goes back to the client."""
    from modules.booking import services
    from modules.booking.models import Appointment

    order = payment.order
    if order.purpose != services.PAYMENT_PURPOSE:
        return
    appointment = Appointment.objects.filter(order=order).first()
    if appointment is not None and appointment.state in (Appointment.State.CANCELED, Appointment.State.EXPIRED,
                                                         Appointment.State.DECLINED):
        services.refund_ended(appointment)
