"""Messages in the admin: an expert reads their own, never a colleague's."""

import pytest
from django.test import Client

from modules.contact import services
from modules.contact.models import ContactMessage
from site_core.practice.models import PracticeSettings


@pytest.fixture
def inbox(practice, make_expert):
    alice = make_expert(practice, "Alice Martin")[0]
    bruno = make_expert(practice, "Bruno Petit")[0]
    to_alice = services.send_message(expert=alice, name="Jeanne Pour-Alice", email="j@example.test",
                                     message="Question pour Alice")
    to_bruno = services.send_message(expert=bruno, name="Paul Pour-Bruno", email="p@example.test",
                                     message="Question pour Bruno")
    return alice, bruno, to_alice, to_bruno


def logged_in(user):
    client = Client()
    client.force_login(user)
    return client


def refused(response):
    return response.status_code == 403 or (
        response.status_code == 302 and "/admin/contact_messages/" not in response["Location"])


@pytest.mark.django_db
class TestExpertInbox:
    def test_an_expert_lists_only_their_messages(self, inbox):
        alice, bruno, to_alice, to_bruno = inbox
        response = logged_in(alice.user).get("/admin/contact_messages/")
        assert response.status_code == 200
        body = response.content.decode()
        assert "Jeanne Pour-Alice" in body
        assert "Paul Pour-Bruno" not in body
        # Searching does not reach past the expert's own rows either.
        body = logged_in(alice.user).get("/admin/contact_messages/?q=Bruno").content.decode()
        assert "Paul Pour-Bruno" not in body

    def test_an_expert_reads_and_marks_their_message_handled(self, inbox):
        alice, bruno, to_alice, to_bruno = inbox
        client = logged_in(alice.user)
        inspect = client.get(f"/admin/contact_messages/inspect/{to_alice.pk}/")
        assert inspect.status_code == 200
        assert "Question pour Alice" in inspect.content.decode()
        response = client.post(f"/admin/contact_messages/edit/{to_alice.pk}/", {"handled": "on"})
        assert response.status_code == 302
        to_alice.refresh_from_db()
        assert to_alice.handled

    @pytest.mark.parametrize("view", ["inspect", "edit", "delete", "history", "usage"])
    def test_another_expert_is_refused(self, inbox, view):
        alice, bruno, to_alice, to_bruno = inbox
        client = logged_in(alice.user)
        response = client.get(f"/admin/contact_messages/{view}/{to_bruno.pk}/")
        assert refused(response), (view, response.status_code)
        assert "Question pour Bruno" not in response.content.decode()
        assert "Paul Pour-Bruno" not in response.content.decode()

    def test_another_expert_cannot_change_or_delete(self, inbox):
        alice, bruno, to_alice, to_bruno = inbox
        client = logged_in(alice.user)
        assert refused(client.post(f"/admin/contact_messages/edit/{to_bruno.pk}/", {"handled": "on"}))
        assert refused(client.post(f"/admin/contact_messages/delete/{to_bruno.pk}/"))
        to_bruno.refresh_from_db()
        assert not to_bruno.handled

    def test_experts_cannot_write_messages_in_the_admin(self, inbox):
        alice, *_ = inbox
        assert refused(logged_in(alice.user).get("/admin/contact_messages/new/"))

    def test_anonymous_visitors_are_sent_to_the_login(self, inbox):
        *_, to_alice, _ = inbox
        for url in ("/admin/contact_messages/", f"/admin/contact_messages/inspect/{to_alice.pk}/"):
            response = Client().get(url)
            assert response.status_code == 302
            assert response["Location"].startswith("/admin/login/")

    def test_a_client_without_admin_access_is_refused(self, inbox, make_user):
        *_, to_alice, _ = inbox
        client = logged_in(make_user())
        response = client.get("/admin/contact_messages/")
        assert response.status_code == 302 and "/admin/login/" in response["Location"]

    def test_an_administrator_sees_everything(self, inbox, make_user):
        body = logged_in(make_user(is_superuser=True, is_staff=True)).get(
            "/admin/contact_messages/").content.decode()
        assert "Jeanne Pour-Alice" in body and "Paul Pour-Bruno" in body

    def test_off_for_the_site_the_inbox_is_closed(self, practice, inbox):
        alice, bruno, to_alice, to_bruno = inbox
        PracticeSettings.objects.filter(site=practice.site).update(enabled_modules=[])
        client = logged_in(alice.user)
        assert refused(client.get("/admin/contact_messages/"))
        assert refused(client.get(f"/admin/contact_messages/inspect/{to_alice.pk}/"))
        assert "/admin/contact_messages/" not in client.get("/admin/").content.decode()
        assert ContactMessage.objects.count() == 2
