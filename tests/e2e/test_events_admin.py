"""In Chromium, a practice administrator opens Reports → Event deliveries, finds the delivery
that failed for good, reads its payload and traceback, presses Retry and sees it delivered;
another practice's failure is not in their list. No broken asset, no console error."""

from urllib.parse import urlsplit

import pytest

from site_core import events
from tests.conftest import build_practice, sign_in_to_admin

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "deliveries-password-2026"
NOTICE = events.EventType("test_e2e_admin_notice", payload=("number",), sender="tests",
                          doc="A fact whose receiver is down, then fixed.")


@pytest.fixture
def failed_delivery(live_server, make_user, listen):
    from wagtail.models import Site

    from site_core.access.services import add_practice_admin
    from site_core.events import outbox
    from site_core.events.models import Delivery

    Site.objects.all().delete()
    own = build_practice("localhost", urlsplit(live_server.url).port, name="Cabinet Deux", slug="deux")
    other = build_practice("one.test", name="Cabinet Un", slug="un", default=False)
    broken = {"on": True}

    def maybe_fail(kwargs):
        if broken["on"]:
            raise RuntimeError(f"mail server down for number {kwargs['number']}")

    received = listen(NOTICE, fail=maybe_fail)
    # Real commits: the on-commit nudge runs the (inline, in tests) worker, which fails.
    deliveries = {}
    for practice, number in ((own, 4242), (other, 1111)):
        event = NOTICE.send(site=practice.site, number=number)
        delivery = Delivery.objects.get(event=event)
        assert delivery.attempts == 1 and "mail server down" in delivery.last_error
        Delivery.objects.filter(pk=delivery.pk).update(state=Delivery.State.FAILED, attempts=outbox.MAX_ATTEMPTS)
        deliveries[number] = delivery
    admin = add_practice_admin(own.site, make_user(email="admin-deux@practice.test", password=PASSWORD))
    return live_server.url, admin, deliveries[4242], deliveries[1111], broken, received


def test_a_practice_administrator_retries_a_failed_delivery(failed_delivery, page, guard):
    from site_core.events.models import Delivery

    url, admin, delivery, others, broken, received = failed_delivery
    watched = guard(page)
    sign_in_to_admin(page, url, admin.email, PASSWORD)

    # The reports menu leads to it.
    page.get_by_role("button", name="Rapports").click()
    page.get_by_role("link", name="Remises d’événements").click()
    page.wait_for_url(f"{url}/admin/event-deliveries/")
    listing = page.locator("main").inner_text()
    assert "test_e2e_admin_notice" in listing and "Cabinet Deux" in listing
    assert "RuntimeError: mail server down for number 4242" in listing
    assert "1111" not in listing and "Cabinet Un" not in listing  # the other practice's failure

    page.locator("main").get_by_role("link", name="test_e2e_admin_notice").click()
    page.wait_for_url(f"{url}/admin/event-deliveries/inspect/{delivery.pk}/")
    assert '"number": 4242' in page.locator("[data-delivery-payload]").inner_text()
    error = page.locator("[data-delivery-error]").inner_text()
    assert "Traceback (most recent call last)" in error and "mail server down for number 4242" in error
    assert page.locator("[data-delivery-state]").get_attribute("data-delivery-state") == "failed"

    broken["on"] = False  # the mail server is back
    page.get_by_role("button", name="Réessayer").click()
    page.wait_for_url(f"{url}/admin/event-deliveries/inspect/{delivery.pk}/")
    main = page.locator("body").inner_text()
    assert "est remis de nouveau" in main
    # Tests run the worker inline: the delivery is done by the time the page is back.
    assert page.locator("[data-delivery-state]").get_attribute("data-delivery-state") == "done"
    assert page.get_by_role("button", name="Réessayer").count() == 0
    assert Delivery.objects.get(pk=delivery.pk).state == Delivery.State.DONE
    assert [r["number"] for r in received] == [4242]
    assert Delivery.objects.get(pk=others.pk).state == Delivery.State.FAILED

    # The other practice's delivery, asked for by address: not found.
    watched.check()  # the journey so far was clean; the 404 below is on purpose
    refused = f"/admin/event-deliveries/inspect/{others.pk}/"
    watched.allow(refused)
    watched.allow("the server responded with a status of 404")
    response = page.goto(f"{url}{refused}")
    assert response.status == 404
    assert "1111" not in page.content()
