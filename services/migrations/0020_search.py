"""The search index (services.catalog.search_index): the SearchEntry table, its full-text structures,
and the triggers that keep it.

SQLite: an FTS5 table over `names` and `body` whose content is SearchEntry (external content, kept by
three triggers on SearchEntry), unicode61 without diacritics, with prefix indexes of 2 and 3 characters
(search as you type); and an fts5vocab table over it, the words the typo search picks from.

PostgreSQL: a stored tsvector `document` (names weighted A, body B; the 'simple' configuration, no
stemming, so prefixes behave as typed; punctuation made spaces first so `team-42` is `team` and `42`,
as FTS5 reads it) with a GIN index; and services_searchword, the words of the names, filled by a
trigger on SearchEntry (the typo search's vocabulary, as fts5vocab is on SQLite). Words are only added:
one no longer in any name costs a lookup that finds nothing, never a wrong result.

The triggers on the catalog's tables are installed from the registry by sync_triggers, here and after
every `migrate` (services.apps), so a kind added to the registry needs no migration of its own."""

from django.db import migrations, models

FTS_TRIGGERS = (
    "CREATE TRIGGER searchentry_fts_ai AFTER INSERT ON services_searchentry BEGIN "
    "INSERT INTO services_searchentry_fts (rowid, names, body) VALUES (new.id, new.names, new.body); END",
    "CREATE TRIGGER searchentry_fts_ad AFTER DELETE ON services_searchentry BEGIN "
    "INSERT INTO services_searchentry_fts (services_searchentry_fts, rowid, names, body) "
    "VALUES ('delete', old.id, old.names, old.body); END",
    "CREATE TRIGGER searchentry_fts_au AFTER UPDATE ON services_searchentry BEGIN "
    "INSERT INTO services_searchentry_fts (services_searchentry_fts, rowid, names, body) "
    "VALUES ('delete', old.id, old.names, old.body); "
    "INSERT INTO services_searchentry_fts (rowid, names, body) VALUES (new.id, new.names, new.body); END",
)
PG_DOCUMENT = (
    "ALTER TABLE services_searchentry ADD COLUMN document tsvector GENERATED ALWAYS AS ("
    "setweight(to_tsvector('simple'::regconfig, regexp_replace(names, '[^[:alnum:]]+', ' ', 'g')), 'A') || "
    "setweight(to_tsvector('simple'::regconfig, regexp_replace(body, '[^[:alnum:]]+', ' ', 'g')), 'B')) STORED"
)

PG_WORDS = (
    'CREATE TABLE services_searchword (word text COLLATE "C" PRIMARY KEY)',
    "CREATE FUNCTION searchentry_words_fn() RETURNS trigger LANGUAGE plpgsql AS $words$ BEGIN "
    "INSERT INTO services_searchword (word) SELECT DISTINCT lexeme FROM unnest(tsvector_to_array(to_tsvector("
    "'simple'::regconfig, regexp_replace(NEW.names, '[^[:alnum:]]+', ' ', 'g')))) AS lexeme "
    "WHERE length(lexeme) <= 60 ON CONFLICT DO NOTHING; RETURN NULL; END $words$",
    "CREATE TRIGGER searchentry_words AFTER INSERT ON services_searchentry FOR EACH ROW "
    "EXECUTE FUNCTION searchentry_words_fn()",
)


def forwards(apps, schema_editor):
    from services.catalog.search_index import sync_triggers

    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        schema_editor.execute(
            "CREATE VIRTUAL TABLE services_searchentry_fts USING fts5(names, body, content='services_searchentry', "
            "content_rowid='id', tokenize='unicode61 remove_diacritics 2', prefix='2 3')")
        schema_editor.execute(
            "CREATE VIRTUAL TABLE services_searchentry_terms USING fts5vocab(services_searchentry_fts, 'col')")
        for statement in FTS_TRIGGERS:
            schema_editor.execute(statement)
    elif vendor == "postgresql":
        schema_editor.execute(PG_DOCUMENT)
        schema_editor.execute("CREATE INDEX searchentry_document_idx ON services_searchentry USING gin (document)")
        for statement in PG_WORDS:
            schema_editor.execute(statement)
    sync_triggers(schema_editor.connection)


def backwards(apps, schema_editor):
    from services.catalog.search_index import drop_triggers

    drop_triggers(schema_editor.connection)
    if schema_editor.connection.vendor == "sqlite":
        for name in ("searchentry_fts_ai", "searchentry_fts_ad", "searchentry_fts_au"):
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")
        schema_editor.execute("DROP TABLE IF EXISTS services_searchentry_terms")
        schema_editor.execute("DROP TABLE IF EXISTS services_searchentry_fts")
    elif schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP TRIGGER IF EXISTS searchentry_words ON services_searchentry")
        schema_editor.execute("DROP FUNCTION IF EXISTS searchentry_words_fn()")
        schema_editor.execute("DROP TABLE IF EXISTS services_searchword")


class Migration(migrations.Migration):
    dependencies = [
        ("services", "0019_drop_source_text"),
    ]

    operations = [
        migrations.CreateModel(
            name="SearchEntry",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("kind", models.CharField(max_length=20)),
                ("object_id", models.BigIntegerField()),
                ("key", models.CharField(max_length=400)),
                ("title", models.CharField(max_length=400)),
                ("names", models.TextField()),
                ("body", models.TextField()),
            ],
            options={
                "constraints": [models.UniqueConstraint(fields=("kind", "object_id"), name="searchentry_unique_object")],
            },
        ),
        migrations.RunPython(forwards, backwards, elidable=False),
    ]
