from django.utils.translation import gettext_lazy as _

from site_core import modules


class BookingConfig(modules.ModuleConfig):
    name = "modules.booking"
    label = "booking"
    verbose_name = _("Booking")
    description = _("Prices per mode, opening hours, free slots, the three-step booking with payment, "
                    "requests the expert confirms, instant sessions, reminders and calendars.")
    url_prefix = "booking/"

    def ready(self):
        from modules.booking import receivers  # noqa: F401  (connects to site_core.events)
        from site_core import schedules

        schedules.register("cabinet.booking.sweep", "modules.booking.tasks.sweep", 1)
