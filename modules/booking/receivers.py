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
