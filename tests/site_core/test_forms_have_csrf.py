"""Every form a person submits carries its CSRF token.

Django's test client skips the CSRF check, so a form rendered without ``{% csrf_token %}``
(a dashboard panel rendered with a plain dict, say) passed every test while a browser got 403.
This test renders the admin dashboard and every page the project adds, as an expert, a
practice administrator, a superuser, a client and an anonymous visitor, and fails on any
``<form method="post">`` without a ``csrfmiddlewaretoken`` field.

The pages are found, not listed: every URL pattern of the project's admin viewsets (the
``register_admin_viewset`` hook, groups and snippets included), every URL whose view the
project or allauth defines (modules, payments, accounts), the project's settings and page
types' edit views. A new page is covered the day it is added; a new URL parameter needs a
sample value in ``sample_values()`` (the test says so).
"""

from __future__ import annotations

from datetime import time, timedelta

import pytest
import recurrence
from bs4 import BeautifulSoup
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

PROJECT_PACKAGES = ("site_core", "modules")
#: Views outside the project whose pages our users fill in.
THIRD_PARTY_FORMS = ("allauth.account",)


def _view_module(callback):
    view_class = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
    return getattr(view_class or callback, "__module__", "") or ""


def _params(pattern):
    regex = getattr(pattern, "regex", None)
    return list(regex.groupindex) if regex is not None else []


def _walk(patterns, namespace=""):
    """(qualified URL name, parameter names, view module) of every named URL pattern."""
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}:{entry.namespace}" if entry.namespace and namespace else (
                entry.namespace or namespace)
            params = _params(entry.pattern)
            for name, inner_params, module in _walk(entry.url_patterns, inner):
                yield name, params + inner_params, module
        elif isinstance(entry, URLPattern) and entry.name:
            name = f"{namespace}:{entry.name}" if namespace else entry.name
            params = _params(entry.pattern)
            yield name, params, _view_module(entry.callback)


def project_viewsets():
    from wagtail.admin.viewsets import viewsets

    return [vs for vs in viewsets.viewsets if type(vs).__module__.startswith(PROJECT_PACKAGES)]


def project_url_names():
    """(qualified name, parameters) of the admin and public URLs the project adds."""
    admin_namespaces = {vs.url_namespace for vs in project_viewsets()}
    found = {}
    for name, params, module in _walk(get_resolver().url_patterns):
        namespace = name.rsplit(":", 1)[0] if ":" in name else ""
        ours = namespace in admin_namespaces or module.startswith(PROJECT_PACKAGES + THIRD_PARTY_FORMS)
        if ours:
            found.setdefault(name, params)
    return found


@pytest.fixture
def world(practice, make_expert, make_user, django_capture_on_commit_callbacks):
    """One expert with everything the admin lists (prices, hours, a holiday, rules, a paid
    request, a message, a promo code), a client, and the three admin roles."""
    from modules.booking import notifications, services
    from modules.booking.models import AvailabilityException, AvailabilityRule, Offering
    from modules.contact.services import send_message
    from site_core.access.services import add_practice_admin
    from site_core.payments.models import PromoCode
    from tests.site_core.payments.drivers.test_card import TestCardDriver

    expert, page, _en = make_expert(practice, "Sophie Laurent")
    Offering.objects.create(expert=expert, mode="chat", price_per_minute=250, long_minutes=30, long_price=5500,
                            instant_rate=300)
    AvailabilityRule.objects.create(expert=expert, recurrence=recurrence.deserialize("RRULE:FREQ=DAILY"),
                                    start_time=time(0), end_time=time(23, 59))
    now = timezone.now()
    AvailabilityException.objects.create(expert=expert, kind="closed", starts_at=now + timedelta(days=20),
                                         ends_at=now + timedelta(days=21))
    services.profile(expert)
    client_user = make_user(email="camille@example.test", first_name="Camille", last_name="Martin")
    buyer = Client()
    buyer.force_login(client_user)
    starts = (now + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    appointment = services.hold(services.BookingRequest(site=practice.site, expert=expert, client=client_user,
                                                        mode="chat", product="long", starts_at=starts))
    with django_capture_on_commit_callbacks(execute=True):
        payment = TestCardDriver().pay(buyer, appointment.order)
    held = services.hold(services.BookingRequest(site=practice.site, expert=expert, client=client_user,
                                                 mode="chat", product="long",
                                                 starts_at=starts + timedelta(hours=3)))
    pending = TestCardDriver().start_without_completing(buyer, held.order)
    send_message(expert=expert, name="Jeanne", email="jeanne@example.test", message="Bonjour")
    PromoCode.objects.create(site=practice.site, code="BIENVENUE", kind="percent", percent=10, expert=expert)

    # The practice's administrator: a member of its administrators group (site_core.access).
    administrator = add_practice_admin(practice.site, make_user(email="admin@practice.test"))
    superuser = make_user(email="root@practice.test", is_superuser=True, is_staff=True)
    return {
        "practice": practice, "expert": expert, "page": page, "client": client_user,
        "appointment": appointment, "held": held, "payment": payment, "pending_payment": pending,
        "answer_token": notifications.answer_token(appointment),
        "users": {"expert": expert.user, "administrator": administrator, "superuser": superuser,
                  "client": client_user, "anonymous": None},
    }


def sample_values(world, name):
    """A value for each URL parameter the project's URLs take, by parameter name."""
    appointment = world["appointment"]
    return {
        "page_id": world["page"].pk,
        "code": appointment.code if not name.endswith(":abandon") else world["held"].code,
        "token": world["answer_token"],
        "public_id": world["held"].order.public_id,
        "provider": "test",
        "payment_id": world["pending_payment"].pk,
        # allauth's links from emails (a wrong key shows the "invalid link" page).
        "key": "not-a-key", "uidb36": "0",
        # The admin API's images and documents (kept to the user's practice by site_core's
        # wagtail_hooks) answer JSON: no form to check, whatever the row.
        **({"pk": 0} if name.startswith("wagtailadmin_api:") else {}),
    }


def _first_pk(viewset, user):
    from site_core.access.admin import own_rows

    model = viewset.model
    rows = model._default_manager.order_by("pk")
    path = getattr(viewset, "owner_path", None)
    if path and any(f.name == path.split("__")[0] for f in model._meta.get_fields()):
        rows = own_rows(rows, user, path)
    first = rows.first()
    return first.pk if first else None


def forms_without_token(html):
    soup = BeautifulSoup(html, "html.parser")
    missing = []
    for form in soup.find_all("form"):
        if (form.get("method") or "get").lower() != "post":
            continue
        # Wagtail's w-swap controller submits its form with fetch() and the token in the
        # X-CSRFToken header (wagtailConfig.CSRF_TOKEN): the editing-sessions ping.
        if "w-swap" in (form.get("data-controller") or "").split():
            continue
        if form.find("input", attrs={"name": "csrfmiddlewaretoken"}) is None:
            missing.append(str(form)[:200])
    return missing


def _admin_urls(world, user):
    """Every admin page of the project for this user: the dashboard, each viewset's views
    (a row's views with the first row the user may see), settings and page editing."""
    from wagtail.contrib.settings.registry import registry as settings_registry
    from wagtail.models import Page

    urls = {"dashboard": reverse("wagtailadmin_home")}
    names = project_url_names()
    for viewset in project_viewsets():
        prefix = f"{viewset.url_namespace}:"
        for name, params in names.items():
            if not name.startswith(prefix):
                continue
            if not params:
                urls[name] = reverse(name)
            elif params == ["pk"]:
                pk = _first_pk(viewset, user)
                if pk is not None:
                    urls[name] = reverse(name, args=[pk])
    site = world["practice"].site
    for model in settings_registry:
        if model.__module__.startswith(PROJECT_PACKAGES):
            urls[f"settings:{model._meta.label}"] = reverse(
                "wagtailsettings:edit", args=[model._meta.app_label, model._meta.model_name, site.pk])
    for page in Page.objects.live().specific().order_by("pk"):  # one page of each type
        if type(page).__module__.startswith(PROJECT_PACKAGES):
            urls.setdefault(f"page-edit:{type(page).__name__}", reverse("wagtailadmin_pages:edit", args=[page.pk]))
    return urls


def _public_urls(world):
    urls, unknown = {}, []
    for name, params in project_url_names().items():
        if name.split(":")[0] in {vs.url_namespace for vs in project_viewsets()}:
            continue
        values = sample_values(world, name)
        if any(p not in values for p in params):
            unknown.append(f"{name} ({', '.join(p for p in params if p not in values)})")
            continue
        urls[name] = reverse(name, kwargs={p: values[p] for p in params})
    return urls, unknown


def _walk_booking_steps(http, page):
    """Fills the booking steps in, so that each step's form is on the page when fetched."""
    from modules.booking import availability

    http.post(f"/booking/{page.pk}/", {"mode": "chat", "when": "appointment"})
    http.post(f"/booking/{page.pk}/product/", {"product": "long"})
    now = timezone.now()
    slot = availability.free_slots(page.expert, "chat", 30, now, now + timedelta(days=3), now)[0]
    http.post(f"/booking/{page.pk}/time/", {"starts_at": slot.isoformat()})


def test_every_post_form_of_the_admin_and_the_site_carries_a_csrf_token(world):
    problems, rendered = [], {}
    public, unknown = _public_urls(world)
    assert not unknown, ("URL parameters without a sample value (add them to sample_values() in this test, so "
                         f"these pages are checked): {unknown}")
    for role, user in world["users"].items():
        http = Client()
        if user is not None:
            http.force_login(user)
        if role in ("expert", "administrator", "superuser"):
            urls = _admin_urls(world, user)
        else:
            if user is not None:
                _walk_booking_steps(http, world["page"])
            urls = public
        for name, url in urls.items():
            response = http.get(url)
            if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
                continue
            html = response.content.decode()
            rendered.setdefault(role, set()).add(name)
            for form in forms_without_token(html):
                problems.append(f"{role} {url} ({name}): {form}")
    assert not problems, "POST forms without a CSRF token:\n" + "\n".join(problems)

    # The check looked where it must: the dashboard with its panels for each admin role, each
    # project viewset's list and each page a client fills in.
    for role in ("expert", "administrator", "superuser"):
        assert "dashboard" in rendered[role]
    from wagtail.admin.viewsets.chooser import ChooserViewSet

    for viewset in project_viewsets():
        if isinstance(viewset, ChooserViewSet):  # a modal's JSON, no page of its own
            continue
        lists = {f"{viewset.url_namespace}:index", f"{viewset.url_namespace}:list"}  # snippets say "list"
        assert lists & rendered["superuser"], viewset.url_namespace
    for name in ("booking:start", "booking:product", "booking:slot", "booking:confirm", "booking:cancel",
                 "booking:reschedule", "contact:form", "accounts:profile", "account_login", "account_signup"):
        assert name in rendered["client"] | rendered["anonymous"], name


def test_the_check_finds_a_form_without_its_token():
    assert forms_without_token('<form method="post"><button>Go</button></form>')
    assert forms_without_token('<form method="POST"><input name="x"></form>')
    assert not forms_without_token('<form method="get"></form><form>'
                                   '</form><form method="post"><input type="hidden" name="csrfmiddlewaretoken" '
                                   'value="t"></form>')


def test_the_dashboard_switches_and_their_token_answer_with_csrf_enforced(world):
    """The expert's dashboard switches, submitted as a browser does: the token taken from the
    page, CSRF enforced."""
    from modules.booking.models import BookingProfile

    expert = world["expert"]
    http = Client(enforce_csrf_checks=True)
    http.force_login(expert.user)
    soup = BeautifulSoup(http.get("/admin/").content.decode(), "html.parser")
    form = soup.find("form", attrs={"action": reverse("appointments:switch")})
    token = form.find("input", attrs={"name": "csrfmiddlewaretoken"})["value"]
    assert http.post(form["action"], {"action": "now"}).status_code == 403  # no token: refused
    assert http.post(form["action"], {"action": "now", "csrfmiddlewaretoken": token}).status_code == 302
    assert BookingProfile.objects.get(expert=expert).is_available_now()
