"""Writing an import's plan: bulk inserts and updates with a handful of queries per table."""

from __future__ import annotations

import functools
import itertools
import secrets
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.db import connection, models

from services.audit import current_context
from services.catalog.generation import bump_generation
from services.descriptors.extras import SERVICE_EXTRA_COLUMNS
from services.descriptors.parse import BATCH_SIZE, CHUNK_SIZE, key_parts, ref_text_key
from services.models import AuditEvent, Domain, Membership, Profile, Service, ServiceDependency, System, Team

User = get_user_model()


def chunks(values: Iterable[Any], size: int = CHUNK_SIZE) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for value in values:
        chunk.append(value)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _row_defaults(model: type[models.Model], now: Any) -> dict[str, Any]:
    """Every column of a new row of `model`: the fields' defaults, with its timestamps set to `now`."""
    row: dict[str, Any] = {}
    for field_ in model._meta.concrete_fields:
        if not field_.primary_key and not field_.generated:  # the database computes generated columns
            stamped = getattr(field_, "auto_now", False) or getattr(field_, "auto_now_add", False)
            row[field_.attname] = now if stamped else field_.get_default()
    return row


def _adapters(model: type[models.Model]) -> dict[str, tuple[str, Callable[[Any], Any] | None]]:
    """attname -> (column, how Django adapts a value of it for this database, or None as is)."""
    ops = connection.ops
    adapters: dict[str, tuple[str, Callable[[Any], Any] | None]] = {}
    for field_ in model._meta.concrete_fields:
        adapt: Callable[[Any], Any] | None = None
        if isinstance(field_, models.JSONField):
            adapt = functools.partial(ops.adapt_json_value, encoder=field_.encoder)
        elif isinstance(field_, models.DateTimeField):
            adapt = functools.lru_cache(maxsize=4)(ops.adapt_datetimefield_value)  # rows share one `now`
        adapters[field_.attname] = (field_.column, adapt)
    return adapters


def _execute_many(model: type[models.Model], sql_for: Callable[[list[str]], str], rows: Iterable[dict[str, Any]],
                  names: list[str]) -> None:
    adapters = _adapters(model)
    converted = [(index, adapters[name][1]) for index, name in enumerate(names) if adapters[name][1] is not None]
    sql = sql_for([connection.ops.quote_name(adapters[name][0]) for name in names])
    with connection.cursor() as cursor:
        for chunk in chunks(rows, BATCH_SIZE):
            params = []
            for row in chunk:
                values = [row[name] for name in names]
                for index, convert in converted:
                    values[index] = convert(values[index])
                params.append(values)
            cursor.executemany(sql, params)


def _insert(model: type[models.Model], rows: Iterable[dict[str, Any]]) -> None:
    """INSERT rows (dicts of attname -> value, all with the same keys; any iterable, taken a batch
    at a time: 100,000 services' rows made at once took ~120 MB): COPY on PostgreSQL, executemany
    elsewhere.

    Measured on the 10k-service import: bulk_create's per-value ORM work (model instances, field
    preparation, SQL assembly) took most of the time, and on PostgreSQL a pipelined executemany
    still quoted every value in Python; these write the same rows, with Django's own value
    adapters, several times faster. Bulk writes send no signals either way.
    """
    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        return
    rows = itertools.chain([first], rows)
    table = connection.ops.quote_name(model._meta.db_table)
    names = list(first)
    if connection.vendor == "postgresql":
        adapters = _adapters(model)
        columns = ", ".join(connection.ops.quote_name(adapters[name][0]) for name in names)
        converted = [(index, adapters[name][1]) for index, name in enumerate(names) if adapters[name][1]]
        with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                values = [row[name] for name in names]
                for index, convert in converted:
                    values[index] = convert(values[index])
                copy.write_row(values)
        return
    # Identifiers come from the model's metadata, quoted; every value is a query parameter.
    _execute_many(model, lambda columns: (f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608
                                          f"VALUES ({', '.join(['%s'] * len(columns))})"), rows, names)


def _update(model: type[models.Model], rows: list[dict[str, Any]]) -> None:
    """UPDATE rows by primary key (`id` plus the columns to set), one executemany per set of columns."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[tuple(sorted(name for name in row if name != "id"))].append(row)
    table = connection.ops.quote_name(model._meta.db_table)

    def sql_for(columns: list[str]) -> str:
        # Identifiers come from the model's metadata, quoted; every value is a query parameter.
        return f"UPDATE {table} SET {', '.join(f'{c} = %s' for c in columns[:-1])} WHERE {columns[-1]} = %s"  # noqa: S608

    for names, group in groups.items():
        _execute_many(model, sql_for, group, [*names, "id"])


def _delete(model: type[models.Model], ids: list[int]) -> None:
    """DELETE rows by primary key (rows nothing else refers to: memberships, dependencies)."""
    table = connection.ops.quote_name(model._meta.db_table)
    pk = connection.ops.quote_name(model._meta.pk.column)
    with connection.cursor() as cursor:
        for chunk in chunks(ids):
            placeholders = ", ".join(["%s"] * len(chunk))
            cursor.execute(f"DELETE FROM {table} WHERE {pk} IN ({placeholders})", chunk)  # noqa: S608


def _ids(model: type[models.Model], column: str, values: Iterable[str]) -> dict[str, int]:
    """The primary keys of rows just inserted, by their natural key."""
    found: dict[str, int] = {}
    for chunk in chunks(values):
        found.update(model.objects.filter(**{f"{column}__in": chunk}).values_list(column, "id"))
    return found


class Writer:
    """The writing half of an import (services/descriptors/importer.py mixes it in)."""

    def _apply(self) -> None:
        """Write every planned change in bulk; bulk writes send no signals, so the generation is bumped once."""
        wrote = self._apply_teams()
        wrote |= self._apply_users()
        wrote |= self._apply_memberships()
        wrote |= self._apply_groupings()
        wrote |= self._apply_services()
        wrote |= self._apply_namespaced()
        wrote |= self._stamp_origins()
        wrote |= self._mark_orphans(self._written_ids())
        if self.audit:
            self._apply_audit()
        if wrote:
            bump_generation()

    def _written_ids(self) -> dict[str, dict[str, int]]:
        """Audit object type -> key -> id of every row the import wrote or read."""
        return {"team": self.team_ids, "user": self.user_ids, "domain": self.domain_ids, "system": self.system_ids,
                "service": self.service_ids, "api": self.namespaced_ids["API"],
                "resource": self.namespaced_ids["Resource"]}

    def _apply_teams(self) -> bool:
        defaults = _row_defaults(Team, self.now)
        new = [{**defaults, "slug": p.key, "namespace": key_parts(p.key)[0], **p.values, **self._new_origin(p.entity)}
               for p in self.team_plan if p.existing is None]
        _insert(Team, new)
        self.team_ids = {slug: row["id"] for slug, row in self.teams.items()}
        self.team_ids.update(_ids(Team, "slug", [row["slug"] for row in new]))
        changed = []
        for planned in self.team_plan:
            names = set(planned.changes) - {"parent", "members"}
            if planned.existing is not None and names:
                changed.append({"id": planned.existing["id"], "updated_at": self.now,
                                **{name: planned.values[name] for name in names}})
        _update(Team, changed)
        reparented = []
        for key, parent in self.parents.items():
            old = self.teams[key]["parent_id"] if key in self.teams else None
            new_parent = self.team_ids[parent] if parent else None
            if old != new_parent:
                reparented.append({"id": self.team_ids[key], "parent_id": new_parent})
        _update(Team, reparented)
        return bool(new or changed or reparented)

    def _apply_users(self) -> bool:
        defaults = _row_defaults(User, self.now)
        # An unusable password, made without hashing (people imported here sign in another way):
        # what make_password(None) stores, at a fraction of its cost for thousands of users.
        new = [{**defaults, "username": p.values["username"], "email": p.values["email"],
                "password": UNUSABLE_PASSWORD_PREFIX + secrets.token_urlsafe(30)}
               for p in self.user_plan if p.existing is None]
        _insert(User, new)
        self.user_ids = {key: row["id"] for key, row in self.users.items()}
        self.user_ids.update((name.lower(), pk) for name, pk in _ids(User, "username", [r["username"] for r in new]).items())
        _update(User, [{"id": p.existing["id"], "email": p.values["email"]}
                       for p in self.user_plan if p.existing is not None and "email" in p.changes])
        profile_fields = ("display_name", "picture", "declared_by_import")
        defaults = _row_defaults(Profile, self.now)
        new_profiles, changed_profiles = [], []
        for planned in self.user_plan:
            user_id = self.user_ids[planned.key]
            values = {name: planned.values[name] for name in profile_fields}
            profile = self.profiles.get(user_id)
            if profile is None and (planned.existing is None or planned.entity is not None):
                new_profiles.append({**defaults, "user_id": user_id, **values, **self._new_origin(planned.entity)})
            elif profile is not None and set(planned.changes) & set(profile_fields):
                changed_profiles.append({"id": profile["id"], **values})
        _insert(Profile, new_profiles)
        _update(Profile, changed_profiles)
        return bool(new or new_profiles or changed_profiles or any(
            p.existing is not None and "email" in p.changes for p in self.user_plan))

    def _apply_memberships(self) -> bool:
        _delete(Membership, [self.memberships[pair] for pair in self.membership_removes])
        defaults = _row_defaults(Membership, self.now)
        _insert(Membership, [{**defaults, "user_id": self.user_ids[user], "team_id": self.team_ids[team],
                              "role": (Membership.Role.LEAD if (user, team) in self.lead_pairs
                                       else Membership.Role.MEMBER).value} for user, team in self.membership_adds])
        return self._apply_roles() or bool(self.membership_adds or self.membership_removes)

    def _apply_groupings(self) -> bool:
        self.domain_ids = {slug: row["id"] for slug, row in self.domains.items()}
        self.system_ids = {slug: row["id"] for slug, row in self.systems.items()}
        wrote = False
        for kind, model, ids in (("Domain", Domain, self.domain_ids), ("System", System, self.system_ids)):
            defaults = _row_defaults(model, self.now)
            new, changed = [], []
            for planned in self.grouping_plan[kind]:
                owner_kind, owner_key = planned.entity.resolved["owner"]
                values = {"name": planned.values["name"], "description": planned.values["description"],
                          "owner_id": self.team_ids[owner_key] if owner_kind == "team" else None,
                          "owner_user_id": self.user_ids[owner_key] if owner_kind == "user" else None}
                if kind == "System":
                    domain = planned.values["domain"]
                    values["domain_id"] = self.domain_ids[domain] if domain else None
                if planned.existing is None:
                    new.append({**defaults, "slug": planned.key, "namespace": key_parts(planned.key)[0], **values,
                                **self._new_origin(planned.entity)})
                elif planned.changes:
                    changed.append({"id": planned.existing["id"], **values})
            _insert(model, new)
            ids.update(_ids(model, "slug", [row["slug"] for row in new]))
            _update(model, changed)
            wrote |= bool(new or changed)
        return wrote

    def _apply_services(self) -> bool:
        # A repository moving between services is released first: the column is unique.
        released = [{"id": p.existing["id"], "repository": None} for p in self.service_plan
                    if p.existing is not None and "repository" in p.changes and p.existing["repository"]]
        _update(Service, released)
        defaults = _row_defaults(Service, self.now)
        fields = ("name", "description", "type", "lifecycle", "tags", "links", "annotations", "repository")
        new: list[str] = []  # slugs: the rows are made as they are inserted
        changed = []

        def columns_of(planned: Any) -> dict[str, Any]:
            owner_kind, owner_key = planned.entity.resolved["owner"]
            system = planned.values["system"]
            return {name: planned.values[name] for name in fields} | {
                name: planned.values[name] for name in SERVICE_EXTRA_COLUMNS if name in planned.values} | {
                "owner_team_id": self.team_ids[owner_key] if owner_kind == "team" else None,
                "owner_user_id": self.user_ids[owner_key] if owner_kind == "user" else None,
                "system_id": self.system_ids[system] if system else None,
            }

        for planned in self.service_plan:
            if planned.existing is None:
                new.append(planned.key)
            elif set(planned.changes) - {"depends_on", "provides_apis", "consumes_apis", "dependency_of",
                                         "environments", "runbooks"}:
                changed.append({"id": planned.existing["id"], "updated_at": self.now, **columns_of(planned)})
        _insert(Service, ({**defaults, "slug": planned.key, "namespace": key_parts(planned.key)[0],
                           **columns_of(planned), **self._new_origin(planned.entity)}
                          for planned in self.service_plan if planned.existing is None))
        self.service_ids = {slug: row["id"] for slug, row in self.services.items()}
        self.service_ids.update(_ids(Service, "slug", new))
        _update(Service, changed)
        wrote = self._apply_dependencies()
        return self._apply_parts() or wrote or bool(new or changed or released)

    def _apply_dependencies(self) -> bool:
        """Each imported service's dependsOn becomes its dependencies; targets link when they exist."""
        service_ids = self.service_ids

        def target_of(target_ref: str) -> int | None:
            key = ref_text_key("component", target_ref)
            return service_ids.get(key) if key else None

        removed: list[int] = []
        new: list[dict[str, Any]] = []
        relinked: dict[int, int] = {}
        for planned in self.service_plan:
            service_id = service_ids[planned.key]
            rows = self.dependencies.get(service_id, {})
            wanted = planned.entity.resolved["depends_on"]
            removed.extend(row_id for target_ref, (row_id, _) in rows.items() if target_ref not in wanted)
            for target_ref in wanted:
                target = target_of(target_ref)
                if target_ref not in rows:
                    new.append({"service_id": service_id, "target_ref": target_ref, "target_id": target})
                elif target is not None and rows[target_ref][1] != target:
                    relinked[rows[target_ref][0]] = target
        _delete(ServiceDependency, removed)
        _insert(ServiceDependency, new)
        # Dependencies recorded before their target existed (by this import or an earlier one) link now.
        pending = list(ServiceDependency.objects.filter(target__isnull=True, target_ref__startswith="component:")
                       .values_list("pk", "target_ref"))
        unknown = {ref_text_key("component", ref) for _, ref in pending} - set(service_ids) - {None}
        service_ids = dict(service_ids)
        for chunk in chunks(sorted(unknown)):
            service_ids.update(Service.objects.filter(slug__in=chunk).values_list("slug", "pk"))
        for pk, target_ref in pending:
            target = target_of(target_ref)
            if target is not None:
                relinked[pk] = target
        _update(ServiceDependency, [{"id": pk, "target_id": target} for pk, target in relinked.items()])
        return bool(removed or new or relinked)

    def _apply_audit(self) -> None:
        """One event per created or updated row, as audit_record writes them, inserted in bulk."""
        context = current_context()
        is_user = self.actor is not None and getattr(self.actor, "is_authenticated", False)
        ids = self._written_ids()
        defaults = _row_defaults(AuditEvent, self.now) | {
            "actor_id": self.actor.pk if is_user else None,
            "actor_name": self.actor.get_username() if is_user else "system",
            "source": context.source, "request_id": context.request_id,
        }
        _insert(AuditEvent, (
            {**defaults, "action": action, "object_type": object_type, "object_id": str(ids[object_type][key]),
             "object_repr": (self._username(key) if object_type == "user" else key)[:300], "changes": changes}
            for action, object_type, key, changes in self.audit
        ))

