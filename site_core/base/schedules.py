"""Periodic tasks (django-q2 schedules), created after every migrate.

A deadline is a stored timestamp; a periodic sweeper acts on what is due,
so a crashed or restarted worker delays nothing for long and several workers
can run: each task claims its rows with a conditional update or row lock.
"""

from django_q.models import Schedule

SCHEDULES = {
    # name: (dotted function, every N minutes)
    "cabinet.payments.sweep_pending": ("site_core.payments.tasks.sweep_pending_payments", 5),
    # The outbox: retries that are due, and what a lost nudge or a killed worker left.
    "cabinet.events.sweep": ("site_core.events.tasks.sweep", 1),
}


def register(name, func, minutes):
    """For modules: add a schedule (from their AppConfig.ready())."""
    SCHEDULES[name] = (func, minutes)


def ensure_schedules(**kwargs):
    for name, (func, minutes) in SCHEDULES.items():
        Schedule.objects.update_or_create(
            name=name,
            defaults={"func": func, "schedule_type": Schedule.MINUTES, "minutes": minutes, "repeats": -1},
        )
