"""The client's portal and profile: login required, phone checked, nothing saved on bad input."""

import pytest
from django.test import Client
from wagtail import hooks as wagtail_hooks

from site_core.modules import hooks
from site_core.pages.sections import PageSection


@pytest.fixture
def member(practice, make_user):
    user = make_user(email="camille@example.test", first_name="Camille", last_name="Martin",
                     phone="+33612345678")
    client = Client()
    client.force_login(user)
    return user, client


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/portal/", "/portal/profile/", "/en/portal/", "/en/portal/profile/"])
def test_portal_pages_require_login(client, practice, path):
    response = client.get(path)
    assert response.status_code == 302
    login = "/en/accounts/login/" if path.startswith("/en/") else "/accounts/login/"
    assert response["Location"] == f"{login}?next={path}"


@pytest.mark.django_db
def test_profile_post_requires_login(client, practice, make_user):
    user = make_user(first_name="Camille")
    response = client.post("/portal/profile/", {"first_name": "Pirate", "last_name": "X",
                                                "language": "fr"})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.first_name == "Camille"


@pytest.mark.django_db
class TestPortal:
    def test_portal_greets_the_client(self, member):
        user, client = member
        response = client.get("/portal/")
        assert response.status_code == 200
        assert "Camille Martin" in response.content.decode()

    def test_portal_shows_panels_from_modules(self, member):
        user, client = member
        from django.template import engines

        template = engines["django"].from_string("<p>Séance du {{ panel.context.when }}</p>").template

        def panel(request):
            assert request.user == user
            return PageSection(key="probe", title="Mes séances", template=template,
                               context={"when": "3 mars"})

        with wagtail_hooks.register_temporarily(hooks.REGISTER_PORTAL_PANELS, panel):
            body = client.get("/portal/").content.decode()
        assert "Mes séances" in body and "Séance du 3 mars" in body


@pytest.mark.django_db
class TestProfile:
    def data(self, **changes):
        return {"first_name": "Camille", "last_name": "Dupont", "phone": "06 12 34 56 78",
                "time_zone": "America/Montreal", "language": "en", **changes}

    def test_update_saves_and_normalises_the_phone(self, member):
        user, client = member
        response = client.post("/portal/profile/", self.data())
        assert response.status_code == 302
        assert response["Location"] == "/portal/profile/"
        user.refresh_from_db()
        assert (user.last_name, user.phone, user.time_zone, user.language) == (
            "Dupont", "+33612345678", "America/Montreal", "en")
        assert "Dupont" in client.get("/portal/profile/").content.decode()

    @pytest.mark.parametrize("phone", ["12", "not a phone", "+33 1", "06 12 34 56 78 90 12"])
    def test_a_bad_phone_is_refused_and_nothing_is_saved(self, member, phone):
        user, client = member
        response = client.post("/portal/profile/", self.data(phone=phone))
        assert response.status_code == 400
        body = response.content.decode()
        assert "Enter a valid phone number" in body or "numéro" in body
        user.refresh_from_db()
        assert (user.last_name, user.phone, user.time_zone, user.language) == (
            "Martin", "+33612345678", "", "fr")

    def test_an_empty_phone_is_allowed(self, member):
        user, client = member
        assert client.post("/portal/profile/", self.data(phone="")).status_code == 302
        user.refresh_from_db()
        assert user.phone == ""

    def test_an_unknown_time_zone_is_refused(self, member):
        user, client = member
        response = client.post("/portal/profile/", self.data(time_zone="Mars/Olympus"))
        assert response.status_code == 400
        user.refresh_from_db()
        assert user.time_zone == ""

    def test_a_client_cannot_make_themselves_staff(self, member):
        user, client = member
        client.post("/portal/profile/", self.data(is_staff="on", is_superuser="on",
                                                  email="other@example.test"))
        user.refresh_from_db()
        assert not user.is_staff and not user.is_superuser
        assert user.email == "camille@example.test"
