"""Django loads an app's models from ``<app>.models``: this file only gathers the kernel's
tables from where they live (the layout is in the README's "Architecture"). Import them from
their own modules, not from here."""

from site_core.events.models import Delivery, Event  # noqa: F401
from site_core.pages.models import ContentPage, ExpertIndexPage, ExpertPage, HomePage  # noqa: F401
from site_core.practice.models import (  # noqa: F401
    ClientMembership,
    Expert,
    PracticeCollection,
    PracticeGroup,
    PracticeSettings,
    User,
)
