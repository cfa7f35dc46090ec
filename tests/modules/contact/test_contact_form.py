"""A visitor writes to an expert from their page: stored, emailed, checked, throttled."""

import logging
import re

import pytest
from django.core import mail
from django.test import Client

from modules.contact.models import ContactMessage
from site_core.access.ratelimits import limits


def form_data(**changes):
    return {"name": "Jeanne Client", "email": "jeanne@example.test", "phone": "06 12 34 56 78",
            "proposed_times": "Mardi 18 h", "message": "Bonjour, je voudrais un rendez-vous.",
            "website": "", **changes}


def contact_link(client, page_path):
    body = client.get(page_path).content.decode()
    links = re.findall(r'href="([^"]*/contact/\d+/)"', body)
    assert len(links) == 1, links
    return links[0]


@pytest.fixture
def alice(practice, make_expert):
    return make_expert(practice, "Alice Martin", languages=("fr", "en"))


@pytest.mark.django_db
class TestSending:
    def test_a_message_from_the_expert_page(self, client, alice, django_capture_on_commit_callbacks):
        expert, page, _ = alice
        url = contact_link(client, "/alice-martin/")
        assert url == f"/contact/{page.pk}/"
        form = client.get(url)
        assert form.status_code == 200
        assert "Alice Martin" in form.content.decode()

        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(url, form_data())
        assert response.status_code == 302
        assert response["Location"] == f"/contact/{page.pk}/sent/"
        sent = client.get(response["Location"])
        assert sent.status_code == 200
        assert "Alice Martin" in sent.content.decode()

        message = ContactMessage.objects.get()
        assert (message.expert, message.name, message.email, message.phone, message.language) == (
            expert, "Jeanne Client", "jeanne@example.test", "+33612345678", "fr")
        assert message.proposed_times == "Mardi 18 h"
        assert message.sender is None
        assert message.notified_at is not None

        assert len(mail.outbox) == 1
        email = mail.outbox[0]
        assert email.to == [expert.user.email]
        assert "Jeanne Client" in email.subject
        assert "Bonjour, je voudrais un rendez-vous." in email.body
        assert "jeanne@example.test" in email.body
        assert "/admin/contact_messages/" in email.body

    def test_a_message_from_the_english_page(self, client, alice, django_capture_on_commit_callbacks):
        expert, _, page_en = alice
        url = contact_link(client, "/en/alice-martin/")
        assert url == f"/en/contact/{page_en.pk}/"
        assert client.get(url).status_code == 200
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(url, form_data())
        assert response.status_code == 302
        assert response["Location"] == f"/en/contact/{page_en.pk}/sent/"
        assert client.get(response["Location"]).status_code == 200
        message = ContactMessage.objects.get()
        assert (message.expert, message.language) == (expert, "en")
        assert len(mail.outbox) == 1

    def test_a_logged_in_client_is_recognised(self, client, alice, make_user):
        member = make_user(email="camille@example.test", first_name="Camille", last_name="Martin")
        client.force_login(member)
        body = client.get(f"/contact/{alice[1].pk}/").content.decode()
        assert 'value="camille@example.test"' in body
        assert 'value="Camille Martin"' in body
        client.post(f"/contact/{alice[1].pk}/", form_data())
        assert ContactMessage.objects.get().sender == member

    def test_the_email_is_sent_once(self, alice):
        from modules.contact import services
        from modules.contact.tasks import notify_expert

        message = services.send_message(expert=alice[0], name="J", email="j@example.test",
                                        message="Bonjour")
        notify_expert(message.pk)
        notify_expert(message.pk)
        assert len(mail.outbox) == 1

    def test_an_expert_without_login_keeps_the_message(self, practice, make_expert, caplog,
                                                       django_capture_on_commit_callbacks):
        _, page, _ = make_expert(practice, "Luc Moreau", with_user=False)
        with caplog.at_level(logging.WARNING, logger="modules.contact.tasks"):
            with django_capture_on_commit_callbacks(execute=True):
                assert Client().post(f"/contact/{page.pk}/", form_data()).status_code == 302
        assert ContactMessage.objects.count() == 1
        assert mail.outbox == []
        assert any("no email" in r.getMessage() for r in caplog.records)


@pytest.mark.django_db
class TestBadInput:
    @pytest.mark.parametrize("changes, field", [
        ({"email": ""}, "email"),
        ({"email": "not-an-address"}, "email"),
        ({"name": ""}, "name"),
        ({"message": ""}, "message"),
        ({"phone": "12"}, "phone"),
        ({"message": "x" * 4001}, "message"),
    ])
    def test_errors_are_shown_and_nothing_is_written(self, client, alice, changes, field,
                                                     django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(f"/contact/{alice[1].pk}/", form_data(**changes))
        assert response.status_code == 400
        body = response.content.decode()
        assert f'id="id_{field}_error"' in body or "field--error" in body
        assert "errorlist" in body or "field__error" in body
        assert ContactMessage.objects.count() == 0
        assert mail.outbox == []

    def test_the_honeypot_stops_bots(self, client, alice, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(f"/contact/{alice[1].pk}/", form_data(website="http://spam.test"))
        assert response.status_code == 400
        assert ContactMessage.objects.count() == 0
        assert mail.outbox == []

    @pytest.mark.parametrize("case", ["unknown", "unpublished", "no expert", "other site"])
    def test_only_live_experts_of_this_site_can_be_written_to(self, client, practice, make_expert,
                                                              case):
        from site_core.pages.models import ExpertPage
        from tests.conftest import build_practice

        if case == "unknown":
            page_id = 999999
        elif case == "unpublished":
            _, page, _ = make_expert(practice, "Alice Martin")
            page.unpublish()
            page_id = page.pk
        elif case == "no expert":
            _, page, _ = make_expert(practice, "Alice Martin")
            ExpertPage.objects.filter(pk=page.pk).update(expert=None)
            page_id = page.pk
        else:
            other = build_practice("autre.test", name="Autre", default=False, slug="autre")
            _, page, _ = make_expert(other, "Bruno Petit")
            page_id = page.pk
        assert client.get(f"/contact/{page_id}/").status_code == 404
        assert client.post(f"/contact/{page_id}/", form_data()).status_code == 404
        assert client.get(f"/contact/{page_id}/sent/").status_code == 404
        assert ContactMessage.objects.count() == 0


#: Messages one address may send per hour (site_core.access.ratelimits): enough for a person, not for a bot.
HOURLY_LIMIT = int(limits("contact")["address"].split("/")[0])


@pytest.mark.django_db
class TestThrottle:
    def test_eleventh_message_in_an_hour_is_refused(self, alice, settings):
        settings.CABINET_PROXY_COUNT = 0
        url = f"/contact/{alice[1].pk}/"
        for n in range(HOURLY_LIMIT):
            response = Client().post(url, form_data(message=f"Message {n}"), REMOTE_ADDR="192.0.2.7",
                                     HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")
            assert response.status_code == 302, n
        response = Client().post(url, form_data(message="One too many"), REMOTE_ADDR="192.0.2.7",
                                 HTTP_X_FORWARDED_FOR="198.51.100.200")
        assert response.status_code == 429
        assert 0 < int(response["Retry-After"]) <= 3600
        assert "Veuillez réessayer dans" in response.content.decode()
        assert "One too many" in response.content.decode()  # what they typed is still in the form
        assert ContactMessage.objects.count() == HOURLY_LIMIT
        assert not ContactMessage.objects.filter(message="One too many").exists()
        # Another visitor is not affected.
        assert Client().post(url, form_data(), REMOTE_ADDR="192.0.2.8").status_code == 302

    def test_behind_a_proxy_each_visitor_has_their_own_allowance(self, alice, settings):
        settings.CABINET_PROXY_COUNT = 1
        url = f"/contact/{alice[1].pk}/"
        proxy = {"REMOTE_ADDR": "10.0.0.2"}
        for n in range(HOURLY_LIMIT):
            Client().post(url, form_data(), HTTP_X_FORWARDED_FOR=f"6.6.6.{n}, 203.0.113.7", **proxy)
        assert Client().post(url, form_data(), HTTP_X_FORWARDED_FOR="7.7.7.7, 203.0.113.7",
                             **proxy).status_code == 429
        assert Client().post(url, form_data(), HTTP_X_FORWARDED_FOR="203.0.113.8",
                             **proxy).status_code == 302

    def test_bad_input_does_not_use_the_allowance(self, alice):
        url = f"/contact/{alice[1].pk}/"
        for _ in range(HOURLY_LIMIT + 2):
            assert Client().post(url, form_data(email="")).status_code == 400
        assert Client().post(url, form_data()).status_code == 302
