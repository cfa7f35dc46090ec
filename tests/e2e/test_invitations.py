"""Client invitations in Chromium: a practice administrator invites a person from the Clients
list; the person opens the emailed link in their own browser, signs up or logs in, accepts, and
appears in the administrator's Clients list."""

import re
from urllib.parse import urlsplit

import pytest
from django.core import mail

from tests.conftest import build_practice, sign_in_to_admin

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ADMIN_PASSWORD = "practice-admin-password-2026"
CLIENT_PASSWORD = "a-long-enough-passphrase"


@pytest.fixture
def invite_site(live_server, make_user):
    """A practice on the live server's host (and another on one.test) with an administrator."""
    from wagtail.models import Site

    from site_core.access.services import add_practice_admin

    Site.objects.all().delete()
    build_practice("one.test", name="Cabinet Un", slug="un", default=False)
    practice = build_practice("localhost", urlsplit(live_server.url).port, name="Cabinet Lumière", slug="lumiere")
    admin = add_practice_admin(practice.site, make_user(email="admin@practice.test", password=ADMIN_PASSWORD,
                                                        first_name="Anne", last_name="Admin"))
    return live_server.url, practice, admin


def _invite(tab, url, email):
    """In the admin: Clients → Invite a client → the form, sent; returns the emailed link."""
    tab.goto(f"{url}/admin/practice_clients/")
    tab.get_by_role("link", name="Inviter un client").click()
    tab.wait_for_url(f"{url}/admin/practice_clients/invite/")
    # One practice administered: it is the only choice (never the other practice).
    assert tab.locator('select[name="site"] option').all_inner_texts() == ["Cabinet Lumière"]
    tab.fill('input[name="email"]', email)
    tab.select_option('select[name="language"]', "fr")
    tab.locator("#w-editor-form button[type=submit]").click()
    tab.wait_for_url(f"{url}/admin/practice_clients/")
    assert f"Invitation envoyée à {email}" in tab.locator("main, .messages").first.inner_text() or \
        f"Invitation envoyée à {email}" in tab.content()
    [message] = [m for m in mail.outbox if m.to == [email]]
    assert "Cabinet Lumière" in message.subject
    return re.search(r"https?://\S+/invitation/\S+/", message.body).group(0)


def _clients_listing(tab, url):
    tab.goto(f"{url}/admin/practice_clients/")
    return tab.locator("main").inner_text()


def test_invited_person_signs_up_and_appears_in_the_clients_list(invite_site, page, browser, guard):
    from site_core.practice.models import ClientMembership

    url, practice, admin = invite_site
    guard(page)
    sign_in_to_admin(page, url, admin.email, ADMIN_PASSWORD)
    link = _invite(page, url, "lea@example.test")
    assert link.startswith(f"{url}/invitation/")

    # The invited person, in their own browser (no admin session).
    context = browser.new_context(locale="fr-FR")
    try:
        tab = context.new_page()
        guard(tab)
        tab.goto(link)
        assert "Cabinet Lumière vous invite" in tab.locator("main").inner_text()
        tab.get_by_role("link", name="Créer mon compte").click()
        tab.wait_for_url("**/accounts/signup/**")
        assert tab.input_value("#id_email") == "lea@example.test"  # the invited address, offered
        tab.fill("#id_first_name", "Léa")
        tab.fill("#id_last_name", "Martin")
        tab.fill("#id_password1", CLIENT_PASSWORD)
        tab.fill("#id_password2", CLIENT_PASSWORD)
        tab.locator('form button[type="submit"]').last.click()
        # No confirmation code (the invitation proved the address): back at the invitation.
        tab.wait_for_url(link)
        assert "déjà client de Cabinet Lumière" in tab.locator("main").inner_text()
        tab.get_by_role("link", name="Accéder à mon compte").click()
        tab.wait_for_url(f"{url}/portal/")
    finally:
        context.close()

    assert list(ClientMembership.objects.values_list("site__hostname", "user__email", "source")) == [
        ("localhost", "lea@example.test", "invitation")]
    listing = _clients_listing(page, url)
    assert "lea@example.test" in listing and "invité" in listing


def test_invited_person_with_an_account_logs_in_and_accepts(invite_site, page, browser, guard, make_user):
    from site_core.access.services import add_client_membership
    from site_core.practice.models import ClientMembership

    url, practice, admin = invite_site
    sam = make_user(email="sam@example.test", password=CLIENT_PASSWORD, first_name="Sam", last_name="Durand")
    one = ClientMembership._meta.get_field("site").related_model.objects.get(hostname="one.test")
    add_client_membership(sam, one, source="booking")  # a client of the other practice
    guard(page)
    sign_in_to_admin(page, url, admin.email, ADMIN_PASSWORD)
    assert "sam@example.test" not in _clients_listing(page, url)
    link = _invite(page, url, "sam@example.test")

    context = browser.new_context(locale="fr-FR")
    try:
        tab = context.new_page()
        guard(tab)
        tab.goto(link)
        tab.get_by_role("link", name="J’ai déjà un compte : me connecter").click()
        tab.wait_for_url("**/accounts/login/**")
        tab.fill('input[name="login"]', "sam@example.test")
        tab.fill('input[name="password"]', CLIENT_PASSWORD)
        tab.locator('form button[type="submit"]').last.click()
        tab.wait_for_url(link)
        tab.get_by_role("button", name="Accepter l’invitation").click()
        tab.wait_for_url(f"{url}/portal/")
        assert "client de Cabinet Lumière" in tab.content()
    finally:
        context.close()

    assert sorted(ClientMembership.objects.values_list("site__hostname", "source")) == [
        ("localhost", "invitation"), ("one.test", "booking")]
    listing = _clients_listing(page, url)
    assert "sam@example.test" in listing and "invité" in listing
