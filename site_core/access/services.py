"""State changes of the kernel. Views, admin views and commands call these."""

import logging

from django.contrib.auth.models import Group, Permission
from django.db import transaction
from wagtail.models import GroupCollectionPermission, GroupPagePermission

from site_core import events

logger = logging.getLogger(__name__)

EXPERTS_GROUP = "Experts"
EXPERT_PAGE_PERMISSIONS = ("change_page", "publish_page")


def experts_group():
    """The group every expert belongs to: admin access and image uploads."""
    from site_core.modules.hooks import REGISTER_EXPERT_PERMISSIONS, all_hooks

    group, created = Group.objects.get_or_create(name=EXPERTS_GROUP)
    wanted = ["wagtailadmin.access_admin"]
    for fn in all_hooks(REGISTER_EXPERT_PERMISSIONS):
        wanted.extend(fn())
    have = {f"{app}.{code}" for app, code in group.permissions.values_list("content_type__app_label", "codename")}
    for name in wanted:
        if name not in have:
            app_label, codename = name.split(".", 1)
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
    # Shared by every practice's experts: no collection permission here, or one practice's
    # experts would choose another's images. Theirs is on their practice's collection
    # (setup_practice_groups); an install set up before that had add/choose on the root.
    _drop_shared_experts_collection_permissions()
    return group


@transaction.atomic
def create_expert(*, name, user=None, time_zone="Europe/Paris", site=None):
    from site_core.practice.models import Expert

    expert = Expert.objects.create(name=name, user=user, time_zone=time_zone, site=site)
    sync_expert_access(expert)
    return expert


@transaction.atomic
def link_expert_user(expert, user):
    """Make ``user`` the login of ``expert`` (and drop the previous one's access)."""
    previous = expert.user
    expert.user = user
    expert.save(update_fields=["user"])
    if previous is not None and previous != user and expert.editors_id:
        previous.groups.remove(expert.editors)
        if not previous.groups.exclude(name=EXPERTS_GROUP).filter(name__startswith="Expert: ").exists():
            previous.groups.remove(experts_group())
        if expert.site_id:
            from site_core.access import forget, practice_experts_group

            site_group = practice_experts_group(expert.site)
            if site_group is not None:
                previous.groups.remove(site_group)
            forget(previous)
    sync_expert_access(expert)
    events.expert_linked.send(site=expert.site_id, expert_id=expert.pk, user_id=getattr(user, "pk", None),
                              previous_user_id=getattr(previous, "pk", None))
    return expert


@transaction.atomic
def sync_expert_access(expert):
    """Let the expert's user edit and publish their own pages, in every language, and nothing else.

    Idempotent: called whenever an expert or one of their pages is saved. An expert without
    a practice takes the one their pages belong to; their login joins that practice's
    experts group.
    """
    if expert.editors_id is None:
        group, _ = Group.objects.get_or_create(name=f"Expert: {expert.name} #{expert.pk}")
        expert.editors = group
        expert.save(update_fields=["editors"])
    group = expert.editors
    page_ids = set(expert.pages.values_list("pk", flat=True))  # the pages name their expert
    permissions = {
        p.codename: p
        for p in Permission.objects.filter(
            content_type__app_label="wagtailcore", codename__in=EXPERT_PAGE_PERMISSIONS
        )
    }
    GroupPagePermission.objects.filter(group=group).exclude(page_id__in=page_ids).delete()
    existing = set(
        GroupPagePermission.objects.filter(group=group).values_list("page_id", "permission__codename")
    )
    GroupPagePermission.objects.bulk_create(
        [
            GroupPagePermission(group=group, page_id=page_id, permission=permissions[codename])
            for page_id in page_ids
            for codename in EXPERT_PAGE_PERMISSIONS
            if (page_id, codename) not in existing
        ]
    )
    if expert.site_id is None:
        page = expert.pages.order_by("pk").first()
        site = page.get_site() if page is not None else None
        if site is not None:
            expert.site = site
            expert.save(update_fields=["site"])
    if expert.user is not None:
        expert.user.groups.add(group, experts_group())
        if expert.site_id:
            from site_core.access import EXPERTS, forget

            expert.user.groups.add(_practice_group(expert.site, EXPERTS))
            forget(expert.user)
    return group


# --- Practices: their staff groups and their clients ---------------------------------------

PRACTICE_PAGE_PERMISSIONS = ("add_page", "bulk_delete_page", "change_page", "lock_page", "publish_page",
                             "unlock_page")
# On the practice's own collection (site_core.PracticeCollection, a child of the root) and
# nowhere else: its administrators manage every image and document in it, its experts add
# images there and choose among them (Wagtail lets an uploader edit their own). Wagtail's
# collection permission policy then keeps listings, choosers, search, usage and upload forms
# to that collection. Nothing is granted on the root: what sits there is the install owner's.
PRACTICE_COLLECTION_PERMISSIONS = (
    ("wagtailimages", ("add_image", "change_image", "choose_image", "delete_image")),
    ("wagtaildocs", ("add_document", "change_document", "choose_document", "delete_document")),
)
EXPERT_COLLECTION_PERMISSIONS = (
    ("wagtailimages", ("add_image", "choose_image")),
)
# Kernel models a practice administrator manages; the rest of the kernel (accounts, the
# practice groups themselves) stays the install owner's.
PRACTICE_KERNEL_MODELS = ("expert", "clientmembership")


def _site_setting_models():
    from wagtail.contrib.settings.models import BaseSiteSetting
    from wagtail.contrib.settings.registry import registry

    return [model for model in registry if issubclass(model, BaseSiteSetting)]


def practice_admin_permissions():
    """Model permissions of every practice's administrators group: the admin, the kernel's
    practice models, payments and every installed module's models (site settings excluded:
    those are granted per site, see setup_practice_groups). Which practice's rows they
    see is site_core.access's business."""
    from django.apps import apps
    from django.contrib.contenttypes.models import ContentType

    from site_core.modules import all_modules

    setting_types = {ContentType.objects.get_for_model(model).pk for model in _site_setting_models()}
    app_labels = ["payments"] + [module.label for module in all_modules()]
    models = [apps.get_model("site_core", name) for name in PRACTICE_KERNEL_MODELS]
    for label in app_labels:
        models.extend(apps.get_app_config(label).get_models())
    content_types = [ct.pk for ct in ContentType.objects.get_for_models(*models).values()
                     if ct.pk not in setting_types]
    return Permission.objects.filter(
        content_type_id__in=content_types
    ) | Permission.objects.filter(content_type__app_label="wagtailadmin", codename="access_admin")


def _group_name(site, role):
    from site_core.access import ADMINS

    label = "Practice administrators" if role == ADMINS else "Practice experts"
    return f"{label}: {site.site_name or site.hostname} #{site.pk}"[:150]


def _practice_group(site, role):
    from site_core.practice.models import PracticeGroup

    row = PracticeGroup.objects.filter(site=site, role=role).select_related("group").first()
    if row is None:
        group, _ = Group.objects.get_or_create(name=_group_name(site, role))
        row = PracticeGroup.objects.create(site=site, role=role, group=group)
    return row.group


@transaction.atomic
def setup_practice_groups(site):
    """Create, or bring up to date, the practice's two groups and its collection: its
    administrators (the admin, every practice model, the site's settings, pages of its tree
    in every language, the images and documents of the practice's collection) and its
    experts (adding and choosing images in the practice's collection; the rest of what
    experts may do is the shared "Experts" group). Idempotent: run when a practice's site is
    saved, after migrations and by the demo."""
    from wagtail.models import GroupSitePermission, Page

    from site_core.access import ADMINS, EXPERTS
    from site_core.practice.models import User

    admins = _practice_group(site, ADMINS)
    experts = _practice_group(site, EXPERTS)
    admins.permissions.add(*practice_admin_permissions())
    experts.user_set.add(*User.objects.filter(expert__site=site).exclude(groups=experts))

    for model in _site_setting_models():
        permission = Permission.objects.filter(content_type__app_label=model._meta.app_label,
                                               codename=f"change_{model._meta.model_name}").first()
        if permission is None:  # during migrations, before that app's permissions exist
            continue
        GroupSitePermission.objects.get_or_create(group=admins, site=site, permission=permission)

    roots = set(Page.objects.filter(translation_key=site.root_page.translation_key).values_list("pk", flat=True))
    page_permissions = list(Permission.objects.filter(content_type__app_label="wagtailcore",
                                                      codename__in=PRACTICE_PAGE_PERMISSIONS))
    # The site's root moved (or a translation was removed): the old tree is no longer theirs.
    GroupPagePermission.objects.filter(group=admins).exclude(page_id__in=roots).delete()
    existing = set(GroupPagePermission.objects.filter(group=admins).values_list("page_id", "permission_id"))
    GroupPagePermission.objects.bulk_create([
        GroupPagePermission(group=admins, page_id=page_id, permission=permission)
        for page_id in roots for permission in page_permissions
        if (page_id, permission.pk) not in existing
    ])

    collection = practice_collection(site)
    _grant_collection_permissions(admins, collection, PRACTICE_COLLECTION_PERMISSIONS)
    _grant_collection_permissions(experts, collection, EXPERT_COLLECTION_PERMISSIONS)
    _drop_shared_experts_collection_permissions()
    return admins


def _collection_name(site):
    return (site.site_name or site.hostname)[:255]


@transaction.atomic
def practice_collection(site):
    """The practice's collection of images and documents: a child of the root collection
    named after the practice, made on first call (and again if it was deleted). None while
    there is no root collection (during migrations, before Wagtail's)."""
    from wagtail.models import Collection

    from site_core.practice.models import PracticeCollection

    row = PracticeCollection.objects.filter(site=site).select_related("collection").first()
    if row is not None:
        return row.collection
    root = Collection.get_first_root_node()
    if root is None:
        return None
    # Two practices made at once would take the same place in the tree: one at a time.
    root = Collection.objects.select_for_update().get(pk=root.pk)
    row = PracticeCollection.objects.filter(site=site).select_related("collection").first()
    if row is not None:
        return row.collection
    name = _collection_name(site)
    # A collection the install owner made under that name is not the practice's to take.
    if root.get_children().filter(name=name).exists():
        name = f"{name} #{site.pk}"[:255]
    collection = root.add_child(instance=Collection(name=name))
    PracticeCollection.objects.create(site=site, collection=collection)
    return collection


def _grant_collection_permissions(group, collection, grants):
    """``group`` holds exactly ``grants`` on ``collection`` (and its children), and no
    collection permission anywhere else (the root's, from before practices had collections,
    are dropped)."""
    if collection is None:
        return
    wanted = [permission.pk for app_label, codenames in grants
              for permission in Permission.objects.filter(content_type__app_label=app_label,
                                                          codename__in=codenames)]
    GroupCollectionPermission.objects.filter(group=group).exclude(
        collection=collection, permission_id__in=wanted).delete()
    existing = set(GroupCollectionPermission.objects.filter(group=group).values_list("permission_id", flat=True))
    GroupCollectionPermission.objects.bulk_create([
        GroupCollectionPermission(group=group, collection=collection, permission_id=permission_id)
        for permission_id in wanted if permission_id not in existing
    ])


def _drop_shared_experts_collection_permissions():
    GroupCollectionPermission.objects.filter(group__name=EXPERTS_GROUP).delete()


def setup_all_practices(sender=None, **kwargs):
    """post_migrate: every practice's groups, with the permissions of modules added since.
    Runs once, after the last app's post_migrate (when every permission exists)."""
    from django.apps import apps
    from wagtail.models import Site

    # post_migrate is sent for each app that has a models module, the last one last.
    last = [config for config in apps.get_app_configs() if config.models_module is not None][-1]
    if sender is not None and sender is not last:
        return
    for site in Site.objects.select_related("root_page"):
        setup_practice_groups(site)


@transaction.atomic
def add_practice_admin(site, user):
    """Make ``user`` an administrator of the practice ``site`` (not a superuser)."""
    from site_core import access

    group = setup_practice_groups(site)
    user.groups.add(group)
    access.forget(user)
    return user


@transaction.atomic
def remove_practice_admin(site, user):
    from site_core import access

    group = access.practice_admin_group(site)
    if group is not None:
        user.groups.remove(group)
    access.forget(user)
    return user


@transaction.atomic
def add_client_membership(user, site, *, source="signup"):
    """``user`` is a client of the practice ``site`` from now on (idempotent): made when they
    sign up, book or are invited there. Staff of the practice see its members only."""
    from site_core.practice.models import ClientMembership

    if user is None or site is None or not user.pk:
        return None
    membership, _ = ClientMembership.objects.get_or_create(site=site, user=user, defaults={"source": source})
    return membership
