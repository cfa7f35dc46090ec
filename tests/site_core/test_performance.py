"""A floor on queries: the expert index and an expert page cost the same with 3 or 30 experts."""

import io

import pytest
from django.core.files.images import ImageFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from PIL import Image as PILImage
from wagtail.images.models import Image


def photo(name):
    buffer = io.BytesIO()
    PILImage.new("RGB", (64, 64), (120, 80, 200)).save(buffer, format="PNG")
    buffer.seek(0)
    return Image.objects.create(title=name, file=ImageFile(buffer, name=f"{name}.png"))


@pytest.fixture
def staff(practice):
    """add(n): brings the practice to n experts, each with a login, a photo and an English page."""
    from wagtail.models import Locale

    from site_core.access.services import create_expert
    from site_core.pages.models import ExpertPage
    from site_core.practice.models import User

    english = Locale.objects.get(language_code="en")
    people = []

    def add(n):
        while len(people) < n:
            number = len(people) + 1
            name = f"Expert Numero{number:02d}"
            user = User.objects.create_user(username=f"expert{number}", email=f"e{number}@x.test")
            expert = create_expert(name=name, user=user)
            page = ExpertPage(title=name, slug=f"expert-numero{number:02d}", expert=expert,
                              display_name=name, specialty="Spécialité", summary="Résumé",
                              languages_spoken=["fr", "en", "es"], photo=photo(f"expert-{number}"))
            practice.index.add_child(instance=page)
            page.save_revision().publish()
            page_en = page.copy_for_translation(english, copy_parents=True)
            page_en.save_revision().publish()
            people.append((expert, page, page_en))
        return people

    return add


def count_queries(client, path):
    # The first view makes the image renditions; the second is what visitors cost.
    assert client.get(path).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200
    assert response.headers.get("X-Cabinet-Cache") is None
    return len(queries), response


PATHS = ["/experts/", "/en/experts/", "/", "/en/", "/expert-numero01/", "/en/expert-numero01/"]


def measure(paths, clients):
    return {(who, path): count_queries(client, path)[0]
            for who, client in clients.items() for path in paths}


@pytest.mark.django_db
def test_pages_cost_the_same_for_3_and_30_experts(staff, make_user, settings):
    """One test, so the thirty experts are made once (the page cache is off: every view counts)."""
    settings.CABINET_PAGE_CACHE_SECONDS = 0
    member = Client()
    member.force_login(make_user())
    clients = {"anonymous": Client(), "logged in": member}

    staff(3)
    few = measure(PATHS, clients)
    staff(30)
    many = measure(PATHS, clients)

    listing = Client().get("/experts/").content.decode()
    assert all(f"Expert Numero{n:02d}" in listing for n in range(1, 31))
    grew = {key: (few[key], many[key]) for key in few if many[key] != few[key]}
    assert grew == {}, f"queries that grow with the number of experts (3 → 30): {grew}"
    # A loose ceiling, a tripwire for a page that suddenly costs far more (modules add a few).
    heavy = {key: count for key, count in many.items() if count > 40}
    assert heavy == {}, f"more than 40 queries: {heavy}"
