"""The module system: a practice switches modules per site, and a module that is off is gone.

"Gone" means, for the site where it is off: its URLs answer 404, its hook
implementations are not called (so its expert-page section disappears), its
admin menu item and admin views disappear; and for another site on the same
install nothing changes.
"""

import pytest
from django.core.exceptions import ValidationError
from django.test import Client, TestCase
from wagtail import hooks as wagtail_hooks

from site_core.modules import dependency_closure, enabled_labels, get_module, hooks, is_enabled
from site_core.pages.sections import PageSection
from site_core.practice.models import PracticeSettings
from tests.conftest import build_practice

OTHER_HOST = "autre-cabinet.test"


def module_function(fn, label):
    """Make ``fn`` look as if a module defined it (the registry reads ``__module__``)."""
    fn.__module__ = f"modules.{label}.wagtail_hooks"
    return fn


def switch_off(practice, *labels):
    settings = PracticeSettings.for_site(practice.site)
    on = settings.enabled_modules
    if on is None:
        on = [m for m in enabled_labels(None)]
    settings.enabled_modules = [label for label in on if label not in labels]
    settings.full_clean()
    # Committed, as the admin's request would: the cached pages go stale on commit.
    with TestCase.captureOnCommitCallbacks(execute=True):
        settings.save()
    return settings


@pytest.fixture
def two_practices(practice, make_expert):
    other = build_practice(OTHER_HOST, name="Autre Cabinet", default=False, slug="autre")
    _, page, page_en = make_expert(practice, "Alice Martin")
    _, other_page, _ = make_expert(other, "Bruno Petit")
    return practice, page, other, other_page


@pytest.fixture
def other_client():
    return Client(HTTP_HOST=OTHER_HOST)


@pytest.mark.django_db
class TestModuleOff:
    def test_contact_urls_answer_404_only_where_contact_is_off(self, client, other_client, two_practices):
        practice, page, other, other_page = two_practices
        assert client.get(f"/contact/{page.pk}/").status_code == 200

        switch_off(practice, "contact")

        assert client.get(f"/contact/{page.pk}/").status_code == 404
        assert client.get(f"/en/contact/{page.pk}/").status_code == 404
        # Posting does nothing either.
        response = client.post(f"/contact/{page.pk}/", {"name": "A", "email": "a@example.test",
                                                        "message": "Bonjour"})
        assert response.status_code == 404
        from modules.contact.models import ContactMessage

        assert not ContactMessage.objects.exists()
        # The other practice still has it.
        assert other_client.get(f"/contact/{other_page.pk}/").status_code == 200

    def test_section_disappears_from_the_expert_page(self, client, other_client, two_practices):
        practice, page, other, other_page = two_practices
        body = client.get("/alice-martin/").content.decode()
        assert 'id="section-contact"' in body
        assert f"/contact/{page.pk}/" in body

        switch_off(practice, "contact")

        response = client.get("/alice-martin/")
        assert response.status_code == 200
        body = response.content.decode()
        assert "Alice Martin" in body
        assert 'id="section-contact"' not in body
        assert f"/contact/{page.pk}/" not in body
        assert 'id="section-contact"' in other_client.get("/bruno-petit/").content.decode()

    def test_admin_menu_item_and_views_disappear(self, make_user, two_practices):
        practice, *_ = two_practices
        admin = make_user(is_superuser=True, is_staff=True)
        here, there = Client(), Client(HTTP_HOST=OTHER_HOST)
        here.force_login(admin)
        there.force_login(admin)
        assert "/admin/contact_messages/" in here.get("/admin/").content.decode()
        assert here.get("/admin/contact_messages/").status_code == 200

        switch_off(practice, "contact")

        response = here.get("/admin/")
        assert response.status_code == 200
        assert "/admin/contact_messages/" not in response.content.decode()
        assert here.get("/admin/contact_messages/").status_code in (302, 403)
        assert "/admin/contact_messages/" in there.get("/admin/").content.decode()
        assert there.get("/admin/contact_messages/").status_code == 200

    def test_hook_implementations_of_an_off_module_are_not_called(self, client, other_client,
                                                                  two_practices):
        practice, page, other, other_page = two_practices
        calls = []

        def section(page, request):
            calls.append(("section", request.get_host()))
            return PageSection(key="probe", title="Sonde", template="contact/section.html")

        def card(experts, cards, request):
            calls.append(("card", request.get_host()))
            for expert in experts:
                cards[expert.pk].append("Ligne de la sonde")

        module_function(section, "contact")
        module_function(card, "contact")
        switch_off(practice, "contact")

        with wagtail_hooks.register_temporarily(
            [(hooks.REGISTER_EXPERT_PAGE_SECTIONS, section), (hooks.CONSTRUCT_EXPERT_CARD, card)]
        ):
            body = client.get("/alice-martin/").content.decode()
            assert 'id="section-probe"' not in body
            assert "Ligne de la sonde" not in client.get("/experts/").content.decode()
            assert calls == []

            assert 'id="section-probe"' in other_client.get("/bruno-petit/").content.decode()
            assert "Ligne de la sonde" in other_client.get("/experts/").content.decode()
            assert calls == [("section", OTHER_HOST), ("card", OTHER_HOST)]

    def test_kernel_hook_implementations_are_always_called(self, client, two_practices):
        practice, *_ = two_practices

        def section(page, request):
            return PageSection(key="kernel-probe", title="Noyau", template="contact/section.html")

        PracticeSettings.objects.filter(site=practice.site).update(enabled_modules=[])
        with wagtail_hooks.register_temporarily(hooks.REGISTER_EXPERT_PAGE_SECTIONS, section):
            assert 'id="section-kernel-probe"' in client.get("/alice-martin/").content.decode()

    def test_get_hooks_filters_by_the_site_given(self, two_practices):
        practice, page, other, other_page = two_practices

        def probe():
            return []

        module_function(probe, "contact")
        switch_off(practice, "contact")
        with wagtail_hooks.register_temporarily("cabinet_test_probe", probe):
            assert probe not in hooks.get_hooks("cabinet_test_probe", site=practice.site)
            assert probe in hooks.get_hooks("cabinet_test_probe", site=other.site)
            # Outside a request a site must be named; build-time callers ask for all.
            with pytest.raises(hooks.NoSiteForHooks):
                hooks.get_hooks("cabinet_test_probe")
            assert probe in hooks.all_hooks("cabinet_test_probe")

    def test_in_a_request_the_requests_site_is_used(self, two_practices, rf):
        from site_core.base.context import reset_current_request, set_current_request

        practice, page, other, other_page = two_practices

        def probe():
            return []

        def kernel_probe():
            return []

        module_function(probe, "contact")
        switch_off(practice, "contact")
        with wagtail_hooks.register_temporarily([("cabinet_test_probe", probe), ("cabinet_test_probe", kernel_probe)]):
            for host, site, expected in (
                (practice.site.hostname, practice.site, [kernel_probe]),
                (other.site.hostname, other.site, [probe, kernel_probe]),
            ):
                request = rf.get("/", HTTP_HOST=f"{host}:{site.port}")
                token = set_current_request(request)
                try:
                    assert [fn for fn in hooks.get_hooks("cabinet_test_probe") if fn in (probe, kernel_probe)] \
                        == expected
                finally:
                    reset_current_request(token)
            # A host no practice serves, with no default site: no module is on, kernel functions run.
            from wagtail.models import Site

            Site.objects.update(is_default_site=False)
            token = set_current_request(rf.get("/", HTTP_HOST="nobody.example"))
            try:
                found = hooks.get_hooks("cabinet_test_probe")
            finally:
                reset_current_request(token)
            assert kernel_probe in found and probe not in found


@pytest.mark.django_db
class TestDependencies:
    @pytest.fixture
    def payments_test_needs_contact(self, monkeypatch):
        monkeypatch.setattr(get_module("payments_test"), "depends_on", ("contact",))

    def test_closure_follows_depends_on(self, payments_test_needs_contact):
        assert dependency_closure({"payments_test"}) == {"payments_test", "contact"}
        assert dependency_closure({"contact"}) == {"contact"}

    def test_turning_off_a_dependency_turns_off_its_dependants(self, client, practice,
                                                               payments_test_needs_contact):
        assert client.get("/payments-test/pay/1/").status_code == 302  # on: asks to log in
        # Stored directly, as an older configuration could be: the gate still holds.
        PracticeSettings.objects.filter(site=practice.site).update(enabled_modules=["payments_test"])

        assert not is_enabled("contact", practice.site)
        assert not is_enabled("payments_test", practice.site)
        assert client.get("/payments-test/pay/1/").status_code == 404

    def test_settings_refuse_a_module_without_what_it_needs(self, practice,
                                                            payments_test_needs_contact):
        settings = PracticeSettings.for_site(practice.site)
        settings.enabled_modules = ["payments_test"]
        with pytest.raises(ValidationError) as error:
            settings.full_clean()
        assert "contact" in str(error.value.message_dict["enabled_modules"])
        settings.enabled_modules = ["payments_test", "contact"]
        settings.full_clean()

    def test_admin_settings_form_shows_the_error_and_saves_nothing(self, practice, make_user,
                                                                   payments_test_needs_contact):
        admin = make_user(is_superuser=True, is_staff=True)
        client = Client()
        client.force_login(admin)
        url = f"/admin/settings/site_core/practicesettings/{practice.site.pk}/"
        from wagtail.test.utils.form_data import querydict_from_html

        response = client.get(url)
        assert response.status_code == 200
        data = querydict_from_html(response.content.decode(), form_index=_settings_form_index(response))
        data.setlist("enabled_modules", ["payments_test"])
        response = client.post(url, data)
        assert response.status_code == 200
        assert "contact" in response.content.decode()
        assert PracticeSettings.for_site(practice.site).enabled_modules is None


def _settings_form_index(response):
    """The index of the settings edit form among the admin page's forms."""
    from bs4 import BeautifulSoup

    forms = BeautifulSoup(response.content, "html.parser").find_all("form")
    for index, form in enumerate(forms):
        if form.find(attrs={"name": "practice_name"}) is not None:
            return index
    raise AssertionError("no settings form on the page")


@pytest.mark.django_db
class TestRequiredModule:
    def test_accounts_cannot_be_offered_as_a_choice(self):
        from site_core.practice.models import module_choices

        labels = [label for label, _ in module_choices()]
        assert "accounts" not in labels
        assert "contact" in labels

    def test_accounts_stays_on_with_nothing_chosen(self, client, practice):
        PracticeSettings.objects.filter(site=practice.site).update(enabled_modules=[])
        assert is_enabled("accounts", practice.site)
        assert not is_enabled("contact", practice.site)
        response = client.get("/portal/")
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")

    def test_everything_is_on_by_default(self, practice):
        assert PracticeSettings.for_site(practice.site).enabled_modules is None
        assert {"accounts", "contact"} <= enabled_labels(practice.site)


def test_system_check_flags_a_module_without_a_module_config(settings):
    from site_core.checks import modules_are_module_configs

    assert modules_are_module_configs() == []
    settings.CABINET_MODULES = [*settings.CABINET_MODULES, "django.contrib.sitemaps"]
    errors = modules_are_module_configs()
    assert [(e.id, "django.contrib.sitemaps" in e.msg) for e in errors] == [("cabinet.E001", True)]
