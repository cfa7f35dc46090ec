"""site_core.access: the one definition of "administrator / expert of this practice", from the
practices' groups; clients as members of practices."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from tests.conftest import build_practice


@pytest.fixture
def two(db):
    from wagtail.models import Site

    Site.objects.all().delete()
    return build_practice("one.test", name="Cabinet Un", slug="un"), build_practice(
        "two.test", name="Cabinet Deux", slug="deux", default=False)


def test_a_practice_administrator_is_a_member_of_its_group_only(two, make_user):
    from site_core import access
    from site_core.services import add_practice_admin, remove_practice_admin

    one, second = two
    user = make_user()
    assert not access.is_practice_admin(user, one.site)
    add_practice_admin(second.site, user)
    assert access.is_practice_admin(user, second.site) and not access.is_practice_admin(user, one.site)
    assert list(access.practices_administered(user)) == [second.site]
    assert not user.is_superuser
    remove_practice_admin(second.site, user)
    assert not access.is_practice_admin(user, second.site)
    assert not access.practices_administered(user).exists()


def test_a_model_permission_alone_makes_no_administrator(two, make_user):
    from site_core import access

    user = make_user()
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label__in=["site_core", "booking"]))
    assert not access.is_practice_admin(user, two[0].site)
    assert not access.administers_any(user)


def test_the_superuser_owns_the_install(two, make_user):
    from site_core import access

    owner = make_user(is_superuser=True)
    assert all(access.is_practice_admin(owner, p.site) for p in two)
    assert access.practices_administered(owner).count() == 2
    inactive = make_user(is_superuser=True, is_active=False)
    assert not access.is_practice_admin(inactive, two[0].site)


def test_an_expert_is_an_expert_of_their_practice(two, make_expert):
    from site_core import access

    one, second = two
    expert, _page, _en = make_expert(second, "Inès Garcia")
    assert access.is_practice_expert(expert.user, second.site)
    assert not access.is_practice_expert(expert.user, one.site)
    assert not access.is_practice_admin(expert.user, second.site)


def test_setting_up_a_practice_twice_changes_nothing(two):
    from django.contrib.auth.models import Group
    from wagtail.models import GroupPagePermission, GroupSitePermission

    from site_core.models import PracticeGroup
    from site_core.services import setup_practice_groups

    site = two[1].site
    before = (Group.objects.count(), PracticeGroup.objects.count(), GroupPagePermission.objects.count(),
              GroupSitePermission.objects.count())
    group = setup_practice_groups(site)
    assert (Group.objects.count(), PracticeGroup.objects.count(), GroupPagePermission.objects.count(),
            GroupSitePermission.objects.count()) == before
    # Its pages are its root's, in every language; its settings its own site's.
    roots = set(GroupPagePermission.objects.filter(group=group).values_list("page_id", flat=True))
    assert roots == {two[1].home.pk, two[1].home_en.pk}
    assert set(GroupSitePermission.objects.filter(group=group).values_list("site_id", flat=True)) == {site.pk}


def test_signing_up_on_a_practice_site_makes_a_member_of_that_practice(two):
    from site_core.models import ClientMembership, User

    http = Client(HTTP_HOST="two.test", enforce_csrf_checks=True)
    http.get("/accounts/signup/")
    response = http.post("/accounts/signup/", {
        "first_name": "Nina", "last_name": "Neuve", "email": "new@example.test",
        "password1": "a-long-enough-passphrase",
        "password2": "a-long-enough-passphrase", "csrfmiddlewaretoken": http.cookies["csrftoken"].value})
    assert response.status_code == 302
    user = User.objects.get(email="new@example.test")
    assert list(ClientMembership.objects.filter(user=user).values_list("site__hostname", "source")) == [
        ("two.test", "signup")]


def test_membership_is_made_once(two, make_user):
    from site_core.models import ClientMembership
    from site_core.services import add_client_membership

    user = make_user()
    add_client_membership(user, two[0].site, source="invitation")
    add_client_membership(user, two[0].site, source="booking")
    assert list(ClientMembership.objects.filter(user=user).values_list("source", flat=True)) == ["invitation"]
    assert add_client_membership(None, two[0].site) is None
