"""Error pages: themed, in the visitor's language, and never a traceback."""

import logging
import re

import pytest

from site_core.pages.models import ExpertPage


def html_lang(body):
    match = re.search(r"<html[^>]*\blang=\"([^\"]+)\"", body)
    return match.group(1) if match else None


@pytest.mark.django_db
class TestNotFound:
    def test_unknown_slug_in_french(self, client, practice):
        response = client.get("/nope/")
        assert response.status_code == 404
        body = response.content.decode()
        assert html_lang(body) == "fr"
        assert "/static/atelier/theme.css" in body  # the site's theme, not a bare error page
        assert "Cabinet Test" in body
        assert 'href="/"' in body  # back to the French home

    def test_unknown_slug_in_english(self, client, practice):
        response = client.get("/en/nope/")
        assert response.status_code == 404
        body = response.content.decode()
        assert html_lang(body) == "en"
        assert "Page not found" in body
        assert 'href="/en/"' in body  # back to the English home

    def test_french_404_is_in_french(self, client, practice):
        body = client.get("/nope/").content.decode()
        assert "Page not found" not in body
        assert "Page introuvable" in body

    def test_404_uses_the_hosts_theme(self, client, practice):
        from tests.conftest import build_practice

        build_practice("horizon.test", name="Studio Horizon", theme="horizon", default=False,
                       slug="horizon")
        response = client.get("/nope/", HTTP_HOST="horizon.test")
        assert response.status_code == 404
        body = response.content.decode()
        assert "/static/horizon/theme.css" in body
        assert "Studio Horizon" in body

    def test_unknown_module_url_is_a_themed_404(self, client, practice):
        response = client.get("/contact/999999/")
        assert response.status_code == 404
        assert "Cabinet Test" in response.content.decode()


@pytest.fixture
def request_log(caplog):
    """django.request does not propagate to the root logger (settings.LOGGING): listen to it."""
    logger = logging.getLogger("django.request")
    logger.addHandler(caplog.handler)
    caplog.set_level(logging.ERROR, logger="django.request")
    yield caplog
    logger.removeHandler(caplog.handler)


@pytest.mark.django_db
class TestServerError:
    @pytest.fixture
    def broken_expert_page(self, monkeypatch, practice, make_expert, settings):
        settings.DEBUG = False
        make_expert(practice, "Alice Martin")

        def explode(self, request, *args, **kwargs):
            raise RuntimeError("secret-internal-detail: the database password is hunter2")

        monkeypatch.setattr(ExpertPage, "get_context", explode)

    @pytest.mark.parametrize("path, lang", [("/alice-martin/", "fr"), ("/en/alice-martin/", "en")])
    def test_a_crash_shows_the_themed_500_page(self, client, broken_expert_page, request_log, path,
                                               lang):
        client.raise_request_exception = False
        response = client.get(path)
        assert response.status_code == 500
        body = response.content.decode()
        assert html_lang(body) == lang
        assert "Cabinet Test" in body
        assert "/static/atelier/theme.css" in body
        assert 'class="error-page' in body
        if lang == "en":
            assert "Something went wrong" in body
        for leak in ("Traceback", "secret-internal-detail", "hunter2", "RuntimeError", "explode"):
            assert leak not in body

        records = [r for r in request_log.records if r.name == "django.request"]
        assert records, "the error was not logged"
        assert records[-1].levelno == logging.ERROR
        assert path in records[-1].getMessage()
        assert records[-1].exc_info and records[-1].exc_info[0] is RuntimeError

    def test_a_500_page_that_cannot_render_falls_back_to_plain_html(self, rf, monkeypatch, caplog):
        from site_core import views

        def broken_loader(name):
            raise RuntimeError("template engine down")

        monkeypatch.setattr(views.loader, "get_template", broken_loader)
        with caplog.at_level(logging.ERROR, logger="site_core.views"):
            response = views.server_error(rf.get("/"))
        assert response.status_code == 500
        assert "Erreur du serveur" in response.content.decode()
        assert "template engine down" not in response.content.decode()
        assert any("500 page" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("method,path", [("post", "/api/v1/nowhere"), ("post", "/api/v1/nowhere/"),
                                         ("get", "/api/v1/nowhere"), ("get", "/api/v1/experts/x/nowhere/")])
def test_an_unknown_api_path_is_the_apis_404_in_json(client, practice, settings, debug, method, path):
    settings.DEBUG = debug
    response = getattr(client, method)(path, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 404
    assert response.json() == {"detail": "No such API endpoint.", "code": "not_found", "field": None}
