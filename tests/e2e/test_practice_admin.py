"""A practice administrator in Chromium: the dashboard and the appointments list show their
practice only (issue #10)."""

from urllib.parse import urlsplit

import pytest

from tests.conftest import build_practice, sign_in_to_admin

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "practice-two-password-2026"


@pytest.fixture
def two_practices(live_server, make_expert, make_user, django_capture_on_commit_callbacks):
    """Practice 1 on one.test, practice 2 on the live server's host; each with a request
    waiting for its expert's answer (so the dashboard's requests panel lists it)."""
    from wagtail.models import Site

    from modules.booking.models import BookingSettings
    from site_core.access.services import add_practice_admin
    from tests.site_core.test_access_sweep import _practice_data

    Site.objects.all().delete()
    one = build_practice("one.test", name="Cabinet Un", slug="un", default=False)
    two = build_practice("localhost", urlsplit(live_server.url).port, name="Cabinet Deux", slug="deux")
    data = {}
    for tag, practice in (("one", one), ("two", two)):
        rules = BookingSettings.for_site(practice.site)
        rules.requires_confirmation = True
        rules.save()
        data[tag] = _practice_data(practice, tag, make_expert, make_user, django_capture_on_commit_callbacks)
    admin = add_practice_admin(two.site, make_user(email="admin-two@practice.test", password=PASSWORD))
    return live_server.url, data["one"], data["two"], admin


def test_the_practice_two_administrator_sees_only_practice_two(two_practices, page, guard):
    from modules.booking.models import Appointment

    url, one, two, admin = two_practices
    assert two["appointment"].state == Appointment.State.REQUESTED
    assert not admin.is_superuser
    watched = guard(page)
    sign_in_to_admin(page, url, admin.email, PASSWORD)

    dashboard = page.locator("main").inner_text()
    # The requests panel: practice 2's request, never practice 1's.
    assert two["appointment"].code in dashboard or two["client"].last_name in dashboard
    for marker in one["markers"] + [one["expert"].name]:
        assert marker not in page.content(), marker

    page.goto(f"{url}/admin/appointments/")
    listing = page.locator("main").inner_text()
    assert two["appointment"].code in listing
    assert two["client"].last_name in listing
    for marker in one["markers"] + [one["expert"].name]:
        assert marker not in page.content(), marker
    # The expert filter offers practice 2's expert only.
    assert two["expert"].name in page.content()

    # Practice 1's appointment, asked for by address: refused.
    refused = f"/admin/appointments/inspect/{one['appointment'].pk}/"
    watched.allow(refused)
    response = page.goto(f"{url}{refused}")
    assert response.status in (403, 404) or urlsplit(page.url).path == "/admin/", (response.status, page.url)
    for marker in one["markers"]:
        assert marker not in page.content(), marker
