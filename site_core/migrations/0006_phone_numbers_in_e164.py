"""Existing phone numbers (users, the practice's contact phone) rewritten in E.164, national
numbers read in the practice's country. What cannot be read is kept as typed and listed."""

from django.db import migrations


def _default_country(apps):
    Site = apps.get_model("wagtailcore", "Site")
    PracticeSettings = apps.get_model("site_core", "PracticeSettings")
    site = Site.objects.filter(is_default_site=True).first()
    practice = PracticeSettings.objects.filter(site=site).first() if site else None
    return practice.country if practice else "FR"


def forwards(apps, schema_editor):
    from site_core.base.phones import convert_stored

    default = _default_country(apps)
    failures = convert_stored(apps.get_model("site_core", "PracticeSettings").objects.all(), "contact_phone",
                              lambda row: row.country, report=lambda line: None)
    failures += convert_stored(apps.get_model("site_core", "User")._default_manager.all(), "phone",
                               lambda row: default, report=lambda line: None)
    if failures:
        print(f"\n  Phone numbers that could not be read ({len(failures)}), kept as they were:")
        for line in failures:
            print(f"    {line}")


class Migration(migrations.Migration):
    dependencies = [
        ("site_core", "0005_practicesettings_country_and_more"),
        ("wagtailcore", "0001_initial"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
