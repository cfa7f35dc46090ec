"""Existing phone numbers (appointments, experts' alert phones) rewritten in E.164, national
numbers read in the practice's country. What cannot be read is kept as typed and listed."""

from django.db import migrations


def forwards(apps, schema_editor):
    from site_core.base.phones import convert_stored

    Site = apps.get_model("wagtailcore", "Site")
    countries = {row.site_id: row.country for row in apps.get_model("site_core", "PracticeSettings").objects.all()}
    default_site = Site.objects.filter(is_default_site=True).first()
    default = countries.get(default_site.pk if default_site else None, "FR")
    failures = convert_stored(apps.get_model("booking", "Appointment").objects.all(), "phone",
                              lambda row: countries.get(row.site_id, default), report=lambda line: None)
    failures += convert_stored(apps.get_model("booking", "BookingProfile").objects.all(), "alert_phone",
                               lambda row: default, report=lambda line: None)
    if failures:
        print(f"\n  Phone numbers that could not be read ({len(failures)}), kept as they were:")
        for line in failures:
            print(f"    {line}")


class Migration(migrations.Migration):
    dependencies = [
        ("booking", "0011_alter_appointment_phone_and_more"),
        ("site_core", "0006_phone_numbers_in_e164"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
