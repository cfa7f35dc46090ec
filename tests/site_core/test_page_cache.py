"""The anonymous page cache: hits, invalidation on publish, and what it must never store."""

import re

import pytest
from django.template import engines
from django.test import Client
from wagtail import hooks as wagtail_hooks

from site_core.modules import hooks
from site_core.pages.sections import PageSection


def cache_state(response):
    return response.headers.get("X-Cabinet-Cache")


@pytest.fixture
def cached(settings):
    settings.CABINET_PAGE_CACHE_SECONDS = 300


@pytest.mark.django_db
@pytest.mark.usefixtures("cached")
class TestAnonymousCache:
    def test_second_anonymous_visit_is_served_from_the_cache(self, practice, make_expert,
                                                             django_assert_max_num_queries):
        make_expert(practice, "Alice Martin")
        first = Client().get("/alice-martin/")
        assert first.status_code == 200
        assert cache_state(first) == "miss"
        with django_assert_max_num_queries(0):
            second = Client().get("/alice-martin/")
        assert second.status_code == 200
        assert cache_state(second) == "hit"
        assert second.content == first.content
        assert second["Content-Type"].startswith("text/html")

    def test_keys_hold_host_and_language(self, practice, make_expert):
        from tests.conftest import build_practice

        other = build_practice("autre.test", name="Autre Cabinet", default=False, slug="autre")
        make_expert(practice, "Alice Martin")
        make_expert(other, "Alice Martin", with_user=False)
        Client().get("/alice-martin/")
        english = Client().get("/en/alice-martin/")
        assert cache_state(english) == "miss"
        assert "Test specialty" in english.content.decode()
        there = Client(HTTP_HOST="autre.test").get("/alice-martin/")
        assert cache_state(there) == "miss"
        assert "Autre Cabinet" in there.content.decode()
        assert "Cabinet Test" not in there.content.decode()

    def test_publishing_invalidates_at_once(self, practice, make_expert, django_capture_on_commit_callbacks):
        _, page, _ = make_expert(practice, "Alice Martin")
        Client().get("/alice-martin/")
        Client().get("/experts/")
        assert cache_state(Client().get("/alice-martin/")) == "hit"

        with django_capture_on_commit_callbacks(execute=True):
            page.specialty = "Médiation familiale"
            page.save_revision().publish()

        response = Client().get("/alice-martin/")
        assert cache_state(response) == "miss"
        assert "Médiation familiale" in response.content.decode()
        # Every page, not just the one published: the index shows the specialty too.
        index = Client().get("/experts/")
        assert cache_state(index) == "miss"
        assert "Médiation familiale" in index.content.decode()

    def test_unpublishing_invalidates(self, practice, make_expert, django_capture_on_commit_callbacks):
        _, page, _ = make_expert(practice, "Alice Martin")
        Client().get("/alice-martin/")
        with django_capture_on_commit_callbacks(execute=True):
            page.unpublish()
        assert Client().get("/alice-martin/").status_code == 404

    def test_settings_change_invalidates(self, practice, django_capture_on_commit_callbacks):
        Client().get("/")
        with django_capture_on_commit_callbacks(execute=True):
            practice.settings.practice_name = "Cabinet Renommé"
            practice.settings.save()
        response = Client().get("/")
        assert cache_state(response) == "miss"
        assert "Cabinet Renommé" in response.content.decode()

    def test_404_and_redirects_are_not_stored(self, practice):
        Client().get("/nope/")
        response = Client().get("/nope/")
        assert response.status_code == 404
        assert cache_state(response) is None

    def test_off_when_seconds_is_zero(self, practice, settings):
        settings.CABINET_PAGE_CACHE_SECONDS = 0
        Client().get("/")
        assert cache_state(Client().get("/")) is None


@pytest.mark.django_db
@pytest.mark.usefixtures("cached")
class TestNeverCached:
    def test_never_for_logged_in_users(self, practice, make_expert, make_user):
        make_expert(practice, "Alice Martin")
        Client().get("/alice-martin/")  # stored for anonymous visitors
        member = Client()
        member.force_login(make_user(first_name="Camille"))
        for _ in range(2):
            response = member.get("/alice-martin/")
            assert response.status_code == 200
            assert cache_state(response) is None
            # What a logged-in visitor sees (their account link), not the anonymous copy.
            assert "/portal/" in response.content.decode()
            assert "/accounts/login/" not in response.content.decode()

    def test_a_logged_in_visit_stores_nothing_for_anonymous_visitors(self, practice, make_expert,
                                                                     make_user):
        make_expert(practice, "Alice Martin")
        member = Client()
        member.force_login(make_user())
        member.get("/alice-martin/")
        anonymous = Client().get("/alice-martin/")
        assert cache_state(anonymous) == "miss"
        assert "/portal/" not in anonymous.content.decode()

    def test_never_a_response_that_sets_a_cookie(self, practice, make_expert):
        make_expert(practice, "Alice Martin")

        from django.http import HttpResponse

        def set_cookie_on_serve(page, request, serve_args, serve_kwargs):
            response = HttpResponse("<!doctype html><p>personal</p>")
            response.set_cookie("visitor", "someone")
            return response

        with wagtail_hooks.register_temporarily("before_serve_page", set_cookie_on_serve):
            first = Client().get("/alice-martin/")
            assert first.cookies["visitor"].value == "someone"
        second = Client().get("/alice-martin/")
        assert cache_state(second) == "miss"
        assert "personal" not in second.content.decode()

    def test_a_page_with_a_csrf_form_is_not_stored(self, practice, make_expert):
        """A cached form would hand every visitor the first visitor's CSRF token."""
        make_expert(practice, "Alice Martin")
        form = engines["django"].from_string(
            '<form method="post" class="probe-form">{% csrf_token %}</form>'
        ).template

        def form_section(page, request):
            return PageSection(key="form-probe", title="Formulaire", template=form)

        tokens = []
        with wagtail_hooks.register_temporarily(hooks.REGISTER_EXPERT_PAGE_SECTIONS, form_section):
            for _ in range(2):
                visitor = Client(enforce_csrf_checks=True)
                response = visitor.get("/alice-martin/")
                assert response.status_code == 200
                assert cache_state(response) != "hit"
                body = response.content.decode()
                assert "probe-form" in body
                token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1)
                tokens.append(token)
                # The token on the page works with the visitor's own cookie.
                assert "csrftoken" in response.cookies
        assert tokens[0] != tokens[1]

    def test_a_csrf_form_is_not_stored_with_tokens_in_the_session(self, practice, make_expert,
                                                                  settings):
        """With CSRF_USE_SESSIONS no CSRF cookie is set: the page itself must say it has a token."""
        settings.CSRF_USE_SESSIONS = True
        make_expert(practice, "Alice Martin")
        form = engines["django"].from_string('<form method="post">{% csrf_token %}</form>').template

        def form_section(page, request):
            return PageSection(key="form-probe", title="Formulaire", template=form)

        with wagtail_hooks.register_temporarily(hooks.REGISTER_EXPERT_PAGE_SECTIONS, form_section):
            first = Client().get("/alice-martin/")
            second = Client().get("/alice-martin/")
        assert "csrfmiddlewaretoken" in first.content.decode()
        assert cache_state(second) != "hit"
        assert second.content != first.content

    def test_visitors_with_a_session_bypass_the_cache(self, practice, make_expert):
        make_expert(practice, "Alice Martin")
        Client().get("/alice-martin/")
        visitor = Client()
        visitor.cookies["sessionid"] = "whatever"
        assert cache_state(visitor.get("/alice-martin/")) is None

    def test_post_is_never_served_from_the_cache(self, practice):
        Client().get("/")
        response = Client().post("/", {})
        assert cache_state(response) != "hit"
