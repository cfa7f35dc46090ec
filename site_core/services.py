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
    from site_core.hooks import REGISTER_EXPERT_PERMISSIONS, all_hooks

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
    if created:
        from wagtail.models import Collection

        root = Collection.get_first_root_node()
        for codename in ("add_image", "choose_image"):
            GroupCollectionPermission.objects.get_or_create(
                group=group,
                collection=root,
                permission=Permission.objects.get(
                    content_type__app_label="wagtailimages", codename=codename
                ),
            )
    return group


@transaction.atomic
def create_expert(*, name, user=None, time_zone="Europe/Paris"):
    from site_core.models import Expert

    expert = Expert.objects.create(name=name, user=user, time_zone=time_zone)
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
    sync_expert_access(expert)
    transaction.on_commit(lambda: events.expert_linked.send(sender=type(expert), expert=expert, user=user))
    return expert


@transaction.atomic
def sync_expert_access(expert):
    """Let the expert's user edit and publish their own pages, in every language, and nothing else.

    Idempotent: called whenever an expert or one of their pages is saved.
    """
    from site_core.models import ExpertPage

    if expert.editors_id is None:
        group, _ = Group.objects.get_or_create(name=f"Expert: {expert.name} #{expert.pk}")
        expert.editors = group
        expert.save(update_fields=["editors"])
    group = expert.editors
    page_ids = set(ExpertPage.objects.filter(expert=expert).values_list("pk", flat=True))
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
    if expert.user is not None:
        expert.user.groups.add(group, experts_group())
    return group
