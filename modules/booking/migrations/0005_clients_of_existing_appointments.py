"""Whoever booked on a practice's site is its client (site_core.ClientMembership)."""

from django.db import migrations


def forwards(apps, schema_editor):
    Appointment = apps.get_model("booking", "Appointment")
    ClientMembership = apps.get_model("site_core", "ClientMembership")

    pairs = set(Appointment.objects.values_list("site_id", "client_id"))
    ClientMembership.objects.bulk_create(
        [ClientMembership(site_id=site_id, user_id=user_id, source="import") for site_id, user_id in pairs],
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):

    dependencies = [
        ("booking", "0004_calendar_feed_key"),
        ("site_core", "0003_practice_groups_and_client_memberships"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
