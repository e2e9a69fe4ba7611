"""APIs and resources in an import, and the relations components and resources state by reference
(providesApis, consumesApis, dependencyOf; a resource's dependsOn): loaded, planned and written as
the importer does the other kinds, keyed by `namespace/name` since the same name may be in two
namespaces."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db import models

from services.descriptors.checks import Entity
from services.descriptors.planning import ORIGIN_COLUMNS, _Planned
from services.descriptors.writing import _delete, _insert, _row_defaults, _update, chunks
from services.models import Api, EntityLink, Resource

NAMESPACED_COLUMNS = ("id", "namespace", "slug", "name", "title", "description", "type", "owner_team_id",
                      "owner_user_id", "system_id", "tags", "links", "annotations", *ORIGIN_COLUMNS)
API_COLUMNS = (*NAMESPACED_COLUMNS, "lifecycle", "definition", "definition_placeholder", "definition_target",
               "definition_state", "remotes")
MODELS: dict[str, type[Api] | type[Resource]] = {"API": Api, "Resource": Resource}
# The relations a component or resource states by reference, by the name its resolved entity uses.
LINKS = {"provides_apis": EntityLink.Relation.PROVIDES_APIS, "consumes_apis": EntityLink.Relation.CONSUMES_APIS,
         "dependency_of": EntityLink.Relation.DEPENDENCY_OF, "depends_on": EntityLink.Relation.DEPENDS_ON}
COMPONENT_LINKS = ("provides_apis", "consumes_apis", "dependency_of")  # its dependsOn is a ServiceDependency
RESOURCE_LINKS = ("depends_on", "dependency_of")


def namespaced_ids(model: type[models.Model], keys: list[str]) -> dict[str, int]:
    """`namespace/slug` -> id of the rows of an API or Resource model with those keys."""
    found: dict[str, int] = {}
    for chunk in chunks(sorted({key.partition("/")[2] for key in keys})):
        for row_id, namespace, slug in model.objects.filter(slug__in=chunk).values_list("id", "namespace", "slug"):
            found[f"{namespace}/{slug}"] = row_id
    return {key: found[key] for key in keys if key in found}


class Namespaced:
    """The API and Resource half of an import (services/descriptors/importer.py mixes it in)."""

    def _load_namespaced(self) -> None:
        """The API and Resource rows this import names, and the links of the rows it describes."""
        self.namespaced_rows: dict[str, dict[str, dict[str, Any]]] = {}
        for kind, model in MODELS.items():
            keys = set(self.entities[kind])
            rows: dict[str, dict[str, Any]] = {}
            for chunk in chunks(sorted({key.partition("/")[2] for key in keys})):
                for row in model.objects.filter(slug__in=chunk).values(*(API_COLUMNS if kind == "API"
                                                                         else NAMESPACED_COLUMNS)):
                    key = f"{row['namespace']}/{row['slug']}"
                    if key in keys:
                        rows[key] = row
            self.namespaced_rows[kind] = rows
        owner_ids = {row["owner_user_id"] for rows in self.namespaced_rows.values() for row in rows.values()
                     if row["owner_user_id"]}
        self._load_users(id__in=sorted(owner_ids - set(self.user_key)))
        # (source column, source id) -> {(relation, target_ref): link id}
        self.entity_links: dict[tuple[str, int], dict[tuple[str, str], int]] = defaultdict(dict)
        sources = [("service_id", [self.services[key]["id"] for key in self.entities["Component"]
                                   if key in self.services]),
                   ("resource_id", [row["id"] for row in self.namespaced_rows["Resource"].values()])]
        for column, ids in sources:
            for chunk in chunks(ids):
                for link_id, source, relation, target in EntityLink.objects.filter(**{f"{column}__in": chunk}) \
                        .values_list("id", column, "relation", "target_ref"):
                    self.entity_links[(column, source)][(relation, target)] = link_id

    def _resolve_namespaced(self) -> None:
        for kind in MODELS:
            for entity in self.entities[kind].values():
                owner = entity.refs["owner"]
                entity.resolved = {
                    "owner": ("team", self._team(owner, entity, "owner")) if owner.ref.kind == "group"
                    else ("user", self._user(owner, entity, "owner")),
                    "system": self._grouping(entity.refs["system"], entity),
                }
                for name in RESOURCE_LINKS if kind == "Resource" else ():
                    entity.resolved[name] = sorted({str(ref.ref) for ref in entity.refs[name]})
        for entity in self.entities["Component"].values():
            for name in COMPONENT_LINKS:
                entity.resolved[name] = sorted({str(ref.ref) for ref in entity.refs[name]})

    def _old_links(self, column: str, row: dict[str, Any] | None, names: tuple[str, ...]) -> dict[str, list[str]]:
        held = self.entity_links.get((column, row["id"]), {}) if row else {}
        return {name: sorted(target for relation, target in held if relation == LINKS[name]) for name in names}

    def _plan_namespaced(self) -> None:
        self.namespaced_plan: dict[str, list[_Planned]] = {}
        for kind in MODELS:
            plan: list[_Planned] = []
            names = RESOURCE_LINKS if kind == "Resource" else ()
            for key, entity in self.entities[kind].items():
                row = self.namespaced_rows[kind].get(key)
                values = dict(entity.values)
                if kind == "API" and values["definition_placeholder"]:
                    del values["definition"]  # fetched by a worker: what it fetched is kept
                relations = {"owner": self._owner_text(entity.resolved["owner"]), "system": entity.resolved["system"]} | {name: entity.resolved[name] for name in names}
                if row is None:
                    changes = {k: v for k, v in (values | relations).items() if v not in ("", None, [], {})}
                else:
                    changes = self._diff(row, values)
                    old = {"owner": self._service_owner(row), "system": self.system_slug.get(row["system_id"])}
                    old |= self._old_links("resource_id", row, names)
                    changes |= {k: [old[k], v] for k, v in relations.items() if old[k] != v}
                planned = _Planned(key, entity, row, values | relations, changes)
                plan.append(planned)
                self._settle(planned, kind.lower(), kind.lower())
            self.namespaced_plan[kind] = plan

    def _component_links(self, entity: Entity, row: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
        """A component's links as its descriptor states them, and the changes from the catalog's."""
        wanted = {name: entity.resolved[name] for name in COMPONENT_LINKS}
        if row is None:
            return wanted, {k: v for k, v in wanted.items() if v}
        old = self._old_links("service_id", row, COMPONENT_LINKS)
        return wanted, {k: [old[k], v] for k, v in wanted.items() if old[k] != v}

    # -- writing ---------------------------------------------------------------------------------

    def _apply_namespaced(self) -> bool:
        wrote = False
        self.namespaced_ids: dict[str, dict[str, int]] = {}
        fields = {"API": ("name", "title", "description", "type", "lifecycle", "tags", "links", "annotations",
                          "definition_placeholder", "definition_target", "remotes"),
                  "Resource": ("name", "title", "description", "type", "tags", "links", "annotations")}
        for kind, model in MODELS.items():
            defaults = _row_defaults(model, self.now)
            new, changed = [], []
            for planned in self.namespaced_plan[kind]:
                if planned.entity.result.outcome == "invalid":
                    continue
                owner_kind, owner_key = planned.entity.resolved["owner"]
                system = planned.values["system"]
                values = {name: planned.values[name] for name in fields[kind]} | {
                    "owner_team_id": self.team_ids[owner_key] if owner_kind == "team" else None,
                    "owner_user_id": self.user_ids[owner_key] if owner_kind == "user" else None,
                    "system_id": self.system_ids[system] if system else None,
                }
                if kind == "API":
                    values |= self._definition_values(planned)
                if planned.existing is None:
                    namespace, _, slug = planned.key.partition("/")
                    new.append({**defaults, "namespace": namespace, "slug": slug, **values,
                                **self._new_origin(planned.entity)})
                elif set(planned.changes) - set(RESOURCE_LINKS):
                    changed.append({"id": planned.existing["id"], "updated_at": self.now, **values})
            _insert(model, new)
            ids = {key: row["id"] for key, row in self.namespaced_rows[kind].items()}
            ids.update(namespaced_ids(model, [f"{row['namespace']}/{row['slug']}" for row in new]))
            self.namespaced_ids[kind] = ids
            _update(model, changed)
            wrote |= bool(new or changed)
        return self._apply_links() or wrote

    @staticmethod
    def _definition_values(planned: _Planned) -> dict[str, Any]:
        """An inline definition is the API's; a placeholder changed (or new) waits for a worker to fetch it."""
        values = planned.values
        if not values["definition_placeholder"]:
            state = Api.DefinitionState.INLINE if values["definition"] else Api.DefinitionState.NONE
            return {"definition": values["definition"], "definition_state": state,
                    "definition_error": "", "definition_etag": "", "definition_fetched_at": None}
        row = planned.existing
        if row is not None and (row["definition_placeholder"], row["definition_target"]) == (
                values["definition_placeholder"], values["definition_target"]):
            return {}
        return {"definition": "", "definition_state": Api.DefinitionState.PENDING, "definition_error": "",
                "definition_etag": "", "definition_fetched_at": None}

    def _apply_links(self) -> bool:
        """Each described component's and resource's links become what its descriptor states."""
        sources: list[tuple[str, int, Entity, tuple[str, ...]]] = [
            ("service_id", self.service_ids[p.key], p.entity, COMPONENT_LINKS) for p in self.service_plan
            if p.entity.result.outcome != "invalid"]
        sources += [("resource_id", self.namespaced_ids["Resource"][p.key], p.entity, RESOURCE_LINKS)
                    for p in self.namespaced_plan["Resource"] if p.entity.result.outcome != "invalid"]
        removed: list[int] = []
        new: list[dict[str, Any]] = []
        for column, source_id, entity, names in sources:
            held = self.entity_links.get((column, source_id), {})
            wanted = {(LINKS[name].value, target) for name in names for target in entity.resolved[name]}
            removed.extend(link_id for pair, link_id in held.items() if pair not in wanted)
            new.extend({"service_id": source_id if column == "service_id" else None,
                        "resource_id": source_id if column == "resource_id" else None,
                        "relation": relation, "target_ref": target}
                       for relation, target in sorted(wanted - set(held)))
        _delete(EntityLink, removed)
        _insert(EntityLink, new)
        return bool(removed or new)

