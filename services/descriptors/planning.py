"""Planning an import: each entity compared with the catalog's row, the changes kept for writing."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from services.catalog.claims import RUN_MARKERS
from services.catalog.refs import quote
from services.descriptors.checks import Entity, repository_of
from services.descriptors.writing import chunks
from services.models import Service


@dataclass(slots=True)  # one per entity of an import
class _Planned:
    """One row to create or update, with the changes the audit event and the report record."""

    key: str
    entity: Entity | None  # None for a team or user declared by the import
    existing: dict[str, Any] | None  # the row as loaded, None when it is to be created
    values: dict[str, Any]
    changes: dict[str, Any]


ORIGIN_COLUMNS = ("origin", "origin_location_id", "origin_path", "orphaned_at")
TEAM_COLUMNS = ("id", "slug", "parent_id", "name", "description", "email", "chat_channel", "github_team_slug",
                "team_type", "annotations", "declared_by_import", "on_call", *ORIGIN_COLUMNS)
SERVICE_COLUMNS = ("id", "slug", "name", "description", "type", "lifecycle", "tags", "links", "annotations",
                   "repository", "owner_team_id", "owner_user_id", "system_id", "tier", "language", "template",
                   "template_version", "archived", *ORIGIN_COLUMNS)


class Planner:
    """The planning half of an import (services/descriptors/importer.py mixes it in)."""

    def _settle(self, planned: _Planned, object_type: str, action: str) -> None:
        """Record the outcome of one planned row in its document's result and in the audit trail."""
        result = planned.entity.result if planned.entity else None
        if planned.existing is None:
            if result:
                result.outcome = "created"
            self.audit.append((f"{action}.create", object_type, planned.key, planned.changes))
        elif planned.changes:
            if result:
                result.outcome = "updated"
                result.changes = sorted(planned.changes)
            self.audit.append((f"{action}.update", object_type, planned.key, planned.changes))
        elif result:
            result.outcome = "unchanged"

    @staticmethod
    def _diff(existing: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
        return {name: [existing[name], value] for name, value in values.items() if existing[name] != value}

    def _plan_teams(self) -> None:
        # A parent is stated by the child (spec.parent) or by the parent (spec.children), often in
        # files imported separately: what this import says wins, and what it cannot see is kept.
        groups = self.entities["Group"]
        own_parent = {key: entity.resolved["parent"] for key, entity in groups.items()}
        from_children: dict[str, str] = {}
        for key, entity in groups.items():
            for child in entity.resolved["children"]:
                if child in groups or child in self.declared_teams:
                    current = own_parent.get(child)
                else:  # in the catalog, not described here
                    current = self.team_slug.get(self.teams[child]["parent_id"])
                if current in (None, key):
                    from_children.setdefault(child, key)
                else:
                    entity.result.note(f"child '{child}' has parent '{current}', which is kept")
        self.parents: dict[str, str | None] = {}
        for key in groups:
            kept = self.team_slug.get(self.teams[key]["parent_id"]) if key in self.teams else None
            if kept in groups:
                kept = None  # its group is in this import and does not list it: no longer a child
            self.parents[key] = own_parent[key] or from_children.get(key) or kept
        self.parents.update((key, from_children.get(key)) for key in self.declared_teams)
        self.parents.update((key, parent) for key, parent in from_children.items() if key not in self.parents)
        # No cycles: edges are added one by one, each refused if it would close a loop.
        current = {slug: self.team_slug.get(row["parent_id"]) for slug, row in self.teams.items()}
        current.update(dict.fromkeys(self.parents))
        for key, parent in self.parents.items():
            node, seen = parent, set()
            while node is not None and node != key and node not in seen:
                seen.add(node)
                node = current.get(node)
            if parent is not None and node == key:
                self.parents[key] = None
                if key in groups:
                    groups[key].result.note(f"parent '{parent}' not kept: it would make a cycle of teams")
            else:
                current[key] = parent

        self.team_plan: list[_Planned] = []
        for key, entity in groups.items():
            values = {k: v for k, v in entity.values.items() if not k.startswith("_")} | {"declared_by_import": False}
            row = self.teams.get(key)
            if row is None:
                changes = {k: v for k, v in values.items() if v not in ("", {}, False)}
                if self.parents[key]:
                    changes["parent"] = self.parents[key]
            else:
                changes = self._diff(row, values)
                old_parent = self.team_slug.get(row["parent_id"])
                if old_parent != self.parents[key]:
                    changes["parent"] = [old_parent, self.parents[key]]
            self.team_plan.append(_Planned(key, entity, row, values, changes))
        for key, written in self.declared_teams.items():
            changes = {"declared_by_import": True} | ({"parent": self.parents[key]} if self.parents[key] else {})
            self.team_plan.append(_Planned(key, None, None, {"name": written, "declared_by_import": True}, changes))
        for key, parent in self.parents.items():  # teams of the catalog that a group here lists as children
            row = self.teams.get(key)
            if key not in groups and row is not None and self.team_slug.get(row["parent_id"]) != parent:
                self.team_plan.append(_Planned(key, None, row, {}, {"parent": [self.team_slug.get(row["parent_id"]),
                                                                               parent]}))

    def _plan_users(self) -> None:
        self.user_plan: list[_Planned] = []
        for key, entity in self.entities["User"].items():
            row = self.users.get(key)
            profile = self.profiles.get(row["id"]) if row else None
            values = {"email": entity.values["email"], "display_name": entity.values["display_name"],
                      "picture": entity.values["picture"], "declared_by_import": False}
            profile_values = {k: v for k, v in values.items() if k != "email"}
            if row is None:
                changes = {k: v for k, v in values.items() if v not in ("", False)}
            else:
                changes = self._diff(row, {"email": values["email"]})
                changes |= ({k: [None, v] for k, v in profile_values.items()} if profile is None
                            else self._diff(profile, profile_values))
            self.user_plan.append(_Planned(key, entity, row, {"username": entity.name, **values}, changes))
        for key, written in self.declared_users.items():
            self.user_plan.append(_Planned(key, None, None, {"username": written, "email": "", "display_name": "",
                                                             "picture": "", "declared_by_import": True},
                                           {"declared_by_import": True}))

    def _plan_memberships(self) -> None:
        """A User document's memberOf is its whole list; a Group's members add to whatever else says so."""
        users, groups = self.entities["User"], self.entities["Group"]
        wanted = {key: set(entity.resolved["member_of"]) for key, entity in users.items()}
        listed: set[tuple[str, str]] = set()
        for team, entity in groups.items():
            for member in entity.resolved["members"]:
                listed.add((member, team))
                if member in wanted:
                    wanted[member].add(team)
        desired = listed | {(user, team) for user, teams in wanted.items() for team in teams}
        self.membership_adds = sorted(desired - set(self.memberships))
        self.membership_removes = sorted(pair for pair in self.memberships
                                         if pair[0] in wanted and pair[1] not in wanted[pair[0]])
        before_user: dict[str, set[str]] = defaultdict(set)
        before_team: dict[str, set[str]] = defaultdict(set)
        for user, team in self.memberships:
            before_user[user].add(team)
            before_team[team].add(user)
        after_team = {team: set(members) for team, members in before_team.items()}
        for user, team in self.membership_adds:
            after_team.setdefault(team, set()).add(user)
        for user, team in self.membership_removes:
            after_team[team].discard(user)
        self._lead_changes()
        for planned in self.team_plan:
            entity = planned.entity
            if planned.key in self.releaded_teams:
                planned.changes["leads"] = entity.values["_leads"]
            if entity is not None and entity.refs["has_members"]:
                before, after = before_team.get(planned.key, set()), after_team.get(planned.key, set())
                if before != after:
                    planned.changes["members"] = [sorted(before), sorted(after)] if planned.existing else sorted(after)
            self._settle(planned, "team", "team")
        for planned in self.user_plan:
            if planned.entity is not None and before_user[planned.key] != wanted[planned.key]:
                planned.changes["member_of"] = ([sorted(before_user[planned.key]), sorted(wanted[planned.key])]
                                                if planned.existing else sorted(wanted[planned.key]))
            self._settle(planned, "user", "person")

    def _plan_groupings(self) -> None:
        self.grouping_plan: dict[str, list[_Planned]] = {"Domain": [], "System": []}
        for kind, rows in (("Domain", self.domains), ("System", self.systems)):
            for key, entity in self.entities[kind].items():
                row = rows.get(key)
                values = dict(entity.values)
                relations = {"owner": self._owner_text(entity.resolved["owner"])}
                if kind == "System":
                    relations["domain"] = entity.resolved["domain"]
                if row is None:
                    changes = {k: v for k, v in (values | relations).items() if v}
                else:
                    changes = self._diff(row, values)
                    old = {"owner": self._service_owner({"owner_team_id": row["owner_id"],
                                                         "owner_user_id": row["owner_user_id"]})}
                    if kind == "System":
                        old["domain"] = self.domain_slug.get(row["domain_id"])
                    changes |= {k: [old[k], v] for k, v in relations.items() if old[k] != v}
                planned = _Planned(key, entity, row, values | relations, changes)
                self.grouping_plan[kind].append(planned)
                self._settle(planned, kind.lower(), kind.lower())

    def _plan_services(self) -> None:
        components = self.entities["Component"]
        claims: dict[str, list[str]] = defaultdict(list)
        repositories: dict[str, str | None] = {}
        for key, entity in components.items():
            repository, note = repository_of(entity.values["annotations"])
            if "_repository" in entity.values:  # Slipway's own (an export): the key itself, or none
                repository, note = entity.values["_repository"].lower() or None, None
            if note:
                entity.result.note(note)
            if repository and len(repository) > 300:
                entity.result.note(f"repository {quote(repository)} is longer than 300 characters: not kept")
                repository = None
            repository = repository or self.origin.repository_for(entity.result.file)
            repositories[key] = repository
            if repository:
                claims[repository].append(key)
        holders = {row["repository"]: slug for slug, row in self.services.items() if row["repository"]}
        unknown = sorted(set(claims) - set(holders))
        for chunk in chunks(unknown):
            holders.update(Service.objects.filter(repository__in=chunk).values_list("repository", "slug"))
        for repository, claimants in claims.items():
            # The holder keeps it; else the service named like the repository, else the first by slug:
            # the same winner whatever the order of the documents, so a round trip keeps it.
            holder = holders.get(repository)
            if holder is not None and (holder not in components or holder in claimants):
                winner = holder
            else:
                short = repository.rpartition("/")[2]
                winner = short if short in claimants else min(claimants)
            for key in claimants:
                if key != winner:
                    repositories[key] = None
                    components[key].result.note(f"repository {quote(repository)} belongs to service '{winner}': "
                                                "not kept")

        self.service_plan: list[_Planned] = []
        for key, entity in components.items():
            row = self.services.get(key)
            owner = self._owner_text(entity.resolved["owner"])
            # An owner change is taken from the location holding the service (its repository's owners hand
            # it over); from anywhere else (an unclaimed service being adopted) only with --force.
            held_here = (row is not None and row["origin"] == "location"
                         and row["origin_location_id"] == self.origin.location_id is not None)
            if row is not None and not self.force and not held_here and self._service_owner(row) != owner:
                entity.result.fail(f"service '{key}' is owned by {self._service_owner(row)} in the catalog and this "
                                   f"descriptor says {owner}: nothing of it was changed. If its owner really "
                                   "changes, import again with --force")
                continue
            values = {k: v for k, v in entity.values.items() if not k.startswith("_")} | {
                "repository": repositories[key]}
            values["annotations"] = self._annotations(entity, row)
            relations = {"owner": owner, "system": entity.resolved["system"],
                         "depends_on": sorted(entity.resolved["depends_on"])}
            if row is None:
                changes = {k: v for k, v in (values | relations).items() if v not in ("", None, [], {})}
            else:
                changes = self._diff(row, values)
                old = {"owner": self._service_owner(row), "system": self.system_slug.get(row["system_id"]),
                       "depends_on": sorted(self.dependencies[row["id"]])}
                changes |= {k: [old[k], v] for k, v in relations.items() if old[k] != v}
            links, link_changes = self._component_links(entity, row)
            link_changes |= self._part_changes(entity, row)
            planned = _Planned(key, entity, row, values | relations | links, changes | link_changes)
            self.service_plan.append(planned)
            self._settle(planned, "service", "service")

    def _annotations(self, entity: Entity, row: dict[str, Any] | None) -> dict[str, Any]:
        """The descriptor's annotations, less the marks a provisioning run leaves (claims.RUN_MARKERS:
        they tell a run its own service), which no descriptor sets; those the catalog has are kept."""
        given = dict(entity.values.get("annotations") or {})
        own = {k: v for k, v in ((row or {}).get("annotations") or {}).items() if k in RUN_MARKERS}
        if any(k in RUN_MARKERS for k in given):
            entity.result.note(f"{', '.join(k for k in RUN_MARKERS if k in given)}: set by Slipway's runs only, "
                               "not taken from a descriptor")
        return {k: v for k, v in given.items() if k not in RUN_MARKERS} | own

    def _owner_text(self, owner: tuple[str, str]) -> str:
        """A resolved owner as the plan shows it: the team's slug, or user:<username>."""
        kind, key = owner
        return key if kind == "team" else f"user:{self._username(key)}"

    def _username(self, key: str) -> str:
        """A person's username as the catalog has it, or as the import will create it."""
        if key in self.users:
            return self.users[key]["username"]
        if key in self.entities["User"]:
            return self.entities["User"][key].name
        return self.declared_users.get(key, key)

    def _service_owner(self, row: dict[str, Any]) -> str | None:
        if row["owner_team_id"]:
            return self.team_slug.get(row["owner_team_id"])
        if not row["owner_user_id"]:
            return None
        key = self.user_key.get(row["owner_user_id"])
        return f"user:{self.users[key]['username'] if key else row['owner_user_id']}"

