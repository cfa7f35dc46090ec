"""`manage.py seed_demo`: idempotent, prints its logins, and the logins work."""

import io

import pytest
from django.core.management import call_command
from django.test import Client
from wagtail.images.models import Image
from wagtail.models import Locale, Page, Site

from site_core.demo import DEMO_PASSWORD
from site_core.pages.models import ExpertPage
from site_core.practice.models import Expert, PracticeSettings, User


def counts():
    return {
        "users": User.objects.count(),
        "experts": Expert.objects.count(),
        "pages": Page.objects.count(),
        "expert pages": ExpertPage.objects.count(),
        "live expert pages": ExpertPage.objects.live().count(),
        "sites": Site.objects.count(),
        "settings": PracticeSettings.objects.count(),
        "images": Image.objects.count(),
        "groups": User.groups.through.objects.count(),
    }


def seed():
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


@pytest.fixture
def seeded(db):
    return seed()


@pytest.mark.django_db
class TestSeedDemo:
    def test_running_twice_changes_nothing(self, seeded):
        first = counts()
        assert first["experts"] >= 3 * 2  # two practices of at least three experts
        assert first["sites"] == 2
        assert first["expert pages"] == 2 * first["experts"]  # French and English
        second_output = seed()
        assert counts() == first
        assert second_output == seeded

        # It prints the logins it created.
        assert "admin@cabinet.test" in seeded
        assert "client@cabinet.test" in seeded
        for expert in Expert.objects.select_related("user"):
            assert expert.user.email in seeded
        assert DEMO_PASSWORD in seeded
        assert "http://127.0.0.1:8000/" in seeded and "http://localhost:8000/" in seeded

    def test_every_demo_expert_logs_in_to_the_admin(self, seeded):
        experts = list(Expert.objects.select_related("user"))
        assert all(expert.user is not None for expert in experts)
        for expert in experts:
            client = Client()
            response = client.post("/admin/login/", {"username": expert.user.email,
                                                      "password": DEMO_PASSWORD})
            assert response.status_code == 302, expert.user.email
            assert client.get("/admin/").status_code == 200
            own = expert.pages.first()
            assert client.get(f"/admin/pages/{own.pk}/edit/").status_code == 200
            other = ExpertPage.objects.exclude(expert=expert).first()
            assert client.get(f"/admin/pages/{other.pk}/edit/").status_code in (302, 403)

        admin = Client()
        assert admin.post("/admin/login/", {"username": "admin@cabinet.test",
                                            "password": DEMO_PASSWORD}).status_code == 302
        assert admin.get("/admin/pages/").status_code == 200
        client = Client(HTTP_HOST="127.0.0.1:8000")
        response = client.post("/accounts/login/", {"login": "client@cabinet.test",
                                                    "password": DEMO_PASSWORD})
        assert response.status_code == 302
        assert client.get("/portal/").status_code == 200

    def test_both_practices_answer_on_their_addresses(self, seeded):
        lumiere = Client(HTTP_HOST="127.0.0.1:8000").get("/sophie-laurent/")
        assert lumiere.status_code == 200
        assert "Cabinet Lumière" in lumiere.content.decode()
        horizon = Client(HTTP_HOST="localhost:8000").get("/en/ines-garcia/")
        assert horizon.status_code == 200
        assert "Studio Horizon" in horizon.content.decode()
        assert "/static/horizon/theme.css" in horizon.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("host", ["127.0.0.1:8000", "localhost:8000"])
def test_the_api_lists_each_demo_practices_experts_in_french_and_english(seeded, host):
    """The English tree is not under the French root: both languages list every expert, in their language."""
    site = Site.objects.get(hostname=host.split(":")[0])
    pages = ExpertPage.objects.live().descendant_of(site.root_page).filter(expert__isnull=False)
    expected = {page.slug: page for page in pages}
    assert len(expected) >= 3
    client = Client(HTTP_HOST=host)
    for language in ("fr", "en"):
        listed = client.get("/api/v1/experts", HTTP_ACCEPT_LANGUAGE=language).json()
        assert {expert["slug"] for expert in listed} == set(expected)
        for expert in listed:
            page = expected[expert["slug"]]
            in_language = page if language == "fr" else page.get_translation(Locale.objects.get(
                language_code="en")).specific
            assert expert["specialty"] == in_language.specialty
            assert expert["url"] == (f"/{page.slug}/" if language == "fr" else f"/en/{page.slug}/")
            assert expert["modes"]


@pytest.mark.django_db
def test_the_demo_practices_are_kept_apart(seeded):
    """Each demo practice's administrator is that practice's, not a superuser; the install's
    owner (a superuser) administers both; each expert is an expert of their own practice."""
    from site_core import access
    from site_core.demo import OWNER

    cabinet = User.objects.get(email="admin@cabinet.test")
    horizon = User.objects.get(email="admin@horizon.test")
    owner = User.objects.get(email=OWNER[0])
    sites = {site.hostname: site for site in Site.objects.all()}
    assert not cabinet.is_superuser and not horizon.is_superuser and owner.is_superuser
    assert OWNER[0] in seeded
    (first, first_site), (second, second_site) = [
        (user, next(s for s in sites.values() if access.is_practice_admin(user, s))) for user in (cabinet, horizon)]
    assert first_site != second_site
    assert list(access.practices_administered(first)) == [first_site]
    assert not access.is_practice_admin(first, second_site) and not access.is_practice_admin(second, first_site)
    assert all(access.is_practice_admin(owner, site) for site in sites.values())
    for expert in Expert.objects.select_related("user", "site"):
        assert access.is_practice_expert(expert.user, expert.site)
        assert not access.is_practice_admin(expert.user, expert.site)
        other = next(s for s in sites.values() if s != expert.site)
        assert not access.is_practice_expert(expert.user, other)
    # In the admin, the second practice's administrator sees none of the first's appointments.
    from modules.booking.models import Appointment

    http = Client(HTTP_HOST=second_site.hostname)
    http.force_login(second)
    body = http.get("/admin/appointments/").content.decode()
    for appointment in Appointment.objects.filter(site=first_site).exclude(state="held")[:5]:
        assert appointment.code not in body
    assert Appointment.objects.filter(site=first_site).exists()


@pytest.mark.django_db
def test_each_demo_practice_photos_are_in_its_collection(seeded):
    """The experts' photos are in their practice's collection; each practice's administrator
    and experts choose among their own practice's only."""
    import html

    from django.urls import reverse

    from site_core.access.services import practice_collection

    pages = list(ExpertPage.objects.filter(locale__language_code="fr").select_related("photo", "expert__site"))
    assert pages and all(page.photo is not None for page in pages)
    for page in pages:
        assert page.photo.collection == practice_collection(page.expert.site), page.title
    assert not Image.objects.filter(collection__depth=1).exists()
    for user in [User.objects.get(email="admin@horizon.test")] + [page.expert.user for page in pages[:2]]:
        http = Client()
        http.force_login(user)
        chooser = html.unescape(http.get(reverse("wagtailimages_chooser:choose")).json()["html"])
        site = Site.objects.get(hostname="localhost") if user.email == "admin@horizon.test" else user.expert.site
        for page in pages:
            assert (page.photo.title in chooser) == (page.expert.site == site), (user.email, page.photo.title)
