"""French at /, English at /en/: the language switcher and <html lang>."""

import pytest
from bs4 import BeautifulSoup


def switcher(response):
    """{language code: (href, is current)} from the page's language switcher."""
    soup = BeautifulSoup(response.content, "html.parser")
    nav = soup.find(class_="language-switcher")
    assert nav is not None, "no language switcher on the page"
    return {a["hreflang"]: (a["href"], a.get("aria-current") == "true") for a in nav.find_all("a")}


def alternates(response):
    soup = BeautifulSoup(response.content, "html.parser")
    return {link["hreflang"]: link["href"] for link in soup.find_all("link", rel="alternate")}


def html_lang(response):
    return BeautifulSoup(response.content, "html.parser").html.get("lang")


@pytest.mark.django_db
class TestSwitcher:
    def test_expert_page_links_to_its_translation(self, client, practice, make_expert):
        make_expert(practice, "Alice Martin")
        french = client.get("/alice-martin/")
        assert html_lang(french) == "fr"
        assert switcher(french) == {"fr": ("/alice-martin/", True), "en": ("/en/alice-martin/", False)}
        assert alternates(french) == {"en": "/en/alice-martin/"}

        english = client.get("/en/alice-martin/")
        assert html_lang(english) == "en"
        assert switcher(english) == {"fr": ("/alice-martin/", False), "en": ("/en/alice-martin/", True)}

    def test_following_the_link_serves_the_other_language(self, client, practice, make_expert):
        make_expert(practice, "Alice Martin")
        href, _ = switcher(client.get("/alice-martin/"))["en"]
        response = client.get(href)
        assert response.status_code == 200
        assert html_lang(response) == "en"
        assert "Test specialty" in response.content.decode()

    def test_home_and_index(self, client, practice):
        assert switcher(client.get("/")) == {"fr": ("/", True), "en": ("/en/", False)}
        assert switcher(client.get("/en/")) == {"fr": ("/", False), "en": ("/en/", True)}
        assert switcher(client.get("/en/experts/"))["fr"] == ("/experts/", False)
        assert html_lang(client.get("/en/experts/")) == "en"

    def test_a_page_not_translated_yet_links_to_the_other_home(self, client, practice, make_expert):
        make_expert(practice, "Luc Moreau", translate=False)
        response = client.get("/luc-moreau/")
        assert response.status_code == 200
        assert switcher(response)["en"] == ("/en/", False)
        assert client.get("/en/luc-moreau/").status_code == 404

    def test_pages_outside_wagtail_switch_by_url(self, client, practice):
        response = client.get("/accounts/login/")
        assert response.status_code == 200
        assert html_lang(response) == "fr"
        assert switcher(response)["en"] == ("/en/accounts/login/", False)
        response = client.get("/en/accounts/login/")
        assert html_lang(response) == "en"
        assert switcher(response)["fr"] == ("/accounts/login/", False)

    def test_the_english_page_is_in_english(self, client, practice):
        response = client.get("/en/accounts/login/")
        assert response["Content-Language"] == "en"
        body = response.content.decode()
        assert "Log in" in body or "Sign In" in body
        assert client.get("/accounts/login/")["Content-Language"] == "fr"
