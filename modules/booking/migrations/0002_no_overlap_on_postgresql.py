"""No two live appointments of one expert overlap: an exclusion constraint on PostgreSQL.

SQLite has no exclusion constraints; there, site writes are serialised
(transaction_mode IMMEDIATE) and the booking service checks for an overlap
inside its transaction. The constraint is not declared on the model so that
the same model serves both databases.
"""

from django.db import migrations

CREATE = """
CREATE EXTENSION IF NOT EXISTS btree_gist;
ALTER TABLE booking_appointment
  ADD CONSTRAINT booking_appointment_no_overlap
  EXCLUDE USING gist (expert_id WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&)
  WHERE (state IN ('held', 'requested', 'confirmed'));
"""
DROP = "ALTER TABLE booking_appointment DROP CONSTRAINT IF EXISTS booking_appointment_no_overlap;"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("booking", "0001_initial")]
    operations = [migrations.RunPython(create, drop)]
