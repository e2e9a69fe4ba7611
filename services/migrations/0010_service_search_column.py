"""The word search's haystack as one stored column, `search` = UPPER(slug || ' ' || name || ' ' ||
description), kept by the database (a generated column: no code path can forget it).

Measured on the generated organisation (10,000 services, PostgreSQL): for the words people search
for, which are in many names, the planner rightly scans the table, and the three `UPPER(col) LIKE`
tests of each row cost ~22 ms for the COUNT; one LIKE on the stored column costs ~6 ms. On PostgreSQL
the three trigram indexes of 0009 give way to one on this column (rare words still use it)."""

import django.db.models.functions.text
from django.db import migrations, models

OLD_COLUMNS = ("slug", "name", "description")
INDEX = "service_search_trgm_idx"


def _has_pg_trgm(schema_editor) -> bool:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
        return cursor.fetchone() is not None


def _table(apps, schema_editor) -> str:
    return schema_editor.quote_name(apps.get_model("services", "Service")._meta.db_table)


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for column in OLD_COLUMNS:
        schema_editor.execute(f"DROP INDEX IF EXISTS service_{column}_trgm_idx")
    if not _has_pg_trgm(schema_editor):
        return  # 0009 said so: the search scans
    schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {INDEX} ON {_table(apps, schema_editor)} "
                          "USING gin (search gin_trgm_ops)")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")
    if not _has_pg_trgm(schema_editor):
        return
    for column in OLD_COLUMNS:
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS service_{column}_trgm_idx ON {_table(apps, schema_editor)} "
                              f"USING gin (UPPER({schema_editor.quote_name(column)}::text) gin_trgm_ops)")


class Migration(migrations.Migration):
    dependencies = [
        ("services", "0009_service_search_trigram"),
    ]

    operations = [
        migrations.AddField(
            model_name="service",
            name="search",
            field=models.GeneratedField(
                db_persist=True,
                expression=django.db.models.functions.text.Upper(django.db.models.functions.text.Concat(
                    "slug", models.Value(" "), "name", models.Value(" "), "description",
                    output_field=models.TextField())),
                output_field=models.TextField(),
            ),
        ),
        migrations.RunPython(forwards, backwards, elidable=False),
    ]
