"""A practice administrator in Chromium: the Images listing and the image chooser (from the
practice settings' logo field) show their practice's images only (issue A5)."""

import os
from urllib.parse import unquote, urlsplit

import pytest

from tests.conftest import build_practice, make_image, sign_in_to_admin

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "practice-two-password-2026"


def serve_media(tab, url):
    """Stand in for the web server in front of the site (nginx serves MEDIA_ROOT at /media/,
    README "Deploy"): the live server does not, and the admin's thumbnails are media. A file
    that is not there answers 404, which the guard reports."""
    from django.conf import settings

    def handle(route):
        relative = unquote(urlsplit(route.request.url).path)[len("/media/"):]
        path = os.path.normpath(os.path.join(settings.MEDIA_ROOT, relative))
        if path.startswith(os.path.normpath(settings.MEDIA_ROOT) + os.sep) and os.path.isfile(path):
            route.fulfill(path=path)
        else:
            route.fulfill(status=404, body="not found")

    tab.route(f"{url}/media/**", handle)


@pytest.fixture
def two_practices(live_server, make_user):
    """Practice 1 on one.test, practice 2 on the live server's host; an image in each one's
    collection, and one of the install owner's in the root."""
    from wagtail.models import Collection, Site

    from site_core.access.services import add_practice_admin, practice_collection

    Site.objects.all().delete()
    one = build_practice("one.test", name="Cabinet Un", slug="un", default=False)
    two = build_practice("localhost", urlsplit(live_server.url).port, name="Cabinet Deux", slug="deux")
    admin_one = add_practice_admin(one.site, make_user(email="admin-one@practice.test"))
    admin = add_practice_admin(two.site, make_user(email="admin-two@practice.test", password=PASSWORD))
    images = {
        "one": make_image("Vue du cabinet Un Wq1", practice_collection(one.site), admin_one),
        "two": make_image("Vue du cabinet Deux Wq2", practice_collection(two.site), admin),
        "root": make_image("Logo installation Hv0", Collection.get_first_root_node()),
    }
    return live_server.url, two, admin, images


def test_the_practice_two_administrator_sees_only_practice_two_images(two_practices, page, guard):
    url, two, admin, images = two_practices
    watched = guard(page)
    serve_media(page, url)
    sign_in_to_admin(page, url, admin.email, PASSWORD)

    page.goto(f"{url}/admin/images/")
    listing = page.locator("main")
    listing.get_by_text(images["two"].title).first.wait_for()
    text = listing.inner_text()
    assert images["one"].title not in text and images["root"].title not in text
    for title in (images["one"].title, images["root"].title):
        assert title not in page.content(), title
    # The thumbnail loaded (a broken one would be in the guard's problems).
    thumbnail = listing.locator("img").first
    thumbnail.wait_for()
    assert page.evaluate("img => img.complete && img.naturalWidth > 0", thumbnail.element_handle())

    # The image chooser, as the logo field of the practice's settings opens it.
    page.goto(f"{url}/admin/settings/site_core/practicesettings/{two.site.pk}/")
    page.locator("#id_logo-chooser [data-chooser-action-choose]").first.click()
    modal = page.locator(".modal-content")
    modal.get_by_text(images["two"].title).first.wait_for()
    chooser = modal.inner_text()
    assert images["one"].title not in chooser and images["root"].title not in chooser
    # Its search finds practice 2's image, never practice 1's.
    modal.locator("input[name='q']").fill("cabinet")
    page.wait_for_timeout(600)  # the search field waits for the typing to stop
    modal.get_by_text(images["two"].title).first.wait_for()
    assert images["one"].title not in modal.inner_text()

    # Practice 1's image, asked for by address: refused.
    refused = f"/admin/images/{images['one'].pk}/"
    watched.allow(refused)
    response = page.goto(f"{url}{refused}")
    assert response.status in (403, 404) or urlsplit(page.url).path == "/admin/", (response.status, page.url)
    assert images["one"].title not in page.content()
