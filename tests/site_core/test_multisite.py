"""Two practices on one install: each host is its own site, with its own theme and experts."""

import re

import pytest
from django.test import Client

from tests.conftest import build_practice

LUMIERE = "lumiere.test"
HORIZON = "horizon.test"


@pytest.fixture
def practices(db, make_expert):
    from wagtail.models import Site

    Site.objects.all().delete()
    lumiere = build_practice(LUMIERE, name="Cabinet Lumière", theme="atelier", slug="lumiere")
    horizon = build_practice(HORIZON, name="Studio Horizon", theme="horizon", default=False,
                             slug="horizon")
    make_expert(lumiere, "Sophie Laurent")
    make_expert(lumiere, "Marc Dubois")
    make_expert(horizon, "Inès Garcia", slug="ines-garcia")
    return lumiere, horizon


def stylesheets(html):
    return re.findall(r'<link rel="stylesheet" href="([^"]+)"', html)


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/experts/", "/en/", "/en/experts/"])
def test_each_host_shows_its_practice_and_theme(practices, path):
    lumiere = Client(HTTP_HOST=LUMIERE).get(path)
    horizon = Client(HTTP_HOST=HORIZON).get(path)
    assert lumiere.status_code == horizon.status_code == 200
    lumiere_html, horizon_html = lumiere.content.decode(), horizon.content.decode()

    assert "Cabinet Lumière" in lumiere_html and "Studio Horizon" not in lumiere_html
    assert "Studio Horizon" in horizon_html and "Cabinet Lumière" not in horizon_html
    assert "/static/atelier/theme.css" in stylesheets(lumiere_html)
    assert "/static/horizon/theme.css" not in stylesheets(lumiere_html)
    assert "/static/horizon/theme.css" in stylesheets(horizon_html)
    assert "/static/atelier/theme.css" not in stylesheets(horizon_html)


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/experts/", "/en/experts/"])
def test_each_expert_index_lists_only_its_experts(practices, path):
    lumiere = Client(HTTP_HOST=LUMIERE).get(path).content.decode()
    horizon = Client(HTTP_HOST=HORIZON).get(path).content.decode()
    assert "Sophie Laurent" in lumiere and "Marc Dubois" in lumiere
    assert "Inès Garcia" not in lumiere
    assert "Inès Garcia" in horizon
    assert "Sophie Laurent" not in horizon and "Marc Dubois" not in horizon


@pytest.mark.django_db
def test_an_expert_page_answers_only_on_its_own_host(practices):
    assert Client(HTTP_HOST=LUMIERE).get("/sophie-laurent/").status_code == 200
    assert Client(HTTP_HOST=HORIZON).get("/sophie-laurent/").status_code == 404
    assert Client(HTTP_HOST=HORIZON).get("/en/ines-garcia/").status_code == 200
    assert Client(HTTP_HOST=LUMIERE).get("/en/ines-garcia/").status_code == 404


@pytest.mark.django_db
def test_the_same_slug_may_exist_on_both_sites(practices, make_expert):
    lumiere, horizon = practices
    make_expert(horizon, "Sophie Laurent", with_user=False)  # a namesake at the other practice
    for host, practice_name in ((LUMIERE, "Cabinet Lumière"), (HORIZON, "Studio Horizon")):
        response = Client(HTTP_HOST=host).get("/sophie-laurent/")
        assert response.status_code == 200
        assert practice_name in response.content.decode()


@pytest.mark.django_db
def test_changing_one_sites_theme_leaves_the_other_alone(practices, django_capture_on_commit_callbacks):
    lumiere, horizon = practices
    # Rendered once with each theme first: the template cache must not leak one into the other.
    Client(HTTP_HOST=LUMIERE).get("/")
    Client(HTTP_HOST=HORIZON).get("/")
    lumiere.settings.theme = "horizon"
    with django_capture_on_commit_callbacks(execute=True):  # committed: the cached pages go stale
        lumiere.settings.save()
    assert "/static/horizon/theme.css" in stylesheets(Client(HTTP_HOST=LUMIERE).get("/").content.decode())
    assert "/static/horizon/theme.css" in stylesheets(Client(HTTP_HOST=HORIZON).get("/").content.decode())
    horizon.settings.theme = "atelier"
    with django_capture_on_commit_callbacks(execute=True):
        horizon.settings.save()
    assert "/static/atelier/theme.css" in stylesheets(Client(HTTP_HOST=HORIZON).get("/").content.decode())
