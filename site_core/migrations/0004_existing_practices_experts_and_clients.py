"""Existing practices are set up as practices: each site gets its administrators' and experts'
groups (site_core.PracticeGroup), each expert the practice their pages are in (and their login
that practice's experts group), and each person who ordered on a practice's site becomes its
client. The groups' permissions are granted after migrations, once every app's permissions
exist (site_core.access.services.setup_all_practices, connected to post_migrate); the existing
superusers stay install owners."""

from django.db import migrations


def _group_name(site, role):
    label = "Practice administrators" if role == "admins" else "Practice experts"
    return f"{label}: {site.site_name or site.hostname} #{site.pk}"[:150]


def forwards(apps, schema_editor):
    Site = apps.get_model("wagtailcore", "Site")
    Page = apps.get_model("wagtailcore", "Page")
    Group = apps.get_model("auth", "Group")
    Expert = apps.get_model("site_core", "Expert")
    ExpertPage = apps.get_model("site_core", "ExpertPage")
    PracticeGroup = apps.get_model("site_core", "PracticeGroup")
    ClientMembership = apps.get_model("site_core", "ClientMembership")
    Order = apps.get_model("payments", "Order")

    for site in Site.objects.select_related("root_page"):
        groups = {}
        for role in ("admins", "experts"):
            row = PracticeGroup.objects.filter(site=site, role=role).first()
            if row is None:
                group, _ = Group.objects.get_or_create(name=_group_name(site, role))
                row = PracticeGroup.objects.create(site=site, role=role, group=group)
            groups[role] = row.group_id
        roots = Page.objects.filter(translation_key=site.root_page.translation_key).values_list("path", flat=True)
        for path in roots:
            expert_ids = (ExpertPage.objects.filter(path__startswith=path, expert__isnull=False)
                          .values_list("expert_id", flat=True))
            Expert.objects.filter(pk__in=list(expert_ids), site__isnull=True).update(site=site)
        experts_group = Group.objects.get(pk=groups["experts"])
        for expert in Expert.objects.filter(site=site, user__isnull=False).select_related("user"):
            expert.user.groups.add(experts_group)

    pairs = set(Order.objects.filter(client__isnull=False).values_list("site_id", "client_id"))
    ClientMembership.objects.bulk_create(
        [ClientMembership(site_id=site_id, user_id=user_id, source="import") for site_id, user_id in pairs],
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):

    dependencies = [
        ("site_core", "0003_practice_groups_and_client_memberships"),
        ("payments", "0001_initial"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
