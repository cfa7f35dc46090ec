"""What a module contributes to an expert's page."""

from dataclasses import dataclass, field


@dataclass
class PageSection:
    """One block of an expert page, rendered with its own template.

    ``key`` is unique per page (an HTML id: ``section-<key>``); ``title`` is
    a translated heading; ``order`` sorts sections (lower first).
    """

    key: str
    title: str
    template: str
    context: dict = field(default_factory=dict)
    order: int = 100
