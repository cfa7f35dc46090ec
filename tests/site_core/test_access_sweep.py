"""Practices kept apart: the access sweep (issue #10).

Two practices on one install, each with an expert, offerings, hours, a holiday, booking
rules, a paid appointment with a partial refund, a request waiting for an answer, a contact
message, a promo code and a client. For every admin URL that names an object and every API
endpoint and signed link that does, a practice-2 administrator and a practice-2 expert are
refused practice-1's objects (403, 404, or Wagtail's "permission denied" redirect to the
dashboard), and no list, chooser, search or export shows them practice-1's clients; the
install owner (a superuser) sees both practices; each practice's own staff see their own.

The URLs are found, not listed: every admin URL pattern is classified (a project viewset's,
Wagtail's page, user or setting views, or a Wagtail namespace that names no practice's
object); an admin URL pattern in no class fails the test, as does a project viewset whose
model has no practice-1 sample here, or an API path with a parameter the sweep does not fill.
A new viewset or endpoint cannot escape the sweep.
"""

from __future__ import annotations

from datetime import time, timedelta

import pytest
import recurrence
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from tests.conftest import build_practice

ONE, TWO = "one.test", "two.test"
PROJECT_PACKAGES = ("site_core", "modules")

# Wagtail admin namespaces whose URLs name no practice's object (sites, users' groups,
# locales, workflows, redirects and forms need permissions only the install owner has), or
# views of the user's own (account, editing sessions). Anything else with a parameter must be
# swept.
NOT_PRACTICE_OBJECTS = {
    "wagtaillocales", "wagtailredirects",
    "wagtailsites", "wagtailusers_groups", "wagtailadmin_workflows", "wagtailforms", "wagtailadmin_editing_sessions",
}
# Images, documents and collections: each practice's are in its own collection.
MEDIA_NAMESPACES = {
    "wagtailimages", "wagtailimages_chooser", "wagtailadmin_api:images", "wagtaildocs", "wagtaildocs_chooser",
    "wagtailadmin_api:documents", "wagtailadmin_collections",
}
NOT_PRACTICE_OBJECT_URLS = {
    # A page type's listings (its uses, where one may create one): swept as lists.
    "wagtailadmin_pages:type_use", "wagtailadmin_pages:type_use_results", "wagtailadmin_pages:choose_parent",
    "wagtailadmin_password_reset_confirm",  # a token from an email, not an object
    "wagtailadmin_tag_model_autocomplete",  # tags of a model, by app and model name
    "wagtail_bulk_action",  # bulk actions on pages/users/snippets: checked on each object by Wagtail
    "simple_translation:submit_snippet_translation",  # no translatable snippet in the project
}
# Admin pages without a parameter that are not lists: leaving, logging in, the icons, an error.
SKIPPED_LISTS = {"wagtailadmin_logout", "wagtailadmin_login", "wagtailadmin_error_test", "wagtailadmin_sprite",
                 "wagtailadmin_javascript_catalog", "wagtailadmin_password_reset", "wagtailadmin_password_reset_done",
                 "wagtailadmin_password_reset_complete", "wagtailadmin_dismissibles", "wagtailadmin_block_preview",
                 "appointments:switch", "wagtailembeds:chooser_upload"}
# Views that answer only POST: swept with a POST that must change nothing.
POST_ONLY = {"appointments:act", "payment_admin:promo_code", "event_deliveries:retry"}
DENIED = (403, 404)


def _params(pattern):
    regex = getattr(pattern, "regex", None)
    return list(regex.groupindex) if regex is not None else []


def _walk(patterns, namespace="", params=()):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}:{entry.namespace}" if entry.namespace and namespace else (
                entry.namespace or namespace)
            yield from _walk(entry.url_patterns, inner, [*params, *_params(entry.pattern)])
        elif isinstance(entry, URLPattern) and entry.name:
            yield (f"{namespace}:{entry.name}" if namespace else entry.name), [*params, *_params(entry.pattern)]


def admin_url_names():
    """(name, parameters) of every named URL under /admin/."""
    admin = next(entry for entry in get_resolver().url_patterns
                 if isinstance(entry, URLResolver) and str(entry.pattern) == "admin/")
    return dict(_walk(admin.url_patterns))


def project_viewsets():
    from wagtail.admin.viewsets import viewsets

    # Every viewset the project registers, snippet choosers and groups' items included.
    reverse("wagtailadmin_home")  # the URLconf (and with it every viewset) is loaded
    found = {}
    for vs in viewsets.viewsets:
        model = getattr(vs, "model", None)
        if type(vs).__module__.startswith(PROJECT_PACKAGES) or (
                isinstance(model, type) and model.__module__.startswith(PROJECT_PACKAGES)):
            found[vs.url_namespace] = vs
    return found


# --- The two practices --------------------------------------------------------------------

def _practice_data(practice, tag, make_expert, make_user, capture):
    from modules.booking import notifications, services
    from modules.booking.models import AvailabilityException, AvailabilityRule, Offering
    from modules.contact.services import send_message
    from site_core.payments import services as payments
    from site_core.payments.models import PromoCode
    from tests.site_core.payments.drivers.test_card import TestCardDriver

    host = practice.site.hostname
    name = f"Expert{tag.capitalize()} Person{tag.capitalize()}"
    expert, page, page_en = make_expert(practice, name, slug=f"expert-{tag}")
    offering = Offering.objects.create(expert=expert, mode="chat", price_per_minute=250, long_minutes=30,
                                       long_price=5500, instant_rate=300)
    rule = AvailabilityRule.objects.create(expert=expert, recurrence=recurrence.deserialize("RRULE:FREQ=DAILY"),
                                           start_time=time(0), end_time=time(23, 59))
    now = timezone.now()
    exception = AvailabilityException.objects.create(expert=expert, kind="closed",
                                                     starts_at=now + timedelta(days=20),
                                                     ends_at=now + timedelta(days=21))
    profile = services.profile(expert)
    client_user = make_user(email=f"client-{tag}@example.test", first_name=f"Client{tag.capitalize()}",
                            last_name=f"Family{tag.capitalize()}")
    buyer = Client(HTTP_HOST=host)
    buyer.force_login(client_user)
    starts = (now + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    appointment = services.hold(services.BookingRequest(site=practice.site, expert=expert, client=client_user,
                                                        mode="chat", product="long", starts_at=starts))
    with capture(execute=True):
        payment = TestCardDriver().pay(buyer, appointment.order)
        refund = payments.refund(payment, 500, reason="goodwill")
    appointment.refresh_from_db()
    message = send_message(expert=expert, name=f"Writer{tag.capitalize()}", email=f"writer-{tag}@example.test",
                           message="Bonjour")
    promo = PromoCode.objects.create(site=practice.site, code=f"PROMO{tag.upper()}", kind="percent", percent=10,
                                     client=client_user)
    from site_core.events.models import Delivery
    from site_core.practice.models import ClientMembership

    # One of the practice's event deliveries, failing (as the admin lists it by default) with
    # an error that names the client: the deliveries' list and inspect view are swept too.
    delivery = Delivery.objects.filter(event__site=practice.site, event__name="order_paid").get()
    Delivery.objects.filter(pk=delivery.pk).update(state=Delivery.State.FAILED, attempts=8,
                                                   last_error=f"RuntimeError: no mailbox {client_user.email}")
    media = _practice_media(practice, tag, expert.user)
    return {**media,
        "delivery": delivery,
        "practice": practice, "host": host, "expert": expert, "page": page, "page_en": page_en,
        "client": client_user, "appointment": appointment, "order": appointment.order, "payment": payment,
        "refund": refund, "offering": offering, "rule": rule, "exception": exception, "profile": profile,
        "message": message, "promo": promo,
        "membership": ClientMembership.objects.get(site=practice.site, user=client_user),
        "answer_token": notifications.answer_token(appointment),
        # What must never reach the other practice's staff.
        "markers": [client_user.email, client_user.last_name, appointment.code, media["image"].title,
                    media["document"].title],
    }


def _practice_media(practice, tag, uploader):
    """An image and a document in the practice's collection, and an upload of each waiting for
    its details (multiple upload), all by the practice's expert."""
    from django.contrib.contenttypes.models import ContentType
    from django.core.files.base import ContentFile
    from wagtail.documents import get_document_model
    from wagtail.images import get_image_model
    from wagtail.models import UploadedFile

    from site_core.access.services import practice_collection
    from tests.conftest import image_file, make_document, make_image

    collection = practice_collection(practice.site)
    uploads = {}
    for key, model, file in (("image_upload", get_image_model(), image_file(f"upload-{tag}.png")),
                             ("document_upload", get_document_model(), ContentFile(b"x", name=f"upload-{tag}.txt"))):
        uploads[key] = UploadedFile.objects.create(for_content_type=ContentType.objects.get_for_model(model),
                                                   file=file, uploaded_by_user=uploader)
    return {"collection": collection, **uploads,
            "image": make_image(f"Portrait {tag.capitalize()} Qx7", collection, uploader),
            "document": make_document(f"Brochure {tag.capitalize()} Zk4", collection, uploader)}


@pytest.fixture
def world(db, make_expert, make_user, django_capture_on_commit_callbacks):
    from wagtail.models import Site

    from site_core.access.services import add_practice_admin

    Site.objects.all().delete()
    one = build_practice(ONE, name="Cabinet Un", slug="un")
    two = build_practice(TWO, name="Cabinet Deux", slug="deux", default=False)
    data = {1: _practice_data(one, "one", make_expert, make_user, django_capture_on_commit_callbacks),
            2: _practice_data(two, "two", make_expert, make_user, django_capture_on_commit_callbacks)}
    for n in (1, 2):
        data[n]["admin"] = add_practice_admin(data[n]["practice"].site,
                                              make_user(email=f"admin-{n}@practice.test"))
    owner = make_user(email="owner@install.test", is_superuser=True, is_staff=True)
    return {"one": data[1], "two": data[2], "owner": owner}


def logged_in(user, host):
    http = Client(HTTP_HOST=host)
    http.force_login(user)
    return http


def staff_of_two(world):
    """The practice-2 roles the sweep refuses practice-1's objects to."""
    two = world["two"]
    return {"administrator": logged_in(two["admin"], TWO), "expert": logged_in(two["expert"].user, TWO)}


def body_of(response):
    if response.streaming:
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode(errors="replace")


def refused(response):
    """403, 404, or Wagtail's answer to a PermissionDenied in the admin: a redirect to the
    dashboard (or to the login page)."""
    if response.status_code in DENIED:
        return True
    if response.status_code == 302:
        location = response["Location"]
        return location.split("?")[0] in (reverse("wagtailadmin_home"), reverse("wagtailadmin_login"))
    return False


# --- Object URLs of the admin -------------------------------------------------------------

def _object_samples(data):
    """The practice-1 object each model's admin URLs are swept with."""
    from modules.booking.models import (
        Appointment,
        AvailabilityException,
        AvailabilityRule,
        BookingProfile,
        Offering,
    )
    from modules.contact.models import ContactMessage
    from site_core.events.models import Delivery
    from site_core.payments.models import Order, Payment, PromoCode, Refund
    from site_core.practice.models import ClientMembership, User

    return {Appointment: data["appointment"], Offering: data["offering"], AvailabilityRule: data["rule"],
            AvailabilityException: data["exception"], BookingProfile: data["profile"],
            ContactMessage: data["message"], Payment: data["payment"], PromoCode: data["promo"],
            ClientMembership: data["membership"], Order: data["order"], Refund: data["refund"],
            User: data["client"], Delivery: data["delivery"]}


def admin_object_urls(data):
    """(name, URL) of every admin URL that names a practice-1 object. Fails on an admin URL
    pattern with a parameter that is not classified."""
    from site_core.pages.models import ExpertPage

    viewsets = project_viewsets()
    samples = _object_samples(data)
    page, page_en, user = data["page"], data["page_en"], data["client"]
    urls, unclassified = [], []
    for name, params in admin_url_names().items():
        if not params:
            continue
        namespace = name.rsplit(":", 1)[0] if ":" in name else ""
        if namespace in NOT_PRACTICE_OBJECTS or name in NOT_PRACTICE_OBJECT_URLS:
            continue
        if namespace in viewsets and params == ["expert_id"]:
            # Views of one expert's settings (the hours editor): the practice-1 expert.
            urls.append((name, reverse(name, kwargs={"expert_id": data["expert"].pk})))
            continue
        if namespace in viewsets:
            model = getattr(viewsets[namespace], "model", None)
            if model not in samples:
                unclassified.append(f"{name}: no practice-1 sample of {model} in _object_samples()")
                continue
            if params in (["pk"], ["object_id"]):
                urls.append((name, reverse(name, args=[samples[model].pk])))
            else:
                unclassified.append(f"{name} {params}")
        elif namespace in ("wagtailadmin_pages", "wagtailadmin_api:pages", "simple_translation") or name in (
                "wagtailadmin_explore", "wagtailadmin_explore_results", "wagtailadmin_choose_page_child"):
            # Pages: the practice's expert page (and its home, for the explorer and chooser).
            values = {"page_id": page.pk, "pk": page.pk, "parent_page_id": data["practice"].home.pk,
                      "revision_id": page.latest_revision_id, "revision_id_a": page.latest_revision_id,
                      "revision_id_b": page.latest_revision_id, "content_type_app_name": "site_core",
                      "content_type_model_name": "expertpage", "action_name": "copy",
                      "locale": "en", "workflow_state_id": 0, "task_state_id": 0, "action": "unpublish",
                      "page_to_move_id": page.pk, "destination_id": data["practice"].index.pk, "task_id": 0,
                      "app_label": "site_core", "model_name": "expertpage"}
            if any(p not in values for p in params):
                unclassified.append(f"{name} {params}")
                continue
            urls.append((name, reverse(name, kwargs={p: values[p] for p in params})))
            if "page_id" in params and name == "wagtailadmin_pages:edit":
                urls.append((f"{name} (en)", reverse(name, kwargs={"page_id": page_en.pk})))
        elif namespace in MEDIA_NAMESPACES:
            image, document = data["image"], data["document"]
            is_document = "doc" in namespace
            values = {"image_id": image.pk, "document_id": document.pk, "doc_id": document.pk,
                      "filter_spec": "fill-80x80",
                      "uploaded_file_id": data["document_upload" if is_document else "image_upload"].pk,
                      "pk": data["collection"].pk if "collections" in namespace
                      else (document if is_document else image).pk,
                      "collection_id": data["collection"].pk}
            if any(p not in values for p in params):
                unclassified.append(f"{name} {params}")
                continue
            urls.append((name, reverse(name, kwargs={p: values[p] for p in params})))
        elif namespace == "wagtailusers_users":
            if params != ["pk"]:
                unclassified.append(f"{name} {params}")
                continue
            urls.append((name, reverse(name, args=[user.pk])))
        elif namespace == "wagtailsettings":
            values = {"app_name": "site_core", "model_name": "practicesettings",
                      "pk": data["practice"].site.pk, "site_pk": data["practice"].site.pk}
            if any(p not in values for p in params):
                unclassified.append(f"{name} {params}")
                continue
            urls.append((name, reverse(name, kwargs={p: values[p] for p in params})))
        else:
            unclassified.append(f"{name} {params}")
    assert not unclassified, ("Admin URLs that name an object and are not swept (give them a practice-1 sample in "
                              "this test, or say why they name no practice's object):\n" + "\n".join(unclassified))
    assert ExpertPage.objects.filter(pk=page.pk).exists()
    return urls


def test_practice_two_staff_are_refused_practice_one_objects_in_the_admin(world):
    one = world["one"]
    urls = admin_object_urls(one)
    # The sweep covered what the issue names: appointment, order (payment), refund (its
    # payment), client, offering, expert page.
    names = {name for name, _url in urls}
    for expected in ("appointments:inspect", "appointments:act", "payment_admin:inspect", "payment_admin:refund",
                     "practice_clients:inspect", "booking_offerings:edit", "wagtailadmin_pages:edit",
                     "wagtailusers_users:edit", "wagtailsnippets_payments_promocode:edit",
                     "event_deliveries:inspect", "event_deliveries:retry",
                     "wagtailimages:edit", "wagtailimages:delete", "wagtailimages:image_usage",
                     "wagtailimages_chooser:chosen", "wagtailimages:create_multiple_from_uploaded_image",
                     "wagtaildocs:edit", "wagtaildocs:delete", "wagtaildocs_chooser:chosen",
                     "wagtailadmin_api:images:detail", "wagtailadmin_api:documents:detail",
                     "wagtailadmin_collections:edit"):
        assert expected in names, expected
    problems = []
    for role, http in staff_of_two(world).items():
        for name, url in urls:
            response = http.post(url) if name in POST_ONLY else http.get(url)
            if response.status_code == 405:  # a view that only answers POST: POST must be refused too
                response = http.post(url)
            if not refused(response):
                problems.append(f"{role} GET {url} ({name}): {response.status_code}")
            elif any(m in body_of(response) for m in one["markers"]):
                problems.append(f"{role} {url} ({name}) shows practice 1's client")
    assert not problems, "\n".join(problems)


def test_nothing_of_practice_one_changes_when_practice_two_staff_post(world):
    from modules.booking.models import Appointment
    from site_core.payments.models import Refund

    one = world["one"]
    pending = one["appointment"]
    for role, http in staff_of_two(world).items():
        assert refused(http.post(reverse("appointments:act", args=[pending.pk]), {"action": "cancel"})), role
        assert refused(http.post(reverse("payment_admin:refund", args=[one["payment"].pk]),
                                 {"amount": "1.00", "confirm": "1", "reason": "x"})), role
        assert refused(http.post(reverse("payment_admin:promo_code", args=[one["payment"].pk]))), role
        assert refused(http.post(reverse("booking_offerings:delete", args=[one["offering"].pk]))), role
        assert refused(http.post(reverse("wagtailsnippets_payments_promocode:delete", args=[one["promo"].pk]))), role
        assert refused(http.post(reverse("event_deliveries:retry", args=[one["delivery"].pk]))), role
        for name, obj in (("wagtailimages", one["image"]), ("wagtaildocs", one["document"])):
            assert refused(http.post(reverse(f"{name}:edit", args=[obj.pk]), {"title": "Taken"})), (role, name)
            assert refused(http.post(reverse(f"{name}:delete", args=[obj.pk]))), (role, name)
            assert refused(http.post(reverse(f"{name}:delete_multiple", args=[obj.pk]))), (role, name)
    assert Appointment.objects.get(pk=pending.pk).state == pending.state
    assert Refund.objects.filter(payment=one["payment"]).count() == 1
    assert one["offering"].__class__.objects.filter(pk=one["offering"].pk).exists()
    assert one["promo"].__class__.objects.filter(pk=one["promo"].pk).exists()
    assert one["delivery"].__class__.objects.get(pk=one["delivery"].pk).state == "failed"
    for obj in (one["image"], one["document"]):
        assert obj.__class__.objects.get(pk=obj.pk).title == obj.title


def test_the_owner_and_each_practice_own_staff_open_their_objects(world):
    owner = logged_in(world["owner"], ONE)
    for n, key in ((1, "one"), (2, "two")):
        data = world[key]
        own_admin = logged_in(data["admin"], data["host"])
        own_expert = logged_in(data["expert"].user, data["host"])
        for http, who in ((owner, "owner"), (own_admin, "administrator")):
            for url in (reverse("appointments:inspect", args=[data["appointment"].pk]),
                        reverse("payment_admin:inspect", args=[data["payment"].pk]),
                        reverse("payment_admin:refund", args=[data["payment"].pk]),
                        reverse("practice_clients:inspect", args=[data["membership"].pk]),
                        reverse("booking_offerings:edit", args=[data["offering"].pk]),
                        reverse("contact_messages:edit", args=[data["message"].pk]),
                        reverse("wagtailsnippets_payments_promocode:edit", args=[data["promo"].pk]),
                        reverse("wagtailadmin_pages:edit", args=[data["page"].pk]),
                        reverse("wagtailsettings:edit", args=["site_core", "practicesettings",
                                                              data["practice"].site.pk]),
                        reverse("event_deliveries:inspect", args=[data["delivery"].pk])):
                response = http.get(url)
                assert response.status_code == 200, (who, n, url, response.status_code)
        for url in (reverse("appointments:inspect", args=[data["appointment"].pk]),
                    reverse("booking_offerings:edit", args=[data["offering"].pk]),
                    reverse("contact_messages:edit", args=[data["message"].pk]),
                    reverse("wagtailadmin_pages:edit", args=[data["page"].pk])):
            assert own_expert.get(url).status_code == 200, ("expert", n, url)
        # An expert moves no money and sees no client list.
        assert refused(own_expert.get(reverse("payment_admin:refund", args=[data["payment"].pk])))
        assert refused(own_expert.get(reverse("practice_clients:index")))
        # Nor the outbox's deliveries.
        assert refused(own_expert.get(reverse("event_deliveries:index")))
        assert refused(own_expert.get(reverse("event_deliveries:inspect", args=[data["delivery"].pk])))
    # Users and groups stay the owner's.
    assert owner.get(reverse("wagtailusers_users:edit", args=[world["one"]["client"].pk])).status_code == 200
    assert refused(logged_in(world["one"]["admin"], ONE).get(
        reverse("wagtailusers_users:edit", args=[world["one"]["client"].pk])))


# --- Lists, choosers, search, exports -----------------------------------------------------

def admin_list_urls(world):
    """Every list the admin shows: the dashboard, the explorer and its search, each project
    viewset's list views (searched by practice 1's client, and exported where it exports),
    Wagtail's choosers and reports."""
    one = world["one"]
    email = one["client"].email
    urls = {"dashboard": reverse("wagtailadmin_home"), "explorer": reverse("wagtailadmin_explore_root"),
            "page search": reverse("wagtailadmin_pages:search") + "?q=PersonOne",
            "page chooser": reverse("wagtailadmin_choose_page"),
            "page chooser search": reverse("wagtailadmin_choose_page_search") + "?q=PersonOne",
            "appointments pending": reverse("appointments:pending"),
            "locked pages": reverse("wagtailadmin_reports:locked_pages"),
            "aging pages": reverse("wagtailadmin_reports:aging_pages"),
            "site history": reverse("wagtailadmin_reports:site_history"),
            "page types usage": reverse("wagtailadmin_reports:page_types_usage"),
            "expert page uses": reverse("wagtailadmin_pages:type_use", args=["site_core", "expertpage"]),
            "expert page parents": reverse("wagtailadmin_pages:choose_parent", args=["site_core", "expertpage"]),
            "promo code chooser": reverse("wagtailsnippetchoosers_payments_promocode:choose"),
            "promo code chooser search": reverse("wagtailsnippetchoosers_payments_promocode:choose_results")
            + f"?q={one['promo'].code}",
            # Images and documents, searched by the first word of practice 1's titles.
            "images search": reverse("wagtailimages:index") + "?q=Portrait",
            "image chooser search": reverse("wagtailimages_chooser:choose_results") + "?q=Portrait",
            "documents search": reverse("wagtaildocs:index") + "?q=Brochure",
            "document chooser search": reverse("wagtaildocs_chooser:choose_results") + "?q=Brochure",
            "admin API images search": reverse("wagtailadmin_api:images:listing") + "?search=Portrait",
            "admin API documents search": reverse("wagtailadmin_api:documents:listing") + "?search=Brochure"}
    names = admin_url_names()
    # Every other admin page without a parameter too (Wagtail's reports, its admin API's
    # listings, the snippets' index), searched for practice 1's client where it searches.
    for name, params in names.items():
        if params or name in SKIPPED_LISTS or name in urls:
            continue
        url = reverse(name)
        urls[name] = url
        urls[f"{name} ?q"] = f"{url}?q={email}"
    for namespace, viewset in project_viewsets().items():
        for name, params in names.items():
            if params or not name.startswith(f"{namespace}:"):
                continue
            url = reverse(name)
            if name.endswith("pending") or name.endswith("switch"):
                continue
            urls[name] = url
            urls[f"{name} ?q"] = f"{url}?q={email}"
            if getattr(viewset, "list_export", None):
                urls[f"{name} csv"] = f"{url}?export=csv"
                urls[f"{name} xlsx"] = f"{url}?export=xlsx"
    return urls


def test_practice_two_staff_never_see_practice_one_clients_in_lists(world):
    one = world["one"]
    urls = admin_list_urls(world)
    assert "practice_clients:index csv" in urls  # the clients' export is swept
    leaks, shown = [], {}
    for role, http in staff_of_two(world).items():
        for name, url in urls.items():
            response = http.get(url)
            body = body_of(response)
            if response.status_code == 200:
                shown.setdefault(role, set()).add(name)
            # A search box shows what was searched: the other markers must not appear.
            searched = url.split("?q=")[1] if "?q=" in url else None
            for marker in one["markers"] + [one["expert"].name, str(one["order"])]:
                if marker != searched and marker in body:
                    leaks.append(f"{role} {url} ({name}) shows {marker!r}")
    assert not leaks, "\n".join(leaks)
    # The sweep looked at real pages: the practice-2 administrator's lists answered.
    for name in ("dashboard", "appointments:index", "payment_admin:index", "practice_clients:index",
                 "practice_clients:index csv", "booking_offerings:index", "wagtailsnippets_payments_promocode:list",
                 "explorer", "page search", "page chooser", "event_deliveries:index", "wagtailimages:index",
                 "images search", "wagtailimages_chooser:choose", "image chooser search", "wagtailimages:add_multiple",
                 "wagtaildocs:index", "documents search", "wagtaildocs_chooser:choose", "document chooser search",
                 "wagtaildocs:add_multiple", "wagtailadmin_api:images:listing", "admin API images search"):
        assert name in shown["administrator"], name
    assert {"site history", "page types usage"}.isdisjoint(shown["administrator"])
    for name in ("appointments:index", "wagtailimages_chooser:choose", "image chooser search"):
        assert name in shown["expert"], name


def test_lists_show_the_practice_own_rows_and_the_owner_both(world):
    one, two = world["one"], world["two"]
    owner = logged_in(world["owner"], ONE)
    for name in ("appointments:index", "practice_clients:index"):
        body = owner.get(reverse(name)).content.decode()
        assert one["client"].last_name in body and two["client"].last_name in body, name
    payments = owner.get(reverse("payment_admin:index")).content.decode()
    assert str(one["order"]) in payments and str(two["order"]) in payments
    deliveries = owner.get(reverse("event_deliveries:index")).content.decode()
    assert one["client"].email in deliveries and two["client"].email in deliveries
    assert two["client"].email in logged_in(two["admin"], TWO).get(reverse("event_deliveries:index")).content.decode()
    clients_csv = body_of(owner.get(reverse("practice_clients:index") + "?export=csv"))
    assert one["client"].email in clients_csv and two["client"].email in clients_csv
    admin_two = logged_in(two["admin"], TWO)
    for name in ("appointments:index", "practice_clients:index"):
        body = admin_two.get(reverse(name)).content.decode()
        assert two["client"].last_name in body and one["client"].last_name not in body, name
    payments = admin_two.get(reverse("payment_admin:index")).content.decode()
    assert str(two["order"]) in payments and str(one["order"]) not in payments
    assert two["client"].email in body_of(admin_two.get(reverse("practice_clients:index") + "?export=csv"))
    expert_two = logged_in(two["expert"].user, TWO)
    assert two["appointment"].code in expert_two.get(reverse("appointments:index")).content.decode()
    # Filters offer the practice's own experts only.
    body = admin_two.get(reverse("appointments:index")).content.decode()
    assert two["expert"].name in body and one["expert"].name not in body
    # Search and choosers find the practice's own (and everything for the owner).
    assert one["expert"].name in owner.get(reverse("wagtailadmin_pages:search") + "?q=PersonOne").content.decode()
    chooser = admin_two.get(reverse("wagtailsnippetchoosers_payments_promocode:choose")).content.decode()
    assert two["promo"].code in chooser and one["promo"].code not in chooser
    # The explorer of practice 1's home is not theirs.
    assert refused(admin_two.get(reverse("wagtailadmin_explore", args=[one["practice"].home.pk])))
    assert admin_two.get(reverse("wagtailadmin_explore", args=[two["practice"].home.pk])).status_code == 200


def test_the_settings_site_switcher_offers_only_their_practices(world):
    two = world["two"]
    edit = reverse("wagtailsettings:edit", args=["site_core", "practicesettings", two["practice"].site.pk])
    body = logged_in(two["admin"], TWO).get(edit).content.decode()
    assert "Cabinet Deux" in body and "Cabinet Un" not in body
    owner_body = logged_in(world["owner"], ONE).get(edit).content.decode()
    assert "Cabinet Un" in owner_body and "Cabinet Deux" in owner_body


# --- API endpoints and signed links -------------------------------------------------------

def api_paths():
    from site_core.api import api

    return [(path, ops) for path, ops in api.get_openapi_schema()["paths"].items()]


def test_api_and_signed_links_refuse_practice_one_objects_on_practice_two(world):
    one, two = world["one"], world["two"]
    values = {"slug": one["page"].slug, "code": one["appointment"].code}
    unfilled, checked = [], 0
    callers = {**staff_of_two(world), "client": logged_in(two["client"], TWO)}
    for path, operations in api_paths():
        params = [part[1:-1] for part in path.split("/") if part.startswith("{")]
        if not params:
            continue
        if any(p not in values for p in params):
            unfilled.append(path)
            continue
        url = path.format(**values)
        for method in operations:
            query = {}
            if url.endswith("/slots"):
                query = {"mode": "chat", "product": "long"}
            for role, http in callers.items():
                response = getattr(http, method)(url, query) if method == "get" else http.generic(
                    method.upper(), url, "{}", content_type="application/json")
                checked += 1
                assert response.status_code == 404, (role, method, url, response.status_code)
                assert one["client"].email not in response.content.decode()
    assert not unfilled, f"API paths with parameters the sweep does not fill: {unfilled}"
    assert checked

    # Booking pages and signed links of practice 1, on practice 2's address.
    from modules.booking import notifications
    from modules.booking import services as booking_services

    links = [reverse("booking:answer", args=[one["answer_token"]]),
             reverse("booking:feed", args=[notifications.feed_token(one["expert"], booking_services.calendar_feed_key(one["expert"]))]),
             reverse("booking:done", args=[one["appointment"].code]),
             reverse("booking:cancel", args=[one["appointment"].code]),
             reverse("booking:reschedule", args=[one["appointment"].code]),
             reverse("booking:ics", args=[one["appointment"].code]),
             reverse("payments:checkout", args=[one["order"].public_id]),
             reverse("payments:paid", args=[one["order"].public_id])]
    for role, http in {**callers, "client one": logged_in(one["client"], TWO)}.items():
        for link in links:
            response = http.get(link)
            assert response.status_code == 404, (role, link, response.status_code)
            assert one["client"].email not in response.content.decode()
    # On its own address the expert's link works.
    assert Client(HTTP_HOST=ONE).get(reverse("booking:answer", args=[one["answer_token"]])).status_code == 200
    feed = Client(HTTP_HOST=ONE).get(reverse("booking:feed", args=[notifications.feed_token(one["expert"], booking_services.calendar_feed_key(one["expert"]))]))
    assert feed.status_code == 200 and one["appointment"].code in feed.content.decode()
    # And the API answers practice 2's own objects.
    own = logged_in(two["client"], TWO).get(f"/api/v1/bookings/{two['appointment'].code}")
    assert own.status_code == 200
