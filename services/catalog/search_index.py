"""What the search covers, and the database triggers that keep its index (SearchEntry) right.

One registry, KINDS: a kind names a model, the fields that make its key (the URL's arguments), title,
names and text, and the URL. Everything else is derived from it: the SQL that computes an entry, the
triggers on every table that entry reads (the model's own table, a table joined through a foreign key,
a one-to-one row pointing back), and the backfill.

Why triggers: the catalog is written by the service layer, by the importer (bulk_create, executemany,
COPY on PostgreSQL, raw DELETEs), by the admin and by cascading deletes. Only the database sees all of
them; an ORM signal misses every bulk write. A trigger refreshes one object's entry: delete it, and
insert it again from the SELECT the registry describes (nothing if the object is gone or not live).

`sync_triggers` installs them. Each trigger's name carries a hash of the SQL it runs, so a kind added
or changed in the registry is installed and backfilled by the next `migrate` (a post_migrate hook, and
migration 0016 for the first time), and a kind removed has its triggers and entries dropped; a `migrate`
that changes nothing costs one catalog query."""

# SQL is assembled here from identifiers of the registry and the models' meta, never from input: every
# value a person typed is a query parameter.
# ruff: noqa: S608
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field

from django.apps import apps
from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper

logger = logging.getLogger(__name__)

ENTRY_TABLE = "services_searchentry"
FTS_TABLE = "services_searchentry_fts"  # SQLite: FTS5 over names and body, content kept in ENTRY_TABLE
TERMS_TABLE = "services_searchentry_terms"  # SQLite: fts5vocab of FTS_TABLE (the typo search's words)
TRIGGER_PREFIX = "srch_"


@dataclass(frozen=True)
class SearchKind:
    """One kind of result. Field paths are Django's (`service__slug`, `profile__display_name`): a foreign
    key or a one-to-one relation, one step each, then a column. `key` fields are the URL's arguments
    (joined by '/', so none may contain one); `names` are ranked before `text` and are typo-tolerant;
    `live` keeps rows out of the index while a boolean column says so (archived services)."""

    kind: str
    label: str
    model: str
    key: tuple[str, ...]
    title: tuple[str, ...]
    names: tuple[str, ...]
    text: tuple[str, ...]
    url: str
    live: dict[str, bool] = field(default_factory=dict)


KINDS: tuple[SearchKind, ...] = (
    SearchKind("service", "Services", "services.Service", key=("slug",), title=("name",),
               names=("slug", "name", "tags"), text=("description",), url="services:service_detail",
               live={"archived": False}),
    SearchKind("team", "Teams", "services.Team", key=("slug",), title=("name",), names=("slug", "name"),
               text=("description",), url="services:team_detail"),
    SearchKind("person", "People", "auth.User", key=("username",), title=("profile__display_name",),
               names=("username", "first_name", "last_name", "profile__display_name"), text=(),
               url="services:person_detail", live={"is_active": True}),
    SearchKind("system", "Systems", "services.System", key=("slug",), title=("name",), names=("slug", "name"),
               text=("description",), url="services:system_detail"),
    SearchKind("domain", "Domains", "services.Domain", key=("slug",), title=("name",), names=("slug", "name"),
               text=("description",), url="services:domain_detail"),
    SearchKind("runbook", "Runbooks", "services.Runbook", key=("service__slug", "slug"), title=("title",),
               names=("title",), text=("body",), url="services:runbook_detail"),
    SearchKind("api", "APIs", "services.Api", key=("namespace", "slug"), title=("name",),
               names=("slug", "title", "type", "tags"), text=("description",), url="services:api_detail"),
    SearchKind("resource", "Resources", "services.Resource", key=("namespace", "slug"), title=("name",),
               names=("slug", "title", "type", "tags"), text=("description",), url="services:resource_detail"),
)
KIND_NAMES: tuple[str, ...] = tuple(kind.kind for kind in KINDS)


def kind_of(name: str) -> SearchKind:
    """The registry's entry for `name` (KeyError when there is none)."""
    for kind in KINDS:
        if kind.kind == name:
            return kind
    raise KeyError(name)


# ------------------------------------------------------------------------------------------------
# From a kind to SQL.


@dataclass
class _Join:
    alias: str
    table: str
    on: str  # the join condition, over "base" and alias
    # For triggers on the joined table: how its row (NEW/OLD) names the base objects to refresh, and which
    # of its columns matter.
    base_ids: str  # SQL over {row}: the base ids affected by a change to this row
    columns: set[str] = field(default_factory=set)
    on_insert_delete: bool = False  # a row pointing back (one-to-one): its arrival and removal matter too


@dataclass
class _KindSql:
    kind: SearchKind
    table: str
    pk: str
    base_columns: set[str]
    joins: dict[str, _Join]
    key: str
    title: str
    names: str
    body: str


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _compile(kind: SearchKind) -> _KindSql:
    model = apps.get_model(kind.model)
    meta = model._meta
    table, pk = meta.db_table, meta.pk.column
    base_columns: set[str] = {pk, *kind.live}
    joins: dict[str, _Join] = {}

    def column(path: str) -> str:
        parts = path.split("__")
        if len(parts) == 1:
            model_field = meta.get_field(parts[0])
            base_columns.add(model_field.column)
            return _text(f"base.{_q(model_field.column)}", model_field)
        if len(parts) != 2:
            raise ValueError(f"{kind.kind}: {path}: one relation step at most")
        relation = meta.get_field(parts[0])
        alias = f"j_{parts[0]}"
        target = relation.related_model._meta
        if alias not in joins:
            if relation.many_to_one or (relation.one_to_one and relation.concrete):
                base_columns.add(relation.column)
                on = f"{_q(alias)}.{_q(target.pk.column)} = base.{_q(relation.column)}"
                back = f"(SELECT {_q(pk)} FROM {_q(table)} WHERE {_q(relation.column)} = {{row}}.{_q(target.pk.column)})"
                joins[alias] = _Join(alias, target.db_table, on, back)
            elif relation.one_to_one:  # the reverse side: the other table's row points at ours
                remote = relation.field.column
                on = f"{_q(alias)}.{_q(remote)} = base.{_q(pk)}"
                joins[alias] = _Join(alias, target.db_table, on, f"({{row}}.{_q(remote)})", {remote},
                                     on_insert_delete=True)
            else:
                raise ValueError(f"{kind.kind}: {path}: only foreign keys and one-to-one relations")
        target_field = target.get_field(parts[1])
        joins[alias].columns.add(target_field.column)
        return _text(f"{_q(alias)}.{_q(target_field.column)}", target_field)

    def concat(paths: tuple[str, ...], separator: str = " ") -> str:
        if not paths:
            return "''"
        return f" || '{separator}' || ".join(column(path) for path in paths)

    key = concat(kind.key, "/")
    title = concat(kind.title)
    names = concat(kind.names)
    body = concat(kind.text)
    return _KindSql(kind, table, pk, base_columns, joins, key, title, names, body)


def _text(expression: str, model_field: models.Field) -> str:
    # JSON (tags) is searched as its text: the tokenizers split on its quotes and commas.
    return f"COALESCE(CAST({expression} AS TEXT), '')"


def _select(sql: _KindSql, ids: str, vendor: str) -> str:
    """SELECT the entries of the base objects whose ids are `ids` (an SQL list or subquery)."""
    joins = " ".join(f"LEFT JOIN {_q(join.table)} {_q(join.alias)} ON {join.on}" for join in sql.joins.values())
    live = "".join(f" AND base.{_q(column)} = {'TRUE' if value else 'FALSE'}" for column, value in sql.kind.live.items())
    # A title left empty (a person without a display name) falls back to the key.
    title = f"COALESCE(NULLIF({sql.title}, ''), {sql.key})"
    return (f"SELECT '{sql.kind.kind}', base.{_q(sql.pk)}, {sql.key}, {title}, {sql.names}, {sql.body} "
            f"FROM {_q(sql.table)} base {joins} WHERE base.{_q(sql.pk)} IN {ids}{live}")


def _refresh(sql: _KindSql, ids: str, vendor: str) -> str:
    """Statements that make the entries of `ids` right again: delete them, insert what the SELECT finds."""
    return (f"DELETE FROM {ENTRY_TABLE} WHERE kind = '{sql.kind.kind}' AND object_id IN {ids}; "
            f"INSERT INTO {ENTRY_TABLE} (kind, object_id, key, title, names, body) {_select(sql, ids, vendor)};")


@dataclass(frozen=True)
class _Trigger:
    name: str
    table: str
    sql: tuple[str, ...]  # statements creating it
    drop: tuple[str, ...]  # statements dropping it


def _triggers(kind: SearchKind, vendor: str) -> list[_Trigger]:
    sql = _compile(kind)
    # (table, events with their column lists, the base ids in terms of {row})
    watched: list[tuple[str, str, set[str], bool]] = [(sql.table, f"({{row}}.{_q(sql.pk)})", sql.base_columns, True)]
    watched += [(join.table, join.base_ids, join.columns, join.on_insert_delete) for join in sql.joins.values()]
    triggers: list[_Trigger] = []
    for table, ids, columns, insert_delete in watched:
        body_new = _refresh(sql, ids.format(row="NEW"), vendor)
        body_old = _refresh(sql, ids.format(row="OLD"), vendor)
        of = ", ".join(_q(column) for column in sorted(columns))
        digest = hashlib.sha256(f"{table}|{of}|{body_new}|{body_old}|{insert_delete}".encode()).hexdigest()[:10]
        # At most 59 characters: PostgreSQL's limit is 63 and the function adds "_fn", SQLite's event "_i".
        name = f"{TRIGGER_PREFIX}{kind.kind}__{table}"[:48] + f"_{digest}"
        if vendor == "postgresql":
            function = f"{name}_fn"
            events = "INSERT OR UPDATE OR DELETE" if insert_delete else f"UPDATE OF {of}"
            create_function = (
                f"CREATE OR REPLACE FUNCTION {_q(function)}() RETURNS trigger LANGUAGE plpgsql AS $search$ BEGIN "
                f"IF TG_OP IN ('UPDATE', 'DELETE') THEN {body_old} END IF; "
                f"IF TG_OP IN ('INSERT', 'UPDATE') THEN {body_new} END IF; "
                "RETURN NULL; END $search$")
            if insert_delete and table == sql.table:
                # The base table: an UPDATE keeps the id, so the new row alone needs refreshing; and only an
                # update of a column the entry reads (the importer updates many others) does anything.
                create_function = create_function.replace(
                    "IF TG_OP IN ('UPDATE', 'DELETE')", "IF TG_OP = 'DELETE'")
                triggers.append(_Trigger(name, table, (
                    create_function,
                    f"CREATE TRIGGER {_q(name)} AFTER INSERT OR DELETE OR UPDATE OF {of} ON {_q(table)} "
                    f"FOR EACH ROW EXECUTE FUNCTION {_q(function)}()"),
                    (f"DROP TRIGGER IF EXISTS {_q(name)} ON {_q(table)}", f"DROP FUNCTION IF EXISTS {_q(function)}()")))
                continue
            if insert_delete:
                events = f"INSERT OR DELETE OR UPDATE OF {of}"
            triggers.append(_Trigger(name, table, (
                create_function,
                f"CREATE TRIGGER {_q(name)} AFTER {events} ON {_q(table)} FOR EACH ROW EXECUTE FUNCTION {_q(function)}()"),
                (f"DROP TRIGGER IF EXISTS {_q(name)} ON {_q(table)}", f"DROP FUNCTION IF EXISTS {_q(function)}()")))
        else:
            statements = []
            drops = []
            if insert_delete:
                statements.append(f"CREATE TRIGGER {_q(name + '_i')} AFTER INSERT ON {_q(table)} BEGIN {body_new} END")
                statements.append(f"CREATE TRIGGER {_q(name + '_d')} AFTER DELETE ON {_q(table)} BEGIN {body_old} END")
                drops += [f"DROP TRIGGER IF EXISTS {_q(name + '_i')}", f"DROP TRIGGER IF EXISTS {_q(name + '_d')}"]
            update = body_new if table == sql.table else body_old + " " + body_new
            statements.append(f"CREATE TRIGGER {_q(name + '_u')} AFTER UPDATE OF {of} ON {_q(table)} BEGIN {update} END")
            drops.append(f"DROP TRIGGER IF EXISTS {_q(name + '_u')}")
            triggers.append(_Trigger(name, table, tuple(statements), tuple(drops)))
    return triggers


def backfill_sql(kind: SearchKind, vendor: str) -> list[str]:
    """Statements that rebuild every entry of `kind` from its tables."""
    sql = _compile(kind)
    return [f"DELETE FROM {ENTRY_TABLE} WHERE kind = '{kind.kind}'",
            f"INSERT INTO {ENTRY_TABLE} (kind, object_id, key, title, names, body) "
            + _select(sql, f"(SELECT {_q(sql.pk)} FROM {_q(sql.table)})", vendor)]


# ------------------------------------------------------------------------------------------------
# Installing.


def _installed(connection: BaseDatabaseWrapper) -> dict[str, list[tuple[str, str]]]:
    """Our triggers in the database, by their name without the SQLite event suffix: [(name, table)]."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT t.tgname, c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                           "WHERE NOT t.tgisinternal AND t.tgname LIKE %s", [TRIGGER_PREFIX + "%"])
        else:
            cursor.execute("SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger' AND name LIKE %s",
                           [TRIGGER_PREFIX + "%"])
        rows = cursor.fetchall()
    found: dict[str, list[tuple[str, str]]] = {}
    for name, table in rows:
        base = name[:-2] if connection.vendor != "postgresql" and name[-2:] in ("_i", "_d", "_u") else name
        found.setdefault(base, []).append((name, table))
    return found


def _tables(connection: BaseDatabaseWrapper) -> set[str]:
    with connection.cursor() as cursor:
        return set(connection.introspection.table_names(cursor))


def _ready(kind: SearchKind, connection: BaseDatabaseWrapper, tables: set[str]) -> bool:
    """Whether every table and column the kind reads exists (a model, or a column, whose migration has
    not run yet waits for the `migrate` that runs it)."""
    try:
        sql = _compile(kind)
    except LookupError:
        return False
    needed = {sql.table: sql.base_columns, **{join.table: join.columns for join in sql.joins.values()}}
    if not set(needed) <= tables:
        return False
    with connection.cursor() as cursor:
        for table, columns in needed.items():
            present = {column.name for column in connection.introspection.get_table_description(cursor, table)}
            if not columns <= present:
                return False
    return True


def sync_triggers(connection: BaseDatabaseWrapper) -> list[str]:
    """Make the database's search triggers those of the registry: create what is missing (and backfill
    that kind), drop what no kind wants any more (and its entries). Kinds whose tables do not exist yet
    are left for a later `migrate`. Returns the kinds rebuilt."""
    if connection.vendor not in ("sqlite", "postgresql"):
        return []
    tables = _tables(connection)
    if ENTRY_TABLE not in tables:
        return []  # before migration 0016 (or after it was reversed)
    installed = _installed(connection)
    wanted: dict[str, tuple[SearchKind, _Trigger]] = {}
    for kind in KINDS:
        if not _ready(kind, connection, tables):
            continue
        kind_triggers = _triggers(kind, connection.vendor)
        wanted.update({trigger.name: (kind, trigger) for trigger in kind_triggers})
    stale = set(installed) - set(wanted)
    missing = [name for name in wanted if name not in installed]
    if not stale and not missing:
        return []
    rebuilt: list[str] = []
    with connection.cursor() as cursor:
        for name in stale:
            for trigger_name, table in installed[name]:
                if connection.vendor == "postgresql":
                    cursor.execute(f"DROP TRIGGER IF EXISTS {_q(trigger_name)} ON {_q(table)}")
                    cursor.execute(f"DROP FUNCTION IF EXISTS {_q(trigger_name + '_fn')}()")
                else:
                    cursor.execute(f"DROP TRIGGER IF EXISTS {_q(trigger_name)}")
        for name in missing:
            for statement in wanted[name][1].sql:
                cursor.execute(statement)
        kinds_touched = {wanted[name][0].kind for name in missing}
        kinds_touched |= {name[len(TRIGGER_PREFIX):].split("__")[0] for name in stale}
        for kind_name in sorted(kinds_touched):
            if kind_name in KIND_NAMES and any(kind.kind == kind_name for kind, _ in wanted.values()):
                for statement in backfill_sql(kind_of(kind_name), connection.vendor):
                    cursor.execute(statement)
            else:
                cursor.execute(f"DELETE FROM {ENTRY_TABLE} WHERE kind = %s", [kind_name])
            rebuilt.append(kind_name)
    logger.info("search.triggers_synced", extra={"kinds": rebuilt})
    return rebuilt


def drop_triggers(connection: BaseDatabaseWrapper) -> None:
    """Drop every search trigger (migration 0016 reversed)."""
    with connection.cursor() as cursor:
        for rows in _installed(connection).values():
            for trigger_name, table in rows:
                if connection.vendor == "postgresql":
                    cursor.execute(f"DROP TRIGGER IF EXISTS {_q(trigger_name)} ON {_q(table)}")
                    cursor.execute(f"DROP FUNCTION IF EXISTS {_q(trigger_name + '_fn')}()")
                else:
                    cursor.execute(f"DROP TRIGGER IF EXISTS {_q(trigger_name)}")
