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
    from site_core.access.services import add_practice_admin, remove_practice_admin

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

    from site_core.access.services import setup_practice_groups
    from site_core.practice.models import PracticeGroup

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
    from site_core.practice.models import ClientMembership, User

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
    from site_core.access.services import add_client_membership
    from site_core.practice.models import ClientMembership

    user = make_user()
    add_client_membership(user, two[0].site, source="invitation")
    add_client_membership(user, two[0].site, source="booking")
    assert list(ClientMembership.objects.filter(user=user).values_list("source", flat=True)) == ["invitation"]
    assert add_client_membership(None, two[0].site) is None


def test_the_data_migration_sets_up_practices_that_existed_before(two, make_expert, make_user):
    """Sites, experts and clients from before practices were kept apart: migration 0004 gives
    each site its groups, each expert their practice (from their pages) and its experts group,
    each person who ordered a membership."""
    import importlib

    from django.apps import apps

    from site_core import access
    from site_core.payments.models import Order
    from site_core.practice.models import ClientMembership, Expert, PracticeGroup

    one, second = two
    expert, _page, _en = make_expert(second, "Inès Garcia")
    buyer = make_user()
    Order.objects.create(site=second.site, client=buyer, purpose="booking", currency="EUR", subtotal=100, total=100)
    # As before: no groups, no practice on the expert, no membership.
    for row in PracticeGroup.objects.select_related("group"):
        row.group.delete()
    Expert.objects.filter(pk=expert.pk).update(site=None)
    ClientMembership.objects.all().delete()

    migration = importlib.import_module("site_core.migrations.0004_existing_practices_experts_and_clients")
    migration.forwards(apps, None)

    assert set(PracticeGroup.objects.values_list("site_id", "role")) == {
        (p.site.pk, role) for p in two for role in ("admins", "experts")}
    expert.refresh_from_db()
    assert expert.site == second.site
    expert.user.__dict__.pop("_cabinet_experts_site_ids", None)
    assert access.is_practice_expert(expert.user, second.site)
    assert list(ClientMembership.objects.values_list("site_id", "user_id", "source")) == [
        (second.site.pk, buyer.pk, "import")]


def test_booking_on_a_practice_site_makes_a_member_of_that_practice(two, make_expert, make_user):
    from datetime import time, timedelta

    import recurrence
    from django.utils import timezone

    from modules.booking import services
    from modules.booking.models import AvailabilityRule, Offering
    from site_core.practice.models import ClientMembership

    one, second = two
    expert, _page, _en = make_expert(second, "Inès Garcia")
    Offering.objects.create(expert=expert, mode="chat", long_minutes=30, long_price=5500)
    AvailabilityRule.objects.create(expert=expert, recurrence=recurrence.deserialize("RRULE:FREQ=DAILY"),
                                    start_time=time(0), end_time=time(23, 59))
    buyer = make_user()
    starts = (timezone.now() + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    services.hold(services.BookingRequest(site=second.site, expert=expert, client=buyer, mode="chat",
                                          product="long", starts_at=starts))
    assert list(ClientMembership.objects.filter(user=buyer).values_list("site_id", "source")) == [
        (second.site.pk, "booking")]


def test_the_portal_on_a_practice_site_shows_that_practice_appointments_only(two, make_expert, make_user):
    from datetime import time, timedelta

    import recurrence
    from django.utils import timezone

    from modules.booking import services
    from modules.booking.models import AvailabilityRule, Offering

    buyer = make_user()
    codes = {}
    for n, practice in enumerate(two):
        expert, _page, _en = make_expert(practice, f"Expert Number{n}", slug=f"expert-{n}")
        Offering.objects.create(expert=expert, mode="chat", long_minutes=30, long_price=5500)
        AvailabilityRule.objects.create(expert=expert, recurrence=recurrence.deserialize("RRULE:FREQ=DAILY"),
                                        start_time=time(0), end_time=time(23, 59))
        starts = (timezone.now() + timedelta(days=2 + n)).replace(minute=0, second=0, microsecond=0)
        appointment = services.hold(services.BookingRequest(site=practice.site, expert=expert, client=buyer,
                                                            mode="chat", product="long", starts_at=starts))
        codes[practice.site.hostname] = appointment
    from modules.booking.models import Appointment

    # Held bookings are not shown in the portal: make them requests.
    Appointment.objects.filter(client=buyer).update(state=Appointment.State.REQUESTED)
    for host, other in (("one.test", "two.test"), ("two.test", "one.test")):
        http = Client(HTTP_HOST=host)
        http.force_login(buyer)
        body = http.get("/portal/").content.decode()
        assert codes[host].expert.name in body, host
        assert codes[other].expert.name not in body, host
