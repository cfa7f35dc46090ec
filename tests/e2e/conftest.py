"""Browser journeys: a practice served by pytest-django's live server, driven in Chromium.

The live server answers on http://localhost:<random port>, so each test builds
its practice's Site on that host and port. The live server needs a
transactional database, which empties every table when a test ends; the
module-scoped fixture below puts Wagtail's root page back once the module is
done, so the tests that run after these find the tree the migrations make.
"""

from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest

from tests.conftest import build_practice, ensure_wagtail_roots

THEMES = ["atelier", "horizon"]


@pytest.fixture(scope="module", autouse=True)
def _wagtail_tree_back_after_module(django_db_blocker):
    yield
    with django_db_blocker.unblock():
        ensure_wagtail_roots()


@pytest.fixture
def themed_site(live_server, make_expert):
    """themed_site("horizon") -> a practice on the live server's host, with experts and pages.

    The returned namespace has ``url`` (the server's root), ``practice``, ``expert`` (the French
    page of an expert with a photo and a biography) and ``expert_en``.
    """
    from wagtail.models import Site

    from site_core.demo import get_or_create_image
    from site_core.pages.models import ContentPage

    def make(theme):
        Site.objects.all().delete()
        port = urlsplit(live_server.url).port
        practice = build_practice("localhost", port, name=f"Cabinet {theme.title()}", theme=theme,
                                  slug=f"home-{theme}")
        practice.settings.tagline = "Des experts à votre écoute"
        practice.settings.contact_email = "contact@cabinet.test"
        practice.settings.contact_phone = "+33 1 80 85 55 30"
        practice.settings.save()

        _, expert, expert_en = make_expert(practice, "Alice Martin", languages=("fr", "en"))
        expert.photo = get_or_create_image("Alice Martin", "alice-martin")
        expert.biography = [
            {"type": "paragraph", "value": "<p>Avocate depuis 2009, j'accompagne les familles.</p>"},
            {"type": "quote", "value": {"text": "Claire et rassurante.", "author": "Une cliente"}},
        ]
        expert.save_revision().publish()
        expert_en.photo = expert.photo
        expert_en.save_revision().publish()
        make_expert(practice, "Bruno Petit", with_user=False, translate=False)

        about = ContentPage(title="À propos", slug="a-propos", show_in_menus=True,
                            intro="Un cabinet indépendant.",
                            body=[{"type": "question", "value": {
                                "question": "Comment réserver ?", "answer": "<p>En ligne.</p>"}}])
        practice.home.add_child(instance=about)
        about.save_revision().publish()
        return SimpleNamespace(url=live_server.url, practice=practice, expert=expert.specific,
                               expert_en=expert_en)

    return make


@pytest.fixture
def phone(browser):
    """A tab 375 px wide, as on a small phone."""
    context = browser.new_context(locale="fr-FR", viewport={"width": 375, "height": 740},
                                  device_scale_factor=2, is_mobile=True, has_touch=True)
    tab = context.new_page()
    yield tab
    context.close()

