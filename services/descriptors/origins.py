"""Origins in an import: a location changes only the entries it produced (or unclaimed ones); a
descriptor naming an entry another origin holds is a conflict, and entries the location no longer
produces become orphans (kept and shown, never deleted here)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import models

from services.catalog.refs import quote
from services.descriptors.checks import Entity, repository_of
from services.descriptors.parse import ref_key
from services.descriptors.writing import _update
from services.models import Api, Domain, Location, Origin, Profile, Resource, Service, System, Team

# The kinds whose rows carry an origin, the model, and the audit's object type.
ORIGIN_KINDS: dict[str, tuple[type[models.Model], str]] = {
    "Group": (Team, "team"), "User": (Profile, "user"), "System": (System, "system"),
    "Domain": (Domain, "domain"), "Component": (Service, "service"), "API": (Api, "api"),
    "Resource": (Resource, "resource"),
}


@dataclass(frozen=True)
class FoundConflict:
    """A document refused because another origin holds the entry it names."""

    kind: str
    name: str  # the catalog key
    path: str  # the descriptor file that names it
    held_by: str
    message: str


class Origins:
    """The origin half of an import (services/descriptors/importer.py mixes it in)."""

    def _row_of(self, kind: str, key: str) -> dict[str, Any] | None:
        """The catalog's row an entity maps to (a person's profile for a User), with its origin columns."""
        if kind == "User":
            user = self.users.get(key)
            return self.profiles.get(user["id"]) if user else None
        if kind in self.namespaced_rows:
            return self.namespaced_rows[kind].get(key)
        return {"Group": self.teams, "System": self.systems, "Domain": self.domains,
                "Component": self.services}[kind].get(key)

    def _claim(self) -> None:
        """Refuse the documents naming entries another origin holds, and, for a location registered
        for a team, the documents describing anything but that team's entries."""
        self.conflicts: list[FoundConflict] = []
        holders = {row["origin_location_id"] for kind in ORIGIN_KINDS for key in self.entities[kind]
                   if (row := self._row_of(kind, key)) and row["origin_location_id"]}
        labels = {location.pk: location.label for location in Location.objects.filter(pk__in=holders)}
        for kind, bucket in self.entities.items():
            for key, entity in list(bucket.items()):
                refusal = self._outside_team(entity)
                if refusal:
                    entity.result.fail(refusal)
                    del bucket[key]
                    continue
                holder = self._holder(entity, self._row_of(kind, key), labels)
                if holder:
                    message = (f"{kind} '{entity.name}' is held by {holder}: nothing of it was changed here. "
                               "An administrator can move it to this location, or the descriptor can be fixed")
                    entity.result.conflict(message)
                    self.conflicts.append(FoundConflict(kind, key, entity.result.file, holder, message))
                    del bucket[key]

    def _outside_team(self, entity: Entity) -> str | None:
        team = self.origin.team
        if team is None:
            return None
        why = f"this location is registered for team '{team}', so it may describe only that team's entries"
        if entity.kind == "User":
            return f"{why}: people are described by an administrator's location"
        if entity.kind == "Group":
            return None if entity.key == team else why
        owner = entity.refs["owner"]
        return None if owner.ref.kind == "group" and ref_key(owner.ref) == team else f"{why}, and its owner is {owner.text}"

    def _holder(self, entity: Entity, row: dict[str, Any] | None, labels: dict[int, str]) -> str | None:
        """Who holds the row, when it is not this import's to change; None when it is."""
        if self.force:
            return None
        if entity.kind == "User":
            user = self.users.get(entity.key)
            if user is not None and (user["is_staff"] or user["is_superuser"]):
                return "an administrator's account, which no descriptor changes"
        if row is None:
            return None
        origin, location = row["origin"], row["origin_location_id"]
        if origin == Origin.UNCLAIMED or row.get("declared_by_import"):
            return None  # made before origins, or named by a descriptor without being described: adopted
        if origin == Origin.LOCATION:
            if location is None or location == self.origin.location_id:
                return None  # its location was deleted, or it is this one
            return f"the location {quote(labels.get(location, f'#{location}'))}"
        if origin == Origin.SCAFFOLDER and entity.kind == "Component":
            # The run that made it pushed this very descriptor: the repository's location takes it over.
            repository, _ = repository_of(entity.values["annotations"])
            if repository and repository == row["repository"]:
                return None
            return "a provisioning run"
        return "the portal (made by hand)" if origin == Origin.MANUAL else "a provisioning run"

    # -- writing ---------------------------------------------------------------------------------

    def _origin_values(self, path: str) -> dict[str, Any]:
        return {"origin": Origin.LOCATION.value, "origin_location_id": self.origin.location_id,
                "origin_path": path, "orphaned_at": None}

    def _new_origin(self, entity: Entity | None) -> dict[str, Any]:
        """The origin columns of a row this import creates (a team or person it only names has no file)."""
        return self._origin_values(entity.result.file if entity is not None else "")

    def _stamp_origins(self) -> bool:
        """Rows this import changes but did not create carry this location as their origin from now on
        (adopting unclaimed ones; a source renamed in the location moves their path)."""
        wrote = False
        for kind, (model, object_type) in ORIGIN_KINDS.items():
            updates = []
            for key, entity in self.entities[kind].items():
                if entity.result.outcome == "invalid":
                    continue  # refused while planning (an owner change without --force): not taken
                row = self._row_of(kind, key)
                wanted = self._origin_values(entity.result.file)
                if row is None or all(row[name] == value for name, value in wanted.items()):
                    continue  # created by this import with its origin, or unchanged
                updates.append({"id": row["id"], **wanted})
                if (row["origin"], row["origin_location_id"]) != (wanted["origin"], wanted["origin_location_id"]):
                    self.audit.append((f"{'person' if kind == 'User' else object_type}.adopt", object_type, key,
                                       {"origin": [self._origin_text(row), self.origin.label]}))
            _update(model, updates)
            wrote |= bool(updates)
        return wrote

    @staticmethod
    def _origin_text(row: dict[str, Any]) -> str:
        return (f"location #{row['origin_location_id']}" if row["origin"] == Origin.LOCATION
                else row["origin"] or "unclaimed")

    def _mark_orphans(self, ids: dict[str, dict[str, int]]) -> bool:
        """Rows of this location that it no longer produces are orphaned (unless their source could not be read)."""
        self.orphans: dict[str, list[str]] = {}
        if self.origin.location_id is None:
            return False
        wrote = False
        for kind, (model, object_type) in ORIGIN_KINDS.items():
            rows = model.objects.filter(origin=Origin.LOCATION, origin_location_id=self.origin.location_id)
            if kind in ("Group", "User"):
                rows = rows.exclude(declared_by_import=True)  # named, not described: nobody's to orphan
            # The unread paths are filtered here, not in SQL: an organisation has up to 200,000, past the
            # number of parameters SQLite binds.
            lost = [(row_id, object_id, key, orphaned) for row_id, object_id, key, orphaned, path in _keyed(kind, rows)
                    if path not in self.origin.unread_paths
                    and (key.lower() if kind == "User" else key) not in self.entities[kind]]
            if lost:
                self.orphans[kind] = sorted(key for _, _, key, _ in lost)
            fresh = [row for row in lost if row[3] is None]
            _update(model, [{"id": row_id, "orphaned_at": self.now} for row_id, _, _, _ in fresh])
            for _, object_id, key, _ in fresh:
                ids[object_type].setdefault(key.lower() if kind == "User" else key, object_id)
                self.audit.append((f"{'person' if kind == 'User' else object_type}.orphan", object_type,
                                   key.lower() if kind == "User" else key, {"origin": self.origin.label}))
            wrote |= bool(fresh)
        return wrote


def _keyed(kind: str, rows: models.QuerySet[Any]) -> Any:
    """(row id, audit object id, key, orphaned_at, origin_path) of each row; the key as the import keys its kind."""
    if kind == "User":
        return rows.values_list("id", "user_id", "user__username", "orphaned_at", "origin_path")
    if kind in ("API", "Resource"):
        return ((row_id, row_id, f"{namespace}/{slug}", orphaned, path) for row_id, namespace, slug, orphaned, path
                in rows.values_list("id", "namespace", "slug", "orphaned_at", "origin_path"))
    return rows.values_list("id", "id", "slug", "orphaned_at", "origin_path")
