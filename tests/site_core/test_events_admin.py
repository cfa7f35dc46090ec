"""Reports → Event deliveries (site_core/access/event_admin.py): the outbox's deliveries that need
attention, their payload and error, and Retry; each practice administrator sees their own
practices' deliveries, the install owner all of them, nobody else any."""

import html
from types import SimpleNamespace

import pytest
from django.test import Client
from django.urls import reverse

from site_core import events
from site_core.access.event_admin import error_summary
from site_core.events import outbox
from site_core.events.models import Delivery
from tests.conftest import build_practice

pytestmark = pytest.mark.django_db

NOTICE = events.EventType("test_admin_notice", payload=("number",), sender="tests",
                          doc="A fact whose delivery the admin tests break.")
OTHER = events.EventType("test_admin_other", payload=("number",), sender="tests",
                         doc="Another fact, for the event filter.")

ONE, TWO = "one.test", "two.test"
PASSWORD = "correct-horse-battery"
INDEX = reverse("event_deliveries:index")


def inspect_url(delivery):
    return reverse("event_deliveries:inspect", args=[delivery.pk])


def retry_url(delivery):
    return reverse("event_deliveries:retry", args=[delivery.pk])


def logged_in(user, host=ONE, **kwargs):
    http = Client(HTTP_HOST=host, **kwargs)
    http.force_login(user)
    return http


def refused(response):
    """403, 404, or Wagtail's answer to a PermissionDenied (a redirect to the dashboard), or
    the login page for someone without admin access."""
    if response.status_code in (403, 404):
        return True
    return response.status_code == 302 and response["Location"].split("?")[0] in (
        reverse("wagtailadmin_home"), reverse("wagtailadmin_login"))


def body(response):
    return html.unescape(response.content.decode())


@pytest.fixture
def world(db, listen, make_user, make_expert, django_capture_on_commit_callbacks):
    """Two practices; for each, a delivery that failed for good, one being retried and one
    delivered; one install-wide event (no practice) that failed; their administrators, an
    expert of practice 1, a client and the install owner."""
    from wagtail.models import Site

    from site_core.access.services import add_client_membership, add_practice_admin

    Site.objects.all().delete()
    one = build_practice(ONE, name="Cabinet Un", slug="un")
    two = build_practice(TWO, name="Cabinet Deux", slug="deux", default=False)
    broken = {"on": True}

    def maybe_fail(kwargs):
        if broken["on"]:
            raise RuntimeError(f"broken for number {kwargs['number']}")

    received = listen(NOTICE, fail=maybe_fail)  # receiver listen_test_admin_notice_0: fails
    listen(NOTICE)  # listen_test_admin_notice_1: always works
    listen(OTHER, fail=maybe_fail)

    def failing(event_type, site, number):
        with django_capture_on_commit_callbacks(execute=True):
            event = event_type.send(site=site, number=number)
        return event, Delivery.objects.get(event=event, state=Delivery.State.PENDING)

    event_1, retrying_1 = failing(NOTICE, one.site, 101)
    done_1 = Delivery.objects.get(event=event_1, state=Delivery.State.DONE)
    _, failed_1 = failing(NOTICE, one.site, 102)
    _, failed_2 = failing(NOTICE, two.site, 201)
    _, retrying_2 = failing(OTHER, two.site, 202)
    _, failed_0 = failing(NOTICE, None, 901)
    # Eight attempts are test_outbox's business; here they are spent.
    Delivery.objects.filter(pk__in=[failed_1.pk, failed_2.pk, failed_0.pk]).update(
        state=Delivery.State.FAILED, attempts=outbox.MAX_ATTEMPTS)
    for row in (failed_1, failed_2, failed_0):
        row.refresh_from_db()
    expert, _page, _en = make_expert(one, "Alice Martin")
    client_user = make_user(email="client@example.test")
    add_client_membership(client_user, one.site)
    return SimpleNamespace(
        one=one, two=two, broken=broken, received=received,
        failed_1=failed_1, retrying_1=retrying_1, done_1=done_1, failed_2=failed_2, retrying_2=retrying_2,
        failed_0=failed_0,
        admin_1=add_practice_admin(one.site, make_user(email="admin-1@practice.test")),
        admin_2=add_practice_admin(two.site, make_user(email="admin-2@practice.test")),
        owner=make_user(email="owner@install.test", is_superuser=True, is_staff=True),
        expert=expert.user, client=client_user,
    )


def rows(response):
    """The deliveries a listing shows, by the inspect links of its rows."""
    page = body(response)
    return {pk for pk in Delivery.objects.values_list("pk", flat=True)
            if f'href="{reverse("event_deliveries:inspect", args=[pk])}"' in page}


# --- The list -----------------------------------------------------------------------------

def test_the_list_shows_by_default_what_needs_attention(world):
    response = logged_in(world.owner).get(INDEX)
    assert response.status_code == 200
    assert rows(response) == {world.failed_1.pk, world.retrying_1.pk, world.failed_2.pk, world.retrying_2.pk,
                              world.failed_0.pk}
    page = body(response)
    # Its columns: event, practice, receiver, state, attempts, the error's message.
    for text in ("test_admin_notice", "test_admin_other", "Cabinet Un", "Cabinet Deux", world.failed_1.receiver,
                 "RuntimeError: broken for number 102", "RuntimeError: broken for number 202"):
        assert text in page, text
    assert "Traceback (most recent call last)" not in page  # the whole error is the inspect view's
    assert "Every practice" in page or "Tous les cabinets" in page  # the install-wide event


def test_the_list_filters_by_state_event_and_practice(world):
    http = logged_in(world.owner)
    assert rows(http.get(INDEX, {"state": "failed"})) == {world.failed_1.pk, world.failed_2.pk, world.failed_0.pk}
    assert rows(http.get(INDEX, {"state": "retrying"})) == {world.retrying_1.pk, world.retrying_2.pk}
    assert world.done_1.pk in rows(http.get(INDEX, {"state": "done"}))
    assert world.retrying_1.pk not in rows(http.get(INDEX, {"state": "done"}))
    everything = rows(http.get(INDEX, {"state": "all"}))
    assert everything == set(Delivery.objects.values_list("pk", flat=True))
    assert rows(http.get(INDEX, {"event": "test_admin_other"})) == {world.retrying_2.pk}
    assert rows(http.get(INDEX, {"practice": world.two.site.pk})) == {world.failed_2.pk, world.retrying_2.pk}
    assert rows(http.get(INDEX, {"practice": world.one.site.pk, "state": "all", "event": "test_admin_notice"})) == {
        world.failed_1.pk, world.retrying_1.pk, world.done_1.pk} | set(
        Delivery.objects.filter(event__site=world.one.site, state=Delivery.State.DONE).values_list("pk", flat=True))
    # Sorted by a column.
    assert http.get(INDEX, {"ordering": "-attempts"}).status_code == 200


def test_the_error_column_shows_the_exception_line():
    assert error_summary("Traceback (most recent call last):\n  File \"x.py\"\nRuntimeError: down\n") == (
        "RuntimeError: down")
    assert error_summary("") == ""
    assert len(error_summary("E: " + "x" * 500)) == 160


# --- Inspect and Retry --------------------------------------------------------------------

def test_inspect_shows_the_payload_and_the_whole_error(world):
    http = logged_in(world.owner)
    page = body(http.get(inspect_url(world.failed_1)))
    assert '"number": 102' in page
    assert "Traceback (most recent call last)" in page and "RuntimeError: broken for number 102" in page
    assert world.failed_1.receiver in page and "Cabinet Un" in page
    assert f'action="{retry_url(world.failed_1)}"' in page
    # Being retried: Retry is offered too; delivered: it is not.
    assert f'action="{retry_url(world.retrying_1)}"' in body(http.get(inspect_url(world.retrying_1)))
    done = body(http.get(inspect_url(world.done_1)))
    assert retry_url(world.done_1) not in done and '"number": 101' in done


def test_retry_puts_it_back_and_the_sweep_delivers_it_once(world, django_capture_on_commit_callbacks):
    http = logged_in(world.owner)
    world.broken["on"] = False  # the receiver was fixed
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = http.post(retry_url(world.failed_1))
    assert response.status_code == 302 and response["Location"] == inspect_url(world.failed_1)
    delivery = Delivery.objects.get(pk=world.failed_1.pk)
    assert delivery.state == Delivery.State.PENDING and delivery.attempts == 0
    assert len(callbacks) == 1  # a worker is nudged on commit
    page = body(http.get(response["Location"]))
    assert "test_admin_notice" in page and ("again now" in page or "de nouveau" in page)
    assert world.received == []
    assert outbox.sweep() == {"done": 1}  # it alone: the one being retried is not due yet
    assert outbox.sweep() == {}
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.DONE and delivery.attempts == 1
    assert [r["number"] for r in world.received if r["number"] == 102] == [102]


def test_retry_of_a_delivered_delivery_says_so_and_changes_nothing(world, django_capture_on_commit_callbacks):
    http = logged_in(world.owner)
    before = Delivery.objects.filter(pk=world.done_1.pk).values().get()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = http.post(retry_url(world.done_1), follow=True)
    assert response.status_code == 200
    assert "Already delivered" in body(response) or "Déjà remis" in body(response)
    assert Delivery.objects.filter(pk=world.done_1.pk).values().get() == before
    assert callbacks == []


def test_a_get_on_retry_changes_nothing(world, django_capture_on_commit_callbacks):
    http = logged_in(world.owner)
    before = Delivery.objects.filter(pk=world.failed_1.pk).values().get()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert http.get(retry_url(world.failed_1)).status_code == 405
    assert Delivery.objects.filter(pk=world.failed_1.pk).values().get() == before
    assert callbacks == []


def test_retry_goes_back_to_the_list_it_came_from(world):
    http = logged_in(world.owner)
    response = http.post(retry_url(world.failed_2), {"next": f"{INDEX}?state=failed"})
    assert response["Location"] == f"{INDEX}?state=failed"
    response = http.post(retry_url(world.failed_0), {"next": "https://elsewhere.test/"})
    assert response["Location"] == inspect_url(world.failed_0)


def test_retry_is_a_csrf_protected_post(world, django_capture_on_commit_callbacks):
    http = logged_in(world.owner, enforce_csrf_checks=True)
    assert http.get(inspect_url(world.failed_1)).status_code == 200
    token = http.cookies["csrftoken"].value
    assert http.post(retry_url(world.failed_1)).status_code == 403  # no token
    assert Delivery.objects.get(pk=world.failed_1.pk).state == Delivery.State.FAILED
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = http.post(retry_url(world.failed_1), {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert Delivery.objects.get(pk=world.failed_1.pk).state == Delivery.State.PENDING
    assert len(callbacks) == 1


# --- Who sees what ------------------------------------------------------------------------

def test_a_practice_administrator_sees_and_retries_only_their_practice(world, django_capture_on_commit_callbacks):
    admin_2 = logged_in(world.admin_2, TWO)
    shown = rows(admin_2.get(INDEX, {"state": "all"}))
    assert shown == set(Delivery.objects.filter(event__site=world.two.site).values_list("pk", flat=True))
    assert rows(admin_2.get(INDEX)) == {world.failed_2.pk, world.retrying_2.pk}
    # Practice 1's deliveries and the install-wide one: not found, not retried.
    for delivery in (world.failed_1, world.retrying_1, world.done_1, world.failed_0):
        before = Delivery.objects.filter(pk=delivery.pk).values().get()
        assert admin_2.get(inspect_url(delivery)).status_code == 404
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            assert admin_2.post(retry_url(delivery)).status_code == 404
            assert admin_2.get(retry_url(delivery)).status_code == 404
        assert Delivery.objects.filter(pk=delivery.pk).values().get() == before and callbacks == []
    # The practice filter offers their practice only.
    page = body(admin_2.get(INDEX))
    assert "Cabinet Deux" in page and "Cabinet Un" not in page
    assert admin_2.get(INDEX, {"practice": world.one.site.pk}).status_code == 200
    assert not rows(admin_2.get(INDEX, {"practice": world.one.site.pk, "state": "all"})) & {world.failed_1.pk}
    # Their own: the payload, the traceback, Retry.
    own = body(admin_2.get(inspect_url(world.failed_2)))
    assert '"number": 201' in own and "Traceback (most recent call last)" in own
    with django_capture_on_commit_callbacks(execute=False):
        assert admin_2.post(retry_url(world.failed_2)).status_code == 302
    assert Delivery.objects.get(pk=world.failed_2.pk).state == Delivery.State.PENDING


def test_the_install_owner_sees_every_practice_and_install_wide_events(world):
    owner = logged_in(world.owner)
    assert rows(owner.get(INDEX, {"state": "all"})) == set(Delivery.objects.values_list("pk", flat=True))
    for delivery in (world.failed_1, world.failed_2, world.failed_0):
        assert owner.get(inspect_url(delivery)).status_code == 200
    admin_1 = logged_in(world.admin_1)
    assert world.failed_0.pk not in rows(admin_1.get(INDEX, {"state": "all"}))
    assert world.failed_1.pk in rows(admin_1.get(INDEX))


@pytest.mark.parametrize("who", ["anonymous", "expert", "client"])
def test_experts_clients_and_visitors_have_no_access(world, who, django_capture_on_commit_callbacks):
    http = Client(HTTP_HOST=ONE)
    if who != "anonymous":
        http.force_login(getattr(world, who))
    for url in (INDEX, f"{INDEX}?state=all", inspect_url(world.failed_1), reverse("event_deliveries:index_results")):
        response = http.get(url)
        assert refused(response), (who, url, response.status_code)
        assert "broken for number" not in body(response)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert refused(http.post(retry_url(world.failed_1)))
    assert Delivery.objects.get(pk=world.failed_1.pk).state == Delivery.State.FAILED and callbacks == []


def test_the_reports_menu_offers_it_to_administrators_only(world):
    url = INDEX
    assert url in body(logged_in(world.owner).get(reverse("wagtailadmin_home")))
    assert url in body(logged_in(world.admin_1).get(reverse("wagtailadmin_home")))
    assert url not in body(logged_in(world.expert).get(reverse("wagtailadmin_home")))


def test_the_group_editor_offers_no_delivery_permission(world):
    page = body(logged_in(world.owner).get(reverse("wagtailusers_groups:add")))
    assert "delivery" not in page.lower().replace("deliveries", "")


def test_the_list_costs_the_same_queries_for_many_rows(world):
    """(13 queries on SQLite for 5 rows and for 25, when written.)"""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    http = logged_in(world.owner)
    http.get(INDEX)  # warm (sessions, content types)
    counts = []
    for extra in (0, 20):
        event = world.failed_1.event
        for n in range(extra):
            Delivery.objects.create(event=event, receiver=f"tests.extra_{len(counts)}_{n}",
                                    state=Delivery.State.FAILED, attempts=8, last_error="RuntimeError: x")
        with CaptureQueriesContext(connection) as queries:
            assert http.get(INDEX).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
