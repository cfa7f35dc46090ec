"""Each practice's images and documents in its own collection (issue A5: one practice's staff
never see another's).

setup_practice_groups gives every practice a collection (a child of the root) and grants its
administrators (add, change, choose, delete) and experts (add and choose images) permissions
on that collection only; Wagtail's collection permission policy then keeps the listings,
search, choosers, usage, multiple upload and the upload forms' collection field to it. These
tests check that, as a practice-2 administrator and a practice-2 expert, against practice 1's
image and document; and the positive controls (practice 1's administrator, the install owner).
"""

from __future__ import annotations

import html
import json

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse
from wagtail.documents import get_document_model
from wagtail.images import get_image_model
from wagtail.models import Collection, GroupCollectionPermission

from site_core.access.services import (
    EXPERTS_GROUP,
    add_practice_admin,
    practice_collection,
    setup_practice_groups,
)
from site_core.practice.models import PracticeCollection
from tests.conftest import build_practice, image_file, make_document, make_image

ONE, TWO = "one.test", "two.test"
Image = get_image_model()
Document = get_document_model()


def refused(response):
    """403, 404, or Wagtail's redirect to the dashboard (or login) on PermissionDenied."""
    if response.status_code in (403, 404):
        return True
    return response.status_code == 302 and response["Location"].split("?")[0] in (
        reverse("wagtailadmin_home"), reverse("wagtailadmin_login"))


def logged_in(user, host):
    http = Client(HTTP_HOST=host)
    http.force_login(user)
    return http


@pytest.fixture
def media(db, make_user, make_expert):
    """Two practices, each with an administrator, an expert, an image and a document in its
    collection; the install owner with an image in the root."""
    from wagtail.models import Site

    Site.objects.all().delete()
    world = {"owner": make_user(email="owner@install.test", is_superuser=True, is_staff=True)}
    for n, (host, name, slug) in enumerate(((ONE, "Cabinet Un", "un"), (TWO, "Cabinet Deux", "deux")), 1):
        practice = build_practice(host, name=name, slug=slug, default=n == 1)
        admin = add_practice_admin(practice.site, make_user(email=f"admin-{n}@practice.test"))
        expert, page, _ = make_expert(practice, f"Expert{n} Person{n}", slug=f"expert-{n}")
        collection = practice_collection(practice.site)
        world[n] = {
            "practice": practice, "host": host, "admin": admin, "expert": expert, "page": page,
            "collection": collection,
            "image": make_image(f"Vue du cabinet {n} Wq{n}", collection, admin),
            "document": make_document(f"Tarifs du cabinet {n} Jd{n}", collection, admin),
            "expert_image": make_image(f"Photo expert {n} Yb{n}", collection, expert.user),
        }
    world["root_image"] = make_image("Logo installation Hv0", Collection.get_first_root_node(),
                                     world["owner"])
    return world


def staff_of_two(media):
    return {"administrator": logged_in(media[2]["admin"], TWO),
            "expert": logged_in(media[2]["expert"].user, TWO)}


def titles_of_one(media):
    return [media[1]["image"].title, media[1]["document"].title, media[1]["expert_image"].title,
            media["root_image"].title]


# --- The collections and the groups' permissions ------------------------------------------

def test_each_practice_has_its_own_collection_under_the_root(media):
    root = Collection.get_first_root_node()
    one, two = media[1]["collection"], media[2]["collection"]
    assert one != two
    assert one.get_parent() == root and two.get_parent() == root
    assert (one.name, two.name) == ("Cabinet Un", "Cabinet Deux")
    assert PracticeCollection.objects.get(site=media[1]["practice"].site).collection == one
    assert Collection.find_problems() == ([], [], [], [], [])


def _collection_grants(group):
    return set(GroupCollectionPermission.objects.filter(group=group)
               .values_list("collection_id", "permission__codename"))


def test_administrators_and_experts_hold_permissions_on_their_collection_only(media):
    from site_core.access import practice_admin_group, practice_experts_group

    site = media[2]["practice"].site
    collection = media[2]["collection"]
    assert _collection_grants(practice_admin_group(site)) == {
        (collection.pk, codename) for codename in (
            "add_image", "change_image", "choose_image", "delete_image",
            "add_document", "change_document", "choose_document", "delete_document")}
    assert _collection_grants(practice_experts_group(site)) == {
        (collection.pk, "add_image"), (collection.pk, "choose_image")}
    # The group every expert shares has none: it would open every practice's images.
    assert not GroupCollectionPermission.objects.filter(group__name=EXPERTS_GROUP).exists()


def test_setup_is_idempotent_and_takes_back_the_root_permissions_of_before(media):
    """An install set up before practices had collections: the administrators had add and
    choose on the root, and so had the experts' shared group."""
    from site_core.access import practice_admin_group

    site = media[2]["practice"].site
    admins = practice_admin_group(site)
    root = Collection.get_first_root_node()
    shared = Group.objects.get(name=EXPERTS_GROUP)
    for group, codename in ((admins, "add_image"), (admins, "choose_document"), (shared, "choose_image")):
        GroupCollectionPermission.objects.create(
            group=group, collection=root, permission=Permission.objects.get(codename=codename))
    before = _collection_grants(admins)
    collections = Collection.objects.count()

    setup_practice_groups(site)
    setup_practice_groups(site)

    assert not GroupCollectionPermission.objects.filter(collection=root, group__in=[admins, shared]).exists()
    assert _collection_grants(admins) == before - {(root.pk, "add_image"), (root.pk, "choose_document")}
    assert Collection.objects.count() == collections
    assert practice_collection(site) == media[2]["collection"]
    # The image in the root stays where it was, the owner's.
    assert Image.objects.get(pk=media["root_image"].pk).collection == root


def test_a_deleted_collection_is_made_again_and_a_taken_name_is_not_adopted(media):
    from wagtail.models import Site

    root = Collection.get_first_root_node()
    owners = root.add_child(instance=Collection(name="Cabinet Trois"))
    site = Site.objects.create(hostname="three.test", root_page=media[1]["practice"].home,
                               site_name="Cabinet Trois")
    collection = practice_collection(site)
    assert collection != owners and collection.name == f"Cabinet Trois #{site.pk}"

    PracticeCollection.objects.filter(site=site).delete()
    collection.delete()
    setup_practice_groups(site)
    assert practice_collection(site).pk not in (collection.pk, owners.pk)
    assert Collection.find_problems() == ([], [], [], [], [])


def test_the_migration_makes_the_collection_of_existing_practices(media):
    """site_core 0008's data step, run on an install whose practices had no collection."""
    import importlib

    from django.apps import apps

    migration = importlib.import_module("site_core.migrations.0008_practicecollection")
    PracticeCollection.objects.all().delete()
    before = set(Collection.objects.values_list("pk", flat=True))

    migration.forwards(apps, None)
    migration.forwards(apps, None)  # and again: nothing more

    made = Collection.objects.exclude(pk__in=before)
    # Their names are taken (by the collections PracticeCollection forgot here): numbered.
    assert sorted(made.values_list("name", flat=True)) == [f"Cabinet Deux #{media[2]['practice'].site.pk}",
                                                           f"Cabinet Un #{media[1]['practice'].site.pk}"]
    assert PracticeCollection.objects.count() == 2
    assert Collection.find_problems() == ([], [], [], [], [])
    root = Collection.get_first_root_node()
    assert all(c.get_parent() == root for c in made)
    # Nothing moved into them.
    assert not Image.objects.filter(collection__in=made).exists()
    # Then setup_practice_groups (post_migrate) moves the permissions there.
    for n in (1, 2):
        setup_practice_groups(media[n]["practice"].site)
    practice_groups = Group.objects.filter(practice_role__isnull=False)
    assert set(GroupCollectionPermission.objects.filter(group__in=practice_groups)
               .values_list("collection_id", flat=True)) == set(made.values_list("pk", flat=True))


# --- Practice 2's staff and practice 1's images and documents ------------------------------

def object_urls(data):
    image, document, expert_image = data["image"], data["document"], data["expert_image"]
    urls = []
    for obj in (image, expert_image):
        urls += [reverse("wagtailimages:edit", args=[obj.pk]), reverse("wagtailimages:delete", args=[obj.pk]),
                 reverse("wagtailimages:image_usage", args=[obj.pk]),
                 reverse("wagtailimages:url_generator", args=[obj.pk]),
                 reverse("wagtailimages:preview", args=[obj.pk, "fill-80x80"]),
                 reverse("wagtailimages_chooser:chosen", args=[obj.pk]),
                 reverse("wagtailimages_chooser:select_format", args=[obj.pk]),
                 reverse("wagtailadmin_api:images:detail", args=[obj.pk])]
    urls += [reverse("wagtaildocs:edit", args=[document.pk]), reverse("wagtaildocs:delete", args=[document.pk]),
             reverse("wagtaildocs:document_usage", args=[document.pk]),
             reverse("wagtaildocs_chooser:chosen", args=[document.pk]),
             reverse("wagtailadmin_api:documents:detail", args=[document.pk])]
    return urls


def test_practice_two_staff_are_refused_practice_one_images_and_documents(media):
    problems = []
    for role, http in staff_of_two(media).items():
        for url in object_urls(media[1]):
            response = http.get(url)
            if not refused(response):
                problems.append(f"{role} GET {url}: {response.status_code}")
        for url in (reverse("wagtailimages:edit", args=[media[1]["image"].pk]),
                    reverse("wagtaildocs:edit", args=[media[1]["document"].pk])):
            assert refused(http.post(url, {"title": "Pris"})), (role, url)
        for url in (reverse("wagtailimages:delete", args=[media[1]["image"].pk]),
                    reverse("wagtaildocs:delete", args=[media[1]["document"].pk]),
                    reverse("wagtailimages:delete_multiple", args=[media[1]["image"].pk])):
            assert refused(http.post(url)), (role, url)
        # The chooser's "chosen multiple" answers nothing of theirs.
        chosen = http.get(reverse("wagtailimages_chooser:chosen_multiple") + f"?id={media[1]['image'].pk}")
        assert media[1]["image"].title not in chosen.content.decode(), role
    assert not problems, "\n".join(problems)
    assert Image.objects.get(pk=media[1]["image"].pk).title == media[1]["image"].title
    assert Document.objects.filter(pk=media[1]["document"].pk).exists()


def list_urls():
    return {
        "images": reverse("wagtailimages:index"),
        "images search": reverse("wagtailimages:index") + "?q=cabinet",
        "images results": reverse("wagtailimages:index_results") + "?q=cabinet",
        "image chooser": reverse("wagtailimages_chooser:choose"),
        "image chooser search": reverse("wagtailimages_chooser:choose_results") + "?q=cabinet",
        "image chooser search (expert)": reverse("wagtailimages_chooser:choose_results") + "?q=expert",
        "documents": reverse("wagtaildocs:index"),
        "documents search": reverse("wagtaildocs:index") + "?q=cabinet",
        "document chooser": reverse("wagtaildocs_chooser:choose"),
        "document chooser search": reverse("wagtaildocs_chooser:choose_results") + "?q=cabinet",
        "images multiple upload": reverse("wagtailimages:add_multiple"),
        "documents multiple upload": reverse("wagtaildocs:add_multiple"),
        "image upload": reverse("wagtailimages:add"),
        "document upload": reverse("wagtaildocs:add"),
        "admin API images": reverse("wagtailadmin_api:images:listing"),
        "admin API images search": reverse("wagtailadmin_api:images:listing") + "?search=cabinet",
        "admin API documents": reverse("wagtailadmin_api:documents:listing"),
        "collections": reverse("wagtailadmin_collections:index"),
    }


def body(response):
    """The text a person would read: a chooser's JSON answer carries its HTML in "html"."""
    text = response.content.decode(errors="replace")
    if response.get("Content-Type", "").startswith("application/json"):
        data = json.loads(text)
        text = data["html"] if isinstance(data, dict) and "html" in data else json.dumps(data, ensure_ascii=False)
    return html.unescape(text)


def test_practice_two_staff_never_see_practice_one_media_in_lists_choosers_and_uploads(media):
    leaks, shown = [], {}
    names_of_one = titles_of_one(media) + ["Cabinet Un", f'value="{media[1]["collection"].pk}"']
    for role, http in staff_of_two(media).items():
        for name, url in list_urls().items():
            response = http.get(url)
            if response.status_code == 200:
                shown.setdefault(role, set()).add(name)
            for marker in names_of_one:
                if marker in body(response):
                    leaks.append(f"{role} {name} ({url}) shows {marker!r}")
    assert not leaks, "\n".join(leaks)
    # Real answers: the administrator's lists, choosers and upload forms open...
    assert shown["administrator"] >= set(list_urls()) - {"collections"}
    # ... and the expert's image chooser (and upload); no documents (no permission there: the
    # listing is refused, Wagtail's document chooser opens empty).
    assert {"image chooser", "image chooser search", "images multiple upload", "image upload"} <= shown["expert"]
    assert "documents" not in shown["expert"]
    expert = staff_of_two(media)["expert"]
    assert media[2]["document"].title not in body(expert.get(reverse("wagtaildocs_chooser:choose")))


def test_they_see_their_own_practice_media(media):
    admin, expert = staff_of_two(media).values()
    two = media[2]
    for name in ("images", "image chooser", "admin API images"):
        page = body(admin.get(list_urls()[name]))
        assert two["image"].title in page and two["expert_image"].title in page, name
    for name in ("documents", "document chooser"):
        assert two["document"].title in body(admin.get(list_urls()[name])), name
    search = body(admin.get(reverse("wagtailimages_chooser:choose_results") + "?q=cabinet"))
    assert two["image"].title in search
    chooser = body(expert.get(reverse("wagtailimages_chooser:choose")))
    assert two["image"].title in chooser and two["expert_image"].title in chooser
    # The administrator edits every image of the practice; the expert their own upload only.
    assert admin.get(reverse("wagtailimages:edit", args=[two["expert_image"].pk])).status_code == 200
    assert expert.get(reverse("wagtailimages:edit", args=[two["expert_image"].pk])).status_code == 200
    assert refused(expert.get(reverse("wagtailimages:edit", args=[two["image"].pk])))
    # And the expert's page editor opens, its image chooser with it.
    assert expert.get(reverse("wagtailadmin_pages:edit", args=[two["page"].pk])).status_code == 200


def test_practice_one_administrator_edits_theirs_and_the_owner_sees_both(media):
    one = media[1]
    admin = logged_in(one["admin"], ONE)
    for url in (reverse("wagtailimages:edit", args=[one["expert_image"].pk]),
                reverse("wagtailimages:image_usage", args=[one["image"].pk]),
                reverse("wagtaildocs:edit", args=[one["document"].pk])):
        assert admin.get(url).status_code == 200, url
    response = admin.post(reverse("wagtaildocs:edit", args=[one["document"].pk]), {"title": "Tarifs 2027"})
    assert response.status_code == 302, body(response)
    assert Document.objects.get(pk=one["document"].pk).title == "Tarifs 2027"
    response = admin.post(reverse("wagtailimages:delete", args=[one["expert_image"].pk]))
    assert response.status_code == 302
    assert not Image.objects.filter(pk=one["expert_image"].pk).exists()
    # The root's image is the owner's: not practice 1's either.
    assert media["root_image"].title not in body(admin.get(reverse("wagtailimages:index")))
    assert refused(admin.get(reverse("wagtailimages:edit", args=[media["root_image"].pk])))

    owner = logged_in(media["owner"], ONE)
    for url in (reverse("wagtailimages:index"), reverse("wagtailimages_chooser:choose")):
        page = body(owner.get(url))
        for title in (one["image"].title, media[2]["image"].title, media["root_image"].title):
            assert title in page, (url, title)
    docs = body(owner.get(reverse("wagtaildocs_chooser:choose")))
    assert "Tarifs 2027" in docs and media[2]["document"].title in docs
    # The owner chooses among the collections when uploading.
    upload = body(owner.get(reverse("wagtailimages:add_multiple")))
    assert "Cabinet Un" in upload and "Cabinet Deux" in upload


# --- Uploads go into the practice's collection --------------------------------------------

def test_uploads_of_practice_two_staff_go_into_their_collection(media):
    admin, expert = staff_of_two(media).values()
    collection = media[2]["collection"]
    response = admin.post(reverse("wagtailimages:add"), {"title": "Salle d'attente", "file": image_file("a.png")})
    assert response.status_code == 302, body(response)
    assert Image.objects.get(title="Salle d'attente").collection == collection

    response = admin.post(reverse("wagtailimages:add_multiple"), {"files[]": image_file("b.png")},
                          HTTP_X_REQUESTED_WITH="XMLHttpRequest")
    assert json.loads(response.content)["success"], body(response)
    assert Image.objects.get(title="b.png").collection == collection

    from django.core.files.uploadedfile import SimpleUploadedFile

    response = admin.post(reverse("wagtaildocs:add"), {
        "title": "Conditions", "file": SimpleUploadedFile("c.txt", b"conditions", content_type="text/plain")})
    assert response.status_code == 302, body(response)
    assert Document.objects.get(title="Conditions").collection == collection

    # The expert, from the image chooser's upload form (the page editor's), and with a
    # collection of practice 1 forced into the form: into practice 2's all the same, or refused.
    response = expert.post(reverse("wagtailimages_chooser:create"),
                           {"image-chooser-upload-title": "Portrait neuf",
                            "image-chooser-upload-file": image_file("d.png")})
    assert response.status_code == 200, body(response)
    assert Image.objects.get(title="Portrait neuf").collection == collection
    expert.post(reverse("wagtailimages:add"), {"title": "Forcé", "file": image_file("e.png"),
                                              "collection": media[1]["collection"].pk})
    assert not Image.objects.filter(title="Forcé").exclude(collection=collection).exists()


def test_a_sub_collection_of_practice_one_is_never_offered_to_practice_two(media):
    sub = media[1]["collection"].add_child(instance=Collection(name="Archives Un"))
    make_image("Archive Un Pz1", sub, media[1]["admin"])
    own_sub = media[2]["collection"].add_child(instance=Collection(name="Archives Deux"))
    admin = logged_in(media[2]["admin"], TWO)
    for url in (reverse("wagtailimages:add_multiple"), reverse("wagtailimages:add"),
                reverse("wagtailimages:index"), reverse("wagtailimages_chooser:choose")):
        page = body(admin.get(url))
        assert "Archives Un" not in page and "Archive Un Pz1" not in page, url
    # Their own sub-collection is theirs: offered on upload.
    assert "Archives Deux" in body(admin.get(reverse("wagtailimages:add_multiple")))
    assert own_sub.get_parent() == media[2]["collection"]
    # Practice 1's administrator sees the archive (a child of their collection).
    assert "Archive Un Pz1" in body(logged_in(media[1]["admin"], ONE).get(reverse("wagtailimages:index")))
