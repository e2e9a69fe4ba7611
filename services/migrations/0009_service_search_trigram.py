"""Trigram indexes for the catalog's word search on PostgreSQL (services.api.filters, `?q=`).

The search is `icontains` on slug, name and description — `UPPER(col) LIKE UPPER('%word%')` on
PostgreSQL, which no B-tree index serves: on 10,000 services each search scanned the table twice (the
count and the page), ~24 ms each. A GIN trigram index on each UPPER(col) answers the same condition in
~1.7 ms (measured; words of one or two letters still scan). SQLite has no such index: nothing is done.

pg_trgm is a trusted extension (PostgreSQL 13+): a database owner may create it. Where it cannot be
created (an older server, or a role without the right), the search stays correct and slower; the
migration says so rather than failing a deployment."""

from django.db import migrations, transaction

COLUMNS = ("slug", "name", "description")


def index_name(column: str) -> str:
    return f"service_{column}_trgm_idx"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except Exception as error:  # noqa: BLE001 - any refusal: the search works without the indexes
        print(f"\n  pg_trgm could not be created ({error}); the catalog's word search will scan the table.")
        return
    table = schema_editor.quote_name(apps.get_model("services", "Service")._meta.db_table)
    for column in COLUMNS:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {index_name(column)} ON {table} "
            f"USING gin (UPPER({schema_editor.quote_name(column)}::text) gin_trgm_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for column in COLUMNS:
        schema_editor.execute(f"DROP INDEX IF EXISTS {index_name(column)}")


class Migration(migrations.Migration):
    dependencies = [
        ("services", "0008_host_write_slot"),
    ]

    operations = [migrations.RunPython(create, drop, elidable=False)]
