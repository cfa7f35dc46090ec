from django.utils.translation import gettext_lazy as _

from site_core import modules
from site_core.pages.cache import ShownOnPages


class BookingConfig(modules.ModuleConfig):
    name = "modules.booking"
    label = "booking"
    verbose_name = _("Booking")
    description = _("Prices per mode, opening hours, free slots, the three-step booking with payment, "
                    "requests the expert confirms, instant sessions, reminders and calendars.")
    url_prefix = "booking/"
    #: An expert's page shows their prices and whether they are available now or on a
    #: break, and the index's cards show the lowest price and "available now"; their
    #: openings decide what the booking link offers. "Now" and a pause run out by
    #: themselves: the pages showing them are cached no longer than that.
    shown_on_pages = (
        ShownOnPages("booking.Offering", expert="expert", index=True),
        ShownOnPages("booking.BookingProfile", expert="expert", index=True,
                     changes_at=("available_now_until", "paused_until")),
        ShownOnPages("booking.AvailabilityRule", expert="expert"),
        ShownOnPages("booking.AvailabilityException", expert="expert"),
    )

    def ready(self):
        from modules.booking import receivers  # noqa: F401  (connects to site_core.events)
        from site_core.base import schedules

        schedules.register("cabinet.booking.sweep", "modules.booking.tasks.sweep", 1)
