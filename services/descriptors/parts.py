"""A service's environments and runbooks, and a team's leads, in an import: given by the descriptor's
`slipway.dev/` annotations (descriptors/extras.py), each a whole list, compared with the catalog's and
written through the service layer (catalog/writes.py: validated, audited, a runbook's revisions kept).

Only descriptors that carry them pay for them: an export does, a repository's descriptor rarely."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from services.catalog import writes
from services.descriptors.checks import Entity
from services.descriptors.writing import _update, chunks
from services.models import Environment, Membership, Runbook, Service

ENVIRONMENT_KEYS = ("name", "url", "required_reviewers", "wait_timer", "branch_policy")
RUNBOOK_KEYS = ("slug", "title", "body", "last_reviewed")


class Parts:
    """The environments, runbooks and leads half of an import (importer.py mixes it in)."""

    def _load_parts(self) -> None:
        """The environments and runbooks of the services whose descriptors list theirs."""
        self.part_rows: dict[str, dict[int, list[dict[str, Any]]]] = {"environments": defaultdict(list),
                                                                     "runbooks": defaultdict(list)}
        for name, model, keys in (("environments", Environment, ENVIRONMENT_KEYS), ("runbooks", Runbook, RUNBOOK_KEYS)):
            ids = [self.services[key]["id"] for key, entity in self.entities["Component"].items()
                   if f"_{name}" in entity.values and key in self.services]
            for chunk in chunks(ids):
                for row in model.objects.filter(service_id__in=chunk).order_by(keys[0]).values("id", "service_id",
                                                                                                 *keys):
                    self.part_rows[name][row["service_id"]].append(row)

    def _part_changes(self, entity: Entity, row: dict[str, Any] | None) -> dict[str, Any]:
        """The changes to the environments and runbooks a descriptor lists (names only: bodies are long)."""
        changes: dict[str, Any] = {}
        for name, keys in (("environments", ENVIRONMENT_KEYS), ("runbooks", RUNBOOK_KEYS)):
            wanted = entity.values.get(f"_{name}")
            if wanted is None:
                continue
            held = [{key: item[key] for key in keys} for item in self.part_rows[name].get(row["id"], [])] if row else []
            if held != wanted:
                changes[name] = [[item[keys[0]] for item in held], [item[keys[0]] for item in wanted]] if row \
                    else [item[keys[0]] for item in wanted]
        return changes

    def _apply_parts(self) -> bool:
        """Write the environments and runbooks of the services whose descriptors list them, changed ones only."""
        wrote = False
        planned = [p for p in self.service_plan if p.entity.result.outcome != "invalid"
                   and ({"environments", "runbooks"} & set(p.changes))]
        services = {service.pk: service for chunk in chunks([self.service_ids[p.key] for p in planned])
                    for service in Service.objects.filter(pk__in=chunk)}
        for plan in planned:
            service = services[self.service_ids[plan.key]]
            if "environments" in plan.changes:
                self._write_environments(service, plan.entity.values["_environments"])
            if "runbooks" in plan.changes:
                self._write_runbooks(service, plan.entity.values["_runbooks"])
            wrote = True
        return wrote

    def _write_environments(self, service: Service, wanted: list[dict[str, Any]]) -> None:
        held = {environment.name: environment for environment in Environment.objects.filter(service=service)}
        for environment in held.values():
            if environment.name not in {item["name"] for item in wanted}:
                writes.environment_delete(actor=self.actor, environment=environment)
        for item in wanted:
            fields = {key: item[key] for key in ENVIRONMENT_KEYS if key != "name"}
            if item["name"] in held:
                writes.environment_update(actor=self.actor, environment=held[item["name"]], data=fields)
            else:
                writes.environment_create(actor=self.actor, service=service, name=item["name"], **fields)

    def _write_runbooks(self, service: Service, wanted: list[dict[str, Any]]) -> None:
        held = {runbook.slug: runbook for runbook in Runbook.objects.filter(service=service)}
        for runbook in held.values():
            if runbook.slug not in {item["slug"] for item in wanted}:
                writes.runbook_delete(actor=self.actor, runbook=runbook)
        for item in wanted:
            runbook = held.get(item["slug"])
            if runbook is None:
                runbook = writes.runbook_create(actor=self.actor, service=service, slug=item["slug"],
                                                title=item["title"], body=item["body"],
                                                last_reviewed=item["last_reviewed"])
                if item["last_reviewed"] is None:  # never reviewed, as the descriptor says (not "today")
                    Runbook.objects.filter(pk=runbook.pk).update(last_reviewed=None)
            else:
                writes.runbook_update(actor=self.actor, runbook=runbook,
                                      data={key: item[key] for key in ("title", "body", "last_reviewed")})

    # -- leads -------------------------------------------------------------------------------------

    def _lead_changes(self) -> None:
        """Roles a group's `slipway.dev/leads` sets: its members are leads when named, members when not."""
        self.role_updates: list[dict[str, Any]] = []
        self.lead_pairs: set[tuple[str, str]] = set()
        self.releaded_teams: set[str] = set()
        removed = set(self.membership_removes)
        for team, entity in self.entities["Group"].items():
            leads = entity.values.get("_leads")
            if leads is None:
                continue
            self.lead_pairs.update((user, team) for user in leads)
            for pair, row_id in self.memberships.items():
                if pair[1] == team and pair not in removed:
                    role = Membership.Role.LEAD if pair[0] in leads else Membership.Role.MEMBER
                    if self.membership_roles.get(pair) != role:
                        self.role_updates.append({"id": row_id, "role": role.value})
                        self.releaded_teams.add(team)

    def _apply_roles(self) -> bool:
        _update(Membership, self.role_updates)
        return bool(self.role_updates)
