"""Expert pages: the consultation link, slugs that would clash, and who may edit what."""

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from wagtail.models import Locale, Page
from wagtail.test.utils.form_data import querydict_from_html

from site_core.pages.models import ContentPage, ExpertIndexPage, ExpertPage


def publish(page):
    page.save_revision().publish()
    return page


@pytest.fixture
def lyon_index(practice):
    """A second expert index filed under the first: /experts/lyon/."""
    index = ExpertIndexPage(title="Lyon", slug="lyon")
    practice.index.add_child(instance=index)
    publish(index)
    index_en = index.copy_for_translation(Locale.objects.get(language_code="en"), copy_parents=True)
    index_en.save()
    publish(index_en)
    return index


@pytest.fixture
def about(practice):
    """A top-level page of the site: /a-propos/ and its English twin /en/about/."""
    page = ContentPage(title="À propos", slug="a-propos")
    practice.home.add_child(instance=page)
    publish(page)
    page_en = page.copy_for_translation(Locale.objects.get(language_code="en"))
    page_en.title, page_en.slug = "About", "about"
    page_en.save()
    publish(page_en)
    return page


@pytest.mark.django_db
class TestConsultationLink:
    def test_served_at_the_slug_in_both_languages(self, client, practice, make_expert):
        _, page, page_en = make_expert(practice, "Alice Martin")
        assert page.url_path.endswith("/experts/alice-martin/")
        french = client.get("/alice-martin/")
        assert french.status_code == 200
        assert "Spécialité de test" in french.content.decode()
        english = client.get("/en/alice-martin/")
        assert english.status_code == 200
        assert "Test specialty" in english.content.decode()
        assert "Spécialité de test" not in english.content.decode()

    def test_served_at_the_slug_when_filed_deeper(self, client, practice, make_expert, lyon_index):
        lyon_en = lyon_index.get_translation(Locale.objects.get(language_code="en"))
        _, page, page_en = make_expert(practice, "Bruno Petit", parent=lyon_index)
        assert page_en.get_parent().pk == lyon_en.pk
        assert page.get_parent().get_parent().pk == practice.index.pk
        for path, text in (("/bruno-petit/", "Spécialité de test"),
                           ("/en/bruno-petit/", "Test specialty")):
            response = client.get(path)
            assert response.status_code == 200, path
            assert text in response.content.decode()

    def test_its_url_is_reported_as_the_consultation_link(self, practice, make_expert, lyon_index):
        _, page, page_en = make_expert(practice, "Bruno Petit", parent=lyon_index)
        assert page.url == "/bruno-petit/"
        assert page_en.url == "/en/bruno-petit/"
        assert page.full_url == "http://testserver/bruno-petit/"

    def test_listed_with_the_consultation_link(self, client, practice, make_expert, lyon_index):
        make_expert(practice, "Bruno Petit", parent=lyon_index)
        assert 'href="/bruno-petit/"' in client.get("/experts/").content.decode()
        assert 'href="/en/bruno-petit/"' in client.get("/en/experts/").content.decode()

    def test_a_draft_or_unpublished_expert_is_not_served(self, client, practice, make_expert):
        _, page, page_en = make_expert(practice, "Alice Martin")
        page.unpublish()
        assert client.get("/alice-martin/").status_code == 404
        assert client.get("/en/alice-martin/").status_code == 200
        assert "Alice Martin" not in client.get("/experts/").content.decode()

    def test_a_real_top_level_page_wins(self, client, practice, make_expert, about):
        response = client.get("/a-propos/")
        assert response.status_code == 200
        assert "À propos" in response.content.decode()


@pytest.mark.django_db
class TestSlugsThatWouldClash:
    def new_page(self, slug, locale="fr"):
        return ExpertPage(title="X", slug=slug, display_name="X", specialty="Y",
                          locale=Locale.objects.get(language_code=locale))

    @pytest.mark.parametrize("slug", ["admin", "accounts", "en", "api", "static", "portal", "contact"])
    def test_reserved_slugs_are_refused(self, practice, make_expert, slug):
        _, page, _ = make_expert(practice, "Alice Martin")
        page.slug = slug
        with pytest.raises(ValidationError) as error:
            page.full_clean()
        assert "slug" in error.value.message_dict

    def test_every_module_url_prefix_is_reserved(self, practice, make_expert):
        from site_core.modules import all_modules

        _, page, _ = make_expert(practice, "Alice Martin")
        for module in all_modules():
            if module.url_prefix is None:
                continue
            page.slug = module.url_prefix.strip("/").split("/")[0]
            with pytest.raises(ValidationError):
                page.full_clean()

    def test_a_slug_used_by_a_top_level_page_is_refused(self, practice, make_expert, about):
        _, page, _ = make_expert(practice, "Alice Martin")
        page.slug = "a-propos"
        with pytest.raises(ValidationError) as error:
            page.full_clean()
        assert "slug" in error.value.message_dict

    def test_a_slug_used_by_another_expert_deeper_is_refused(self, practice, make_expert, lyon_index):
        make_expert(practice, "Alice Martin")
        _, page, _ = make_expert(practice, "Bruno Petit", parent=lyon_index)
        page.slug = "alice-martin"
        with pytest.raises(ValidationError) as error:
            page.full_clean()
        assert "slug" in error.value.message_dict

    def test_english_pages_are_checked_against_the_english_tree(self, practice, make_expert, about):
        _, page, page_en = make_expert(practice, "Alice Martin")
        page_en.slug = "about"
        with pytest.raises(ValidationError) as error:
            page_en.full_clean()
        assert "slug" in error.value.message_dict
        page_en.slug = "a-propos"  # the French page's slug is free in English
        page_en.full_clean()

    def test_the_same_slug_on_another_site_is_fine(self, practice, make_expert):
        from tests.conftest import build_practice

        other = build_practice("autre.test", name="Autre", default=False, slug="autre")
        make_expert(other, "Alice Martin", with_user=False)
        _, page, _ = make_expert(practice, "Bruno Petit")
        page.slug = "alice-martin"
        page.full_clean()

    def test_a_page_keeps_its_own_slug(self, practice, make_expert):
        _, page, page_en = make_expert(practice, "Alice Martin")
        page.full_clean()
        page_en.full_clean()

    def test_a_new_top_level_page_may_not_hide_an_expert(self, practice, make_expert, about):
        make_expert(practice, "Alice Martin")
        page = ContentPage(title="Alice", slug="alice-martin")
        with pytest.raises(ValidationError):
            practice.home.add_child(instance=page)  # Wagtail's save() runs full_clean()
        assert ContentPage.objects.filter(slug="alice-martin").count() == 0
        # Deeper, it hides nothing: /a-propos/alice-martin/ is another address.
        about.add_child(instance=ContentPage(title="Alice", slug="alice-martin"))
        assert ContentPage.objects.filter(slug="alice-martin").count() == 1

    def test_creating_a_clashing_page_in_the_admin_is_refused(self, practice, make_user, about):
        admin = make_user(is_superuser=True, is_staff=True)
        client = Client()
        client.force_login(admin)
        url = f"/admin/pages/add/site_core/expertpage/{practice.index.pk}/"
        data = page_form_data(client, url)
        data.update({"title": "Intrus", "slug": "a-propos", "display_name": "Intrus",
                     "specialty": "Rien", "action-publish": "action-publish"})
        response = client.post(url, data)
        assert response.status_code == 200
        assert not ExpertPage.objects.filter(slug="a-propos").exists()
        assert client.get("/a-propos/").status_code == 200
        assert "À propos" in client.get("/a-propos/").content.decode()

        data["slug"] = "intrus"
        response = client.post(url, data)
        assert response.status_code == 302
        assert ExpertPage.objects.get(slug="intrus").live
        assert client.get("/intrus/").status_code == 200


def page_form_data(client, url):
    """The admin page form as a browser would post it (StreamFields are drawn by JavaScript:
    an empty one posts a count of 0)."""
    response = client.get(url)
    assert response.status_code == 200
    data = querydict_from_html(response.content.decode(), form_id="page-edit-form")
    for stream in ("biography", "body"):
        if f"{stream}-count" not in data and f'"fieldName": "{stream}"' in response.content.decode():
            data[f"{stream}-count"] = "0"
    return data


def edit_form_data(client, page):
    return page_form_data(client, f"/admin/pages/{page.pk}/edit/")


@pytest.mark.django_db
class TestWhoEditsWhat:
    @pytest.fixture
    def team(self, practice, make_expert):
        alice = make_expert(practice, "Alice Martin")
        bruno = make_expert(practice, "Bruno Petit")
        return alice, bruno

    def logged_in(self, user):
        client = Client()
        client.force_login(user)
        return client

    def test_an_expert_edits_and_publishes_their_own_page(self, team):
        (alice, page, page_en), _ = team
        client = self.logged_in(alice.user)
        data = edit_form_data(client, page)
        data["specialty"] = "Médiation familiale"
        data["action-publish"] = "action-publish"
        response = client.post(f"/admin/pages/{page.pk}/edit/", data)
        assert response.status_code == 302
        page.refresh_from_db()
        assert page.specialty == "Médiation familiale"
        assert page.live and not page.has_unpublished_changes
        assert "Médiation familiale" in Client().get("/alice-martin/").content.decode()

    def test_an_expert_edits_their_english_page_too(self, team):
        (alice, page, page_en), _ = team
        client = self.logged_in(alice.user)
        data = edit_form_data(client, page_en)
        data["specialty"] = "Family mediation"
        data["action-publish"] = "action-publish"
        assert client.post(f"/admin/pages/{page_en.pk}/edit/", data).status_code == 302
        assert "Family mediation" in Client().get("/en/alice-martin/").content.decode()

    def test_an_expert_cannot_give_their_page_to_someone_else(self, team):
        (alice, page, _), (bruno, _, _) = team
        client = self.logged_in(alice.user)
        data = edit_form_data(client, page)
        assert "expert" not in data
        data["expert"] = str(bruno.pk)
        data["action-publish"] = "action-publish"
        assert client.post(f"/admin/pages/{page.pk}/edit/", data).status_code == 302
        page.refresh_from_db()
        assert page.expert_id == alice.pk

    def test_an_expert_is_refused_on_a_colleagues_page(self, team):
        (alice, _, _), (bruno, bruno_page, bruno_page_en) = team
        client = self.logged_in(alice.user)
        for target in (bruno_page, bruno_page_en):
            response = client.get(f"/admin/pages/{target.pk}/edit/")
            assert response.status_code in (302, 403)
            if response.status_code == 302:
                assert f"/admin/pages/{target.pk}/edit/" not in response["Location"]

        bruno_client = self.logged_in(bruno.user)
        data = edit_form_data(bruno_client, bruno_page)
        data["specialty"] = "Piraté"
        data["action-publish"] = "action-publish"
        response = client.post(f"/admin/pages/{bruno_page.pk}/edit/", data)
        assert response.status_code in (302, 403)
        bruno_page.refresh_from_db()
        assert bruno_page.specialty == "Spécialité de test"
        assert bruno_page.revisions.count() == 1
        assert "Piraté" not in Client().get("/bruno-petit/").content.decode()

    def test_an_expert_cannot_edit_the_practices_pages(self, practice, team):
        (alice, _, _), _ = team
        client = self.logged_in(alice.user)
        for target in (practice.home, practice.index):
            assert client.get(f"/admin/pages/{target.pk}/edit/").status_code in (302, 403)
        response = client.get(f"/admin/pages/add/site_core/expertpage/{practice.index.pk}/")
        assert response.status_code in (302, 403)

    def test_an_administrator_edits_everything(self, practice, team, make_user):
        (alice, alice_page, _), (bruno, bruno_page, _) = team
        admin = make_user(is_superuser=True, is_staff=True)
        client = self.logged_in(admin)
        for target, specialty in ((alice_page, "Droit"), (bruno_page, "Coaching")):
            data = edit_form_data(client, target)
            data["specialty"] = specialty
            data["action-publish"] = "action-publish"
            assert client.post(f"/admin/pages/{target.pk}/edit/", data).status_code == 302
            target.refresh_from_db()
            assert target.specialty == specialty
        data = edit_form_data(client, practice.home)
        data["intro"] = "Nouveau titre"
        data["action-publish"] = "action-publish"
        assert client.post(f"/admin/pages/{practice.home.pk}/edit/", data).status_code == 302
        assert "Nouveau titre" in Client().get("/").content.decode()

    def test_relinking_an_expert_moves_the_edit_rights(self, team, make_user):
        from site_core.access.services import link_expert_user

        (alice, page, _), _ = team
        old_user = alice.user
        new_user = make_user(email="alice.new@experts.test")
        link_expert_user(alice, new_user)
        assert self.logged_in(new_user).get(f"/admin/pages/{page.pk}/edit/").status_code == 200
        assert self.logged_in(old_user).get(f"/admin/pages/{page.pk}/edit/").status_code in (302, 403)
        assert not Page.objects.filter(pk=page.pk).first().permissions_for_user(old_user).can_edit()


@pytest.mark.django_db
def test_a_top_level_page_clashing_with_an_expert_is_refused_in_the_admin(practice, make_expert,
                                                                          make_user):
    make_expert(practice, "Alice Martin")
    admin = make_user(is_superuser=True, is_staff=True)
    client = Client()
    client.force_login(admin)
    url = f"/admin/pages/add/site_core/contentpage/{practice.home.pk}/"
    data = page_form_data(client, url)
    data.update({"title": "Alice", "slug": "alice-martin", "action-publish": "action-publish"})
    response = client.post(url, data)
    assert response.status_code == 200
    assert "alice-martin" in response.content.decode()
    assert not ContentPage.objects.filter(slug="alice-martin").exists()
    assert "Spécialité de test" in client.get("/alice-martin/").content.decode()


@pytest.mark.django_db
class TestReassigningAPage:
    def test_the_previous_expert_loses_the_page(self, practice, make_expert, make_user):
        alice, page, page_en = make_expert(practice, "Alice Martin")
        bruno, *_ = make_expert(practice, "Bruno Petit")
        admin = Client()
        admin.force_login(make_user(is_superuser=True, is_staff=True))
        data = edit_form_data(admin, page)
        data["expert"] = str(bruno.pk)
        data["action-publish"] = "action-publish"
        assert admin.post(f"/admin/pages/{page.pk}/edit/", data).status_code == 302
        page.refresh_from_db()
        assert page.expert_id == bruno.pk

        alice_client, bruno_client = Client(), Client()
        alice_client.force_login(alice.user)
        bruno_client.force_login(bruno.user)
        assert alice_client.get(f"/admin/pages/{page.pk}/edit/").status_code in (302, 403)
        assert bruno_client.get(f"/admin/pages/{page.pk}/edit/").status_code == 200
        # Alice keeps the pages still hers (the English one was not reassigned).
        assert alice_client.get(f"/admin/pages/{page_en.pk}/edit/").status_code == 200

    def test_a_page_without_expert_belongs_to_nobody(self, practice, make_expert):
        alice, page, _ = make_expert(practice, "Alice Martin")
        page.expert = None
        page.save_revision().publish()
        client = Client()
        client.force_login(alice.user)
        assert client.get(f"/admin/pages/{page.pk}/edit/").status_code in (302, 403)
