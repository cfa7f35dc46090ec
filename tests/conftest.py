"""Fixtures shared by the whole suite: a practice, experts, clients, Chromium."""

import os
import shutil
import weakref

import pytest
from django.conf import settings as django_settings
from django.db import DatabaseError, connection

REQUIRE_BROWSER = os.environ.get("CABINET_REQUIRE_BROWSER") == "1"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]


def _is_transactional(item):
    marker = item.get_closest_marker("django_db")
    if marker is not None and marker.kwargs.get("transaction"):
        return True
    return bool({"transactional_db", "live_server"} & set(getattr(item, "fixturenames", ())))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """After a transactional test has emptied every table (even one that skipped after the
    database was set up), put back the root page and collection Wagtail's migrations made."""
    yield
    # After the last test the test database is already gone.
    if nextitem is not None and _is_transactional(item):
        from pytest_django.plugin import blocking_manager_key

        with item.config.stash[blocking_manager_key].unblock():
            ensure_wagtail_roots()


@pytest.fixture(scope="session", autouse=True)
def _policies_read_content_types_through_django():
    """Wagtail's permission policies keep the ContentType of their model in a cached_property
    (``BaseDjangoAuthPermissionPolicy._content_type``) for the life of the process. A
    transactional test ends with a flush (TRUNCATE) after which post_migrate creates the
    content types and permissions again, with new ids on PostgreSQL (TRUNCATE restarts no
    sequence; SQLite hands the same ids out again). A policy warmed before the flush then
    compares permissions against a content type that no longer exists: a practice
    administrator is refused their own site settings and sees an empty site switcher
    (SitePermissionPolicy), in whichever test runs next on that worker. Django's own
    ContentType cache is cleared by post_migrate (create_contenttypes), so the policies ask
    it every time in the suite. tests/site_core/test_content_types_after_flush.py shows it."""
    from django.contrib.contenttypes.models import ContentType
    from wagtail.permission_policies.base import BaseDjangoAuthPermissionPolicy

    BaseDjangoAuthPermissionPolicy._content_type = property(
        lambda policy: ContentType.objects.get_for_model(policy.auth_model))


_OPENED_CONNECTIONS = weakref.WeakSet()


def _remember_connection(sender, connection, **kwargs):
    _OPENED_CONNECTIONS.add(connection)


@pytest.fixture(scope="session", autouse=True)
def _close_every_connection_before_the_test_database_goes(django_db_setup):
    """Django keeps its connections in context-local storage (asgiref's Local). During the
    browser tests (Playwright's sync API) the main thread was seen using another connection
    object than before them, which the final ``connections.close_all()`` does not reach; left
    open, it stopped PostgreSQL from dropping the test database at the end ("is being
    accessed by other users"). Close every connection the session opened."""
    from django.db.backends.signals import connection_created

    connection_created.connect(_remember_connection, weak=False)
    yield
    connection_created.disconnect(_remember_connection)
    for wrapper in list(_OPENED_CONNECTIONS):
        try:
            wrapper.close()
        except DatabaseError:  # another thread's (live server): that thread closes it
            pass


@pytest.fixture(autouse=True)
def _isolated_media(settings, tmp_path_factory):
    settings.MEDIA_ROOT = str(tmp_path_factory.mktemp("media"))


@pytest.fixture(autouse=True)
def _default_language():
    """Every test starts in the install's default language (French). The test client runs
    requests in the test's thread and the locale middleware leaves the request's language
    active after it: without this, a test that asked in English made the next one English."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _fresh_cache():
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture
def require_postgres():
    """For tests that only mean something on PostgreSQL (exclusion constraints, row locks)."""
    if connection.vendor != "postgresql":
        if os.environ.get("DATABASE_URL", "").startswith("postgres"):
            pytest.fail("DATABASE_URL points to PostgreSQL but the tests run elsewhere")
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")


class Practice:
    """A practice built for a test: a site, its French and English home pages, its expert index."""

    def __init__(self, site, home_fr, home_en, index_fr, index_en, settings):
        self.site = site
        self.home = home_fr
        self.home_en = home_en
        self.index = index_fr
        self.index_en = index_en
        self.settings = settings


def _publish(page):
    page.save_revision().publish()
    return page


def ensure_wagtail_roots():
    """Wagtail's migrations create the root page and the root collection; a transactional test
    empties every table when it ends. Put them back so the tests after it find the usual tree."""
    from django.contrib.contenttypes.models import ContentType
    from wagtail.models import Collection, Locale, Page

    locale, _ = Locale.objects.get_or_create(language_code=django_settings.LANGUAGE_CODE)
    if Collection.get_first_root_node() is None:
        Collection.add_root(instance=Collection(name="Root"))
    root = Page.get_first_root_node()
    if root is None:
        root = Page.add_root(instance=Page(title="Root", slug="root", locale=locale,
                                           content_type=ContentType.objects.get_for_model(Page)))
    return root


def build_practice(hostname="testserver", port=80, *, name="Cabinet Test", theme="atelier",
                   default=True, slug=None):
    from wagtail.models import Locale, Site

    from site_core.pages.models import ExpertIndexPage, HomePage
    from site_core.practice.models import PracticeSettings

    fr, _ = Locale.objects.get_or_create(language_code="fr")
    en, _ = Locale.objects.get_or_create(language_code="en")
    root = ensure_wagtail_roots()
    home = HomePage(title=name, slug=slug or f"home-{hostname.replace('.', '-')}", locale=fr,
                    intro=f"Bienvenue chez {name}")
    root.add_child(instance=home)
    _publish(home)
    home_en = home.copy_for_translation(en)
    home_en.intro = f"Welcome to {name}"
    home_en.save()
    _publish(home_en)
    if default:
        Site.objects.filter(is_default_site=True).update(is_default_site=False)
    site = Site.objects.create(hostname=hostname, port=port, root_page=home,
                               is_default_site=default, site_name=name)
    index = ExpertIndexPage(title="Nos experts", slug="experts", show_in_menus=True)
    home.add_child(instance=index)
    _publish(index)
    index_en = index.copy_for_translation(en, copy_parents=True)
    index_en.title = "Our experts"
    index_en.save()
    _publish(index_en)
    practice_settings = PracticeSettings.for_site(site)
    practice_settings.practice_name = name
    practice_settings.theme = theme
    practice_settings.save()
    from site_core.access.services import setup_practice_groups

    built = Practice(site, home, home_en, index, index_en, practice_settings)
    # Its administrators' and experts' groups (site_core.access reads them).
    built.admin_group = setup_practice_groups(site)
    return built


def image_file(name="photo.png", colour=(200, 120, 80)):
    """A small PNG, as an upload."""
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image as PILImage

    buffer = io.BytesIO()
    PILImage.new("RGB", (40, 30), colour).save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def make_image(title, collection, uploaded_by=None):
    """An image in ``collection`` (a practice's: site_core.access.services.practice_collection)."""
    from django.core.files.images import ImageFile
    from wagtail.images import get_image_model

    image = get_image_model()(title=title, collection=collection, uploaded_by_user=uploaded_by)
    image.file = ImageFile(image_file(f"{title.lower().replace(' ', '-')}.png"))
    image.save()
    return image


def make_document(title, collection, uploaded_by=None):
    from django.core.files.base import ContentFile
    from wagtail.documents import get_document_model

    document = get_document_model()(title=title, collection=collection, uploaded_by_user=uploaded_by)
    document.file.save(f"{title.lower().replace(' ', '-')}.txt", ContentFile(b"Bonjour"), save=False)
    document.save()
    return document


@pytest.fixture
def practice(db):
    from wagtail.models import Site

    Site.objects.all().delete()
    return build_practice()


@pytest.fixture
def make_user(db):
    from allauth.account.models import EmailAddress

    from site_core.practice.models import User

    counter = {"n": 0}

    def make(email=None, password="correct-horse-battery", verified=True, **extra):
        counter["n"] += 1
        email = email or f"user{counter['n']}@example.test"
        user = User.objects.create_user(username=email.split("@")[0] + str(counter["n"]), email=email,
                                        password=password, **extra)
        EmailAddress.objects.create(user=user, email=email, verified=verified, primary=True)
        return user

    return make


@pytest.fixture
def make_expert(db, make_user):
    """make_expert(practice, "Alice Martin", slug=..., parent=...) -> (expert, page_fr, page_en)."""
    from wagtail.models import Locale

    from site_core.access.services import create_expert
    from site_core.pages.models import ExpertPage

    def make(practice, name, *, slug=None, parent=None, user=None, languages=("fr",), with_user=True,
             translate=True):
        slug = slug or name.lower().replace(" ", "-")
        if user is None and with_user:
            user = make_user(email=f"{slug}@experts.test", first_name=name.split()[0],
                             last_name=name.split()[-1])
        expert = create_expert(name=name, user=user, site=practice.site)
        parent = parent or practice.index
        page = ExpertPage(title=name, slug=slug, expert=expert, display_name=name,
                          specialty="Spécialité de test", summary=f"Résumé de {name}",
                          languages_spoken=list(languages))
        parent.add_child(instance=page)
        _publish(page)
        page_en = None
        if translate:
            page_en = page.copy_for_translation(Locale.objects.get(language_code="en"), copy_parents=True)
            page_en.specialty = "Test specialty"
            page_en.save()
            _publish(page_en)
        return expert, page, page_en

    return make


# --- Browser -----------------------------------------------------------------

@pytest.fixture(scope="session")
def browser():
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        if REQUIRE_BROWSER:
            pytest.fail("CABINET_REQUIRE_BROWSER=1 but /usr/bin/chromium is missing (make browser)")
        pytest.skip("Chromium is not installed (make browser)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if REQUIRE_BROWSER:
            raise
        pytest.skip("playwright is not installed")
    # Playwright's sync API runs an event loop in this thread; the Django test
    # database is still used synchronously by the live server's threads.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield instance
            instance.close()
    finally:
        # Not left behind for the tests that start subprocesses (the deploy check refuses it).
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture
def axe_script():
    path = os.path.join(django_settings.BASE_DIR, "node_modules", "axe-core", "axe.min.js")
    if not os.path.exists(path):
        if REQUIRE_BROWSER:
            pytest.fail("axe-core is missing: run `npm ci` (make test does)")
        pytest.skip("axe-core is not installed (npm ci)")
    return path


class PageGuard:
    """Watches a tab for what a person would notice as broken: a 4xx/5xx answer for one of the
    site's own assets or pages, a failed request, an uncaught script error, a console error.

    ``guard.check()`` fails the test with every problem seen so far; ``guard.allow(substring)``
    accepts responses whose URL contains ``substring`` (a page that answers 404 on purpose).
    """

    def __init__(self, tab, base_url):
        self.tab = tab
        self.base_url = base_url
        self.problems = []
        self._allowed = []
        tab.on("response", self._on_response)
        tab.on("requestfailed", self._on_failed)
        tab.on("console", self._on_console)
        tab.on("pageerror", lambda error: self.problems.append(f"script error: {error}"))

    def allow(self, substring):
        self._allowed.append(substring)

    def _ours(self, url):
        return url.startswith(self.base_url) and not any(a in url for a in self._allowed)

    def _on_response(self, response):
        if response.status >= 400 and self._ours(response.url):
            self.problems.append(f"{response.status} {response.request.method} {response.url}")

    def _on_failed(self, request):
        # A navigation away cancels pending loads: that is not an error a person sees.
        if self._ours(request.url) and "ERR_ABORTED" not in (request.failure or ""):
            self.problems.append(f"failed {request.method} {request.url}: {request.failure}")

    def _on_console(self, message):
        if message.type == "error" and not any(a in message.text for a in self._allowed):
            self.problems.append(f"console error: {message.text} @ {message.location}")

    def check(self):
        problems, self.problems = self.problems, []
        assert not problems, "\n".join(problems)


def sign_in_to_admin(tab, url, email, password):
    """Logs ``tab`` in through the Wagtail admin's login form, as a person would; waits for the dashboard."""
    tab.goto(f"{url}/admin/login/")
    tab.fill("#id_username", email)
    tab.fill("#id_password", password)
    tab.locator('button[type="submit"]').click()
    tab.wait_for_url(f"{url}/admin/")


@pytest.fixture
def guard(live_server):
    """guard(tab) -> a PageGuard on that tab; every guard made is checked when the test ends."""
    guards = []

    def make(tab):
        watched = PageGuard(tab, live_server.url)
        guards.append(watched)
        return watched

    yield make
    for watched in guards:
        watched.check()


@pytest.fixture
def listen():
    """``listen(events.X, fail=None)`` connects a receiver of X for this test and returns the
    list of what it was handed (the payload plus the envelope), one entry per successful
    delivery. ``fail(kwargs)`` runs first: if it raises, the delivery fails (nothing appended).
    The receivers are named ``listen_<event>_<n>`` (n counts this test's listeners from 0)."""
    connected = []

    def connect(event_type, fail=None):
        received = []

        def receiver(**kwargs):
            if fail is not None:
                fail(kwargs)
            received.append(kwargs)

        receiver.__qualname__ = receiver.__name__ = f"listen_{event_type.name}_{len(connected)}"
        event_type.receiver(receiver)
        connected.append((event_type, receiver))
        return received

    yield connect
    for event_type, receiver in connected:
        event_type.disconnect(receiver)
