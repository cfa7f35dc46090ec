"""Client invitations (issue A5, item 3): a practice's administrator invites a person by email;
the signed link, opened on the practice's site, makes them a client once they accept."""

import re
import time
from datetime import timedelta
from unittest import mock
from urllib.parse import quote

import pytest
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client

from tests.conftest import build_practice

PASSWORD = "correct-horse-battery"


@pytest.fixture
def two(practice):
    """Practice 1 (``practice``, on testserver) and practice 2 on two.test."""
    return practice, build_practice("two.test", name="Cabinet Deux", slug="deux", default=False)


@pytest.fixture
def admin_one(two, make_user):
    from site_core.access.services import add_practice_admin

    return add_practice_admin(two[0].site, make_user(email="admin-one@practice.test"))


@pytest.fixture
def admin_two(two, make_user):
    from site_core.access.services import add_practice_admin

    return add_practice_admin(two[1].site, make_user(email="admin-two@practice.test"))


def _link(message):
    return re.search(r"https?://\S+/invitation/\S+/", message.body).group(0)


def _path(message):
    return re.sub(r"^https?://[^/]+", "", _link(message))


def _memberships():
    from site_core.practice.models import ClientMembership

    return list(ClientMembership.objects.values_list("site__hostname", "user__email", "source"))


# --- The service --------------------------------------------------------------------------

def test_an_administrator_invites_a_person_in_french_by_default(two, admin_one, mailoutbox):
    from site_core.access.invitations import invite_client, read_token

    url = invite_client(two[0].site, "  Lea.Martin@Example.TEST ", by=admin_one)
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["lea.martin@example.test"]
    assert "Cabinet Test" in message.subject and "invite" in message.subject
    assert "Cabinet Test" in message.body and "14 jours" in message.body
    assert _link(message) == url
    assert f"Accepter l’invitation : {url}" in message.body  # French typography: a space before ':'
    assert url.startswith("http://testserver/invitation/")  # the practice's own address, French: no prefix
    invitation = read_token(url.rsplit("/", 2)[1])
    assert (invitation.site_id, invitation.email) == (two[0].site.pk, "lea.martin@example.test")
    assert _memberships() == []  # nothing is written before the person accepts


def test_an_invitation_in_english_links_to_the_english_page(two, admin_one, mailoutbox, settings):
    from site_core.access.invitations import invite_client

    settings.CABINET_INVITATION_DAYS = 3
    url = invite_client(two[0].site, "sam@example.test", by=admin_one, language="en")
    assert url.startswith("http://testserver/en/invitation/")
    assert "invites you" in mailoutbox[0].subject
    assert "valid for 3 days" in mailoutbox[0].body
    assert f"Accept the invitation: {url}" in mailoutbox[0].body


def test_the_install_owner_invites_to_any_practice(two, make_user, mailoutbox):
    from site_core.access.invitations import invite_client

    owner = make_user(email="owner@cabinet.test", is_superuser=True, is_staff=True)
    url = invite_client(two[1].site, "x@example.test", by=owner)
    assert url.startswith("http://two.test/invitation/")
    assert "Cabinet Deux" in mailoutbox[0].body


@pytest.mark.parametrize("email", ["", "not-an-email", "a@b", "x" * 250 + "@example.test", "a b@example.test"])
def test_an_invalid_address_is_refused(two, admin_one, mailoutbox, email):
    from site_core.access.invitations import invite_client

    with pytest.raises(ValidationError) as refused:
        invite_client(two[0].site, email, by=admin_one)
    assert refused.value.code == "invalid_email"
    assert mailoutbox == [] and _memberships() == []


def test_a_person_already_a_client_is_refused_with_a_clear_message(two, admin_one, make_user, mailoutbox):
    from site_core.access.invitations import invite_client
    from site_core.access.services import add_client_membership

    client = make_user(email="client@example.test")
    add_client_membership(client, two[0].site, source="booking")
    with pytest.raises(ValidationError) as refused:
        invite_client(two[0].site, "CLIENT@example.test", by=admin_one)
    assert refused.value.code == "already_member"
    assert "client@example.test" in refused.value.messages[0] and "Cabinet Test" in refused.value.messages[0]
    assert mailoutbox == []
    # A client of another practice is not a member of this one: they may be invited.
    invite_client(two[1].site, "client@example.test", by=make_user(is_superuser=True))
    assert len(mailoutbox) == 1


def test_an_administrator_of_another_practice_is_refused(two, admin_two, make_user, mailoutbox):
    from site_core.access.invitations import invite_client
    from site_core.access.services import create_expert

    with pytest.raises(PermissionDenied):
        invite_client(two[0].site, "x@example.test", by=admin_two)
    expert_user = make_user()
    create_expert(name="Alice", user=expert_user, site=two[0].site)
    for nobody in (expert_user, make_user()):  # an expert, a client: no administrators
        with pytest.raises(PermissionDenied):
            invite_client(two[0].site, "x@example.test", by=nobody)
    assert mailoutbox == [] and _memberships() == []


def test_invitations_are_rate_limited_per_administrator(two, admin_one, admin_two, mailoutbox, settings):
    from site_core.access.invitations import invite_client

    settings.CABINET_RATE_LIMITS = {"invitation": {"account": "3/h"}}
    for n in range(3):
        invite_client(two[0].site, f"p{n}@example.test", by=admin_one)
    with pytest.raises(ValidationError) as refused:
        invite_client(two[0].site, "p3@example.test", by=admin_one)
    assert refused.value.code == "rate_limited"
    assert "trop d’invitations" in refused.value.messages[0]
    assert len(mailoutbox) == 3
    # Another administrator has their own count; refusals for bad input cost nothing.
    with pytest.raises(ValidationError):
        invite_client(two[1].site, "bad", by=admin_two)
    invite_client(two[1].site, "p4@example.test", by=admin_two)
    assert len(mailoutbox) == 4


def test_the_default_limit_is_fifty_an_hour():
    from site_core.access.ratelimits import limits

    assert limits("invitation")["account"] == "50/h"


def test_a_token_is_tamper_proof_and_expires(two):
    from site_core.access.invitations import InvalidInvitation, make_token, read_token

    token = make_token(two[0].site, "a@example.test")
    assert read_token(token).email == "a@example.test"
    for bad in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), token.replace(":", "", 1), "x", "",
                signing.dumps({"s": two[0].site.pk, "e": "a@example.test"}, salt="another.salt"),
                signing.dumps(["not", "a", "dict"], salt="cabinet.access.invitation")):
        with pytest.raises(InvalidInvitation) as refused:
            read_token(bad)
        assert not refused.value.expired
    with pytest.raises(InvalidInvitation) as refused:
        read_token(token, max_age=timedelta(seconds=-1))
    assert refused.value.expired
    later = time.time() + 15 * 86400
    with mock.patch("django.core.signing.time.time", return_value=later), pytest.raises(InvalidInvitation) as old:
        read_token(token)
    assert old.value.expired


# --- The page the link opens ---------------------------------------------------------------

@pytest.fixture
def invited(two, admin_one, mailoutbox):
    """An invitation to practice 1 for lea@example.test: its path."""
    from site_core.access.invitations import invite_client

    invite_client(two[0].site, "lea@example.test", by=admin_one)
    return _path(mailoutbox[-1])


def _logged_in(user, host="testserver"):
    http = Client(HTTP_HOST=host, enforce_csrf_checks=True)
    http.force_login(user)
    return http


def _csrf(http):
    """The CSRF cookie's value, fetched from a page with a form if none was set yet."""
    for page in ("/accounts/login/", "/portal/"):  # anonymous, signed in
        if "csrftoken" not in http.cookies:
            http.get(page)
    return http.cookies["csrftoken"].value


def _post(http, path):
    """GET ``path``, then POST to it with the CSRF token (checks enforced) as a browser would."""
    page = http.get(path)
    return page, http.post(path, {"csrfmiddlewaretoken": _csrf(http)})


def test_the_invited_person_signed_in_accepts_and_lands_in_their_portal(two, invited, make_user):
    lea = make_user(email="lea@example.test")
    http = _logged_in(lea)
    page, accepted = _post(http, invited)
    assert page.status_code == 200
    text = page.content.decode()
    assert "Cabinet Test vous invite" in text and "lea@example.test" in text
    assert 'name="csrfmiddlewaretoken"' in text and "Accepter l’invitation" in text
    assert accepted.status_code == 302 and accepted["Location"] == "/portal/"
    assert _memberships() == [("testserver", "lea@example.test", "invitation")]
    # Accepting twice is harmless; the page then says they are a client already.
    again = http.post(invited, {"csrfmiddlewaretoken": _csrf(http)})
    assert again.status_code == 302
    assert _memberships() == [("testserver", "lea@example.test", "invitation")]
    assert "déjà client" in http.get(invited).content.decode()
    portal = http.get("/portal/")
    assert "Cabinet Test" in portal.content.decode()


def test_a_client_who_came_otherwise_stays_as_they_came(two, invited, make_user):
    from site_core.access.services import add_client_membership

    lea = make_user(email="lea@example.test")
    add_client_membership(lea, two[0].site, source="booking")
    _page, accepted = _post(_logged_in(lea), invited)
    assert accepted.status_code == 302
    assert _memberships() == [("testserver", "lea@example.test", "booking")]


def test_a_verified_second_address_counts_an_unverified_one_does_not(two, invited, make_user):
    from allauth.account.models import EmailAddress

    lea = make_user(email="lea.pro@example.test")
    address = EmailAddress.objects.create(user=lea, email="lea@example.test", verified=False, primary=False)
    _page, refused = _post(_logged_in(lea), invited)
    assert refused.status_code == 403 and _memberships() == []
    address.verified = True
    address.save()
    _page, accepted = _post(_logged_in(lea), invited)
    assert accepted.status_code == 302
    assert _memberships() == [("testserver", "lea.pro@example.test", "invitation")]


def test_an_anonymous_visitor_is_offered_to_sign_up_or_log_in_and_nothing_is_written(two, invited):
    http = Client(enforce_csrf_checks=True)
    page = http.get(invited)
    assert page.status_code == 200
    text = page.content.decode()
    assert "Cabinet Test vous invite" in text
    signup = f'/accounts/signup/?email=lea%40example.test&amp;next={quote(invited, safe="")}'
    assert f'href="{signup}"' in text
    assert f'href="/accounts/login/?next={quote(invited, safe="")}"' in text
    # A POST without a login writes nothing.
    refused = http.post(invited, {"csrfmiddlewaretoken": _csrf(http)})
    assert refused.status_code == 200 and _memberships() == []
    # The sign-up form offers the invited address.
    form = http.get(signup.replace("&amp;", "&"))
    assert 'value="lea@example.test"' in form.content.decode()


def _sign_up(http, invited, email):
    """Opens the invitation, then signs up from it (CSRF enforced) with ``email``."""
    http.get(invited)
    signup_url = f"/accounts/signup/?next={invited}"
    http.get(signup_url)
    return http.post(signup_url, {
        "first_name": "Léa", "last_name": "Martin", "email": email,
        "password1": "a-long-enough-passphrase", "password2": "a-long-enough-passphrase",
        "csrfmiddlewaretoken": http.cookies["csrftoken"].value})


def test_signing_up_from_the_invitation_makes_an_invited_client_without_a_code(two, invited, mailoutbox):
    from site_core.practice.models import User

    http = Client(enforce_csrf_checks=True)
    sent = len(mailoutbox)
    response = _sign_up(http, invited, "lea@example.test")
    assert response.status_code == 302 and response["Location"] == invited
    assert len(mailoutbox) == sent  # the invitation proved the address: no confirmation code
    assert User.objects.get(email="lea@example.test").emailaddress_set.get().verified
    assert _memberships() == [("testserver", "lea@example.test", "invitation")]
    page, accepted = _post(http, invited)
    assert page.status_code == 200 and accepted.status_code == 302
    assert _memberships() == [("testserver", "lea@example.test", "invitation")]


def test_signing_up_with_another_address_asks_for_the_code_as_usual(two, invited, mailoutbox):
    from site_core.practice.models import User

    http = Client(enforce_csrf_checks=True)
    sent = len(mailoutbox)
    response = _sign_up(http, invited, "other@example.test")
    assert response.status_code == 302 and response["Location"] == "/accounts/confirm-email/"
    assert len(mailoutbox) == sent + 1 and mailoutbox[-1].to == ["other@example.test"]  # the code
    user = User.objects.get(email="other@example.test")
    assert list(user.emailaddress_set.values_list("email", "verified")) == [("other@example.test", False)]
    # A member by signing up on the site, not by the invitation (which was for lea@).
    assert _memberships() == [("testserver", "other@example.test", "signup")]


def test_an_invitation_opened_on_one_practice_verifies_nothing_on_another(two, invited):
    http = Client(HTTP_HOST="testserver", enforce_csrf_checks=True)
    http.get(invited)
    other = Client(HTTP_HOST="two.test", enforce_csrf_checks=True)
    other.cookies = http.cookies  # the same browser, on practice 2's address
    other.get("/accounts/signup/")
    response = other.post("/accounts/signup/", {
        "first_name": "Léa", "last_name": "Martin", "email": "lea@example.test",
        "password1": "a-long-enough-passphrase", "password2": "a-long-enough-passphrase",
        "csrfmiddlewaretoken": other.cookies["csrftoken"].value})
    assert response.status_code == 302 and response["Location"] == "/accounts/confirm-email/"
    assert _memberships() == [("two.test", "lea@example.test", "signup")]


def test_logging_in_from_the_invitation_comes_back_to_it(two, invited, make_user):
    make_user(email="lea@example.test", password=PASSWORD)
    http = Client(enforce_csrf_checks=True)
    http.get(invited)
    login_url = f"/accounts/login/?next={invited}"
    http.get(login_url)
    response = http.post(login_url, {"login": "lea@example.test", "password": PASSWORD,
                                     "csrfmiddlewaretoken": http.cookies["csrftoken"].value})
    assert response.status_code == 302 and response["Location"] == invited
    _page, accepted = _post(http, invited)
    assert accepted.status_code == 302
    assert _memberships() == [("testserver", "lea@example.test", "invitation")]


def test_someone_signed_in_with_another_address_is_refused(two, invited, make_user):
    other = make_user(email="other@example.test")
    http = _logged_in(other)
    page, refused = _post(http, invited)
    assert page.status_code == 403 and refused.status_code == 403
    assert "autre adresse" in page.content.decode()
    assert _memberships() == []


def test_a_tampered_link_is_refused(two, invited, make_user):
    lea = make_user(email="lea@example.test")
    http = _logged_in(lea)
    token = invited.split("/")[2]
    forged = signing.dumps({"s": two[0].site.pk, "e": "lea@example.test"}, salt="cabinet.booking.answer")
    for path in (f"/invitation/{token[:-3]}xyz/", f"/invitation/{forged}/", "/invitation/nothing/"):
        page, refused = _post(http, path)
        assert page.status_code == 400 and refused.status_code == 400, path
        assert "modifié" in page.content.decode()
    assert _memberships() == []


def test_an_expired_link_is_refused(two, invited, make_user, settings):
    lea = make_user(email="lea@example.test")
    http = _logged_in(lea)
    later = time.time() + 15 * 86400
    with mock.patch("django.core.signing.time.time", return_value=later):
        page, refused = _post(http, invited)
    assert page.status_code == 400 and refused.status_code == 400
    assert "expiré" in page.content.decode()
    settings.CABINET_INVITATION_DAYS = 0
    assert _post(http, invited)[1].status_code == 400
    assert _memberships() == []


def test_a_link_opened_on_another_practice_address_is_refused(two, invited, make_user):
    lea = make_user(email="lea@example.test")
    http = _logged_in(lea, host="two.test")
    page, refused = _post(http, invited)
    assert page.status_code == 400 and refused.status_code == 400
    assert "autre cabinet" in page.content.decode()
    assert _memberships() == []


# --- The admin form --------------------------------------------------------------------------

def _admin(user):
    http = Client(enforce_csrf_checks=True)
    http.force_login(user)
    return http


def _submit(http, data):
    form = http.get("/admin/practice_clients/invite/")
    assert form.status_code == 200
    return form, http.post("/admin/practice_clients/invite/", {**data, "csrfmiddlewaretoken": http.cookies["csrftoken"].value})


def test_the_clients_list_has_an_invite_button(two, admin_one):
    listing = _admin(admin_one).get("/admin/practice_clients/")
    assert listing.status_code == 200
    assert 'href="/admin/practice_clients/invite/"' in listing.content.decode()


def test_an_administrator_invites_from_the_admin_with_csrf_enforced(two, admin_one, mailoutbox):
    http = _admin(admin_one)
    form, sent = _submit(http, {"site": two[0].site.pk, "email": "Nina@Example.test", "language": "en"})
    text = form.content.decode()
    assert 'name="csrfmiddlewaretoken"' in text and 'name="email"' in text
    assert sent.status_code == 302 and sent["Location"] == "/admin/practice_clients/"
    assert [m.to for m in mailoutbox] == [["nina@example.test"]]
    assert "/en/invitation/" in mailoutbox[0].body
    listing = http.get("/admin/practice_clients/")
    assert "nina@example.test" in listing.content.decode()  # the success message
    # Without the token: refused by CSRF, nothing sent.
    assert http.post("/admin/practice_clients/invite/", {"site": two[0].site.pk, "email": "x@example.test",
                                                "language": "fr"}).status_code == 403
    assert len(mailoutbox) == 1


def test_refusals_show_on_the_form(two, admin_one, make_user, mailoutbox, settings):
    from site_core.access.services import add_client_membership

    add_client_membership(make_user(email="member@example.test"), two[0].site, source="signup")
    http = _admin(admin_one)
    _form, bad = _submit(http, {"site": two[0].site.pk, "email": "nope", "language": "fr"})
    assert bad.status_code == 400 and "adresse e-mail valide" in bad.content.decode()
    _form, member = _submit(http, {"site": two[0].site.pk, "email": "member@example.test", "language": "fr"})
    assert member.status_code == 400
    assert "member@example.test est déjà client de Cabinet Test" in member.content.decode()
    settings.CABINET_RATE_LIMITS = {"invitation": {"account": "1/h"}}
    assert _submit(http, {"site": two[0].site.pk, "email": "a@example.test", "language": "fr"})[1].status_code == 302
    _form, limited = _submit(http, {"site": two[0].site.pk, "email": "b@example.test", "language": "fr"})
    assert limited.status_code == 429 and "trop d’invitations" in limited.content.decode()
    assert [m.to for m in mailoutbox] == [["a@example.test"]]


def test_a_mail_server_that_refuses_shows_on_the_form_not_a_500(two, admin_one, mailoutbox, monkeypatch):
    import smtplib

    def refuse(self, messages):
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")

    monkeypatch.setattr("django.core.mail.backends.locmem.EmailBackend.send_messages", refuse)
    _form, failed = _submit(_admin(admin_one), {"site": two[0].site.pk, "email": "nina@example.test",
                                                "language": "fr"})
    assert failed.status_code == 503
    assert "L’invitation n’a pas pu être envoyée" in failed.content.decode()
    assert mailoutbox == [] and not _memberships()


def test_a_practice_two_administrator_cannot_invite_to_practice_one(two, admin_two, mailoutbox):
    http = _admin(admin_two)
    form = http.get("/admin/practice_clients/invite/")
    text = form.content.decode()
    assert "Cabinet Deux" in text
    assert "Cabinet Test" not in text and f'value="{two[0].site.pk}"' not in text
    refused = http.post("/admin/practice_clients/invite/", {"site": two[0].site.pk, "email": "x@example.test",
                                                   "language": "fr",
                                                   "csrfmiddlewaretoken": http.cookies["csrftoken"].value})
    assert refused.status_code == 403
    assert "Cabinet Test" not in refused.content.decode()
    assert mailoutbox == []


def test_an_administrator_of_several_practices_picks_one_of_theirs(two, admin_one, mailoutbox, make_user):
    from site_core.access.services import add_practice_admin

    third = build_practice("three.test", name="Cabinet Trois", slug="trois", default=False)
    add_practice_admin(two[1].site, admin_one)
    text = _admin(admin_one).get("/admin/practice_clients/invite/").content.decode()
    assert "Cabinet Test" in text and "Cabinet Deux" in text and "Cabinet Trois" not in text
    _form, sent = _submit(_admin(admin_one), {"site": two[1].site.pk, "email": "y@example.test", "language": "fr"})
    assert sent.status_code == 302 and "http://two.test/invitation/" in mailoutbox[0].body
    owner = make_user(is_superuser=True, is_staff=True)
    text = _admin(owner).get("/admin/practice_clients/invite/").content.decode()
    assert all(name in text for name in ("Cabinet Test", "Cabinet Deux", "Cabinet Trois"))
    assert third


def test_staff_who_administer_nothing_get_no_invite_form(two, make_user, make_expert):
    expert, _page, _en = make_expert(two[0], "Alice Martin")
    assert _admin(expert.user).get("/admin/practice_clients/invite/").status_code in (302, 403)
