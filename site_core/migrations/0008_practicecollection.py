"""Each practice gets its own collection of images and documents (site_core.PracticeCollection,
a child of the root collection named after the practice).

The data step makes the collection of every existing practice and moves nothing into it: the
images and documents already in the root stay there, the install owner's (they can move a
practice's own into its collection from the image's or document's edit form). The groups'
permissions move from the root to the practice's collection after migrations, once every
app's permissions exist (site_core.access.services.setup_all_practices, connected to
post_migrate, calls setup_practice_groups for every site, which also makes the collection of
a practice this step did not see)."""

import django.db.models.deletion
from django.db import migrations, models

# django-treebeard's materialised path (wagtail.models.Collection is an MP_Node): steps of
# four base-36 digits. Historical models have no treebeard methods, so the path is made here.
STEPLEN = 4
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _step(number):
    digits = ""
    while number:
        number, digit = divmod(number, len(ALPHABET))
        digits = ALPHABET[digit] + digits
    return digits.rjust(STEPLEN, "0")


def forwards(apps, schema_editor):
    Collection = apps.get_model("wagtailcore", "Collection")
    Site = apps.get_model("wagtailcore", "Site")
    PracticeCollection = apps.get_model("site_core", "PracticeCollection")

    root = Collection.objects.filter(depth=1).order_by("path").first()
    if root is None:  # no root collection yet: setup_practice_groups makes them later
        return
    for site in Site.objects.order_by("pk"):
        if PracticeCollection.objects.filter(site=site).exists():
            continue
        children = Collection.objects.filter(depth=root.depth + 1, path__startswith=root.path)
        name = (site.site_name or site.hostname)[:255]
        if children.filter(name=name).exists():
            name = f"{name} #{site.pk}"[:255]
        last = children.order_by("-path").values_list("path", flat=True).first()
        number = int(last[-STEPLEN:], len(ALPHABET)) + 1 if last else 1
        # Appended after the root's last child (treebeard would have sorted it by name: only
        # the order in the owner's list of collections differs).
        collection = Collection.objects.create(name=name, path=root.path + _step(number),
                                               depth=root.depth + 1, numchild=0)
        root.numchild = children.count()
        root.save(update_fields=["numchild"])
        PracticeCollection.objects.create(site=site, collection=collection)


class Migration(migrations.Migration):

    dependencies = [
        ("site_core", "0007_outbox"),
        ("wagtailcore", "0098_apitoken"),
    ]

    operations = [
        migrations.CreateModel(
            name="PracticeCollection",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("collection", models.OneToOneField(on_delete=django.db.models.deletion.CASCADE,
                                                    related_name="practice", to="wagtailcore.collection",
                                                    verbose_name="collection")),
                ("site", models.OneToOneField(on_delete=django.db.models.deletion.CASCADE,
                                              related_name="practice_collection", to="wagtailcore.site",
                                              verbose_name="practice")),
            ],
            options={
                "verbose_name": "practice collection",
                "verbose_name_plural": "practice collections",
            },
        ),
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]
