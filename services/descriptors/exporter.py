"""Export: the catalog as multi-document Backstage descriptors that import again into the same catalog."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import yaml
from django.conf import settings
from django.contrib.auth import get_user_model

from services.catalog.refs import is_valid_name
from services.descriptors import extras
from services.descriptors.checks import repository_of
from services.descriptors.parse import (
    API_VERSIONS,
    CHAT_ANNOTATIONS,
    NAME_ANNOTATION,
    PROJECT_SLUG_ANNOTATION,
    SOURCE_LOCATION_ANNOTATION,
    TEAM_SLUG_ANNOTATION,
    BaseDumper,
    key_parts,
)
from services.descriptors.writing import chunks
from services.models import (
    Api,
    Domain,
    EntityLink,
    Environment,
    Membership,
    Profile,
    Resource,
    Runbook,
    Service,
    ServiceDependency,
    System,
    Team,
)

User = get_user_model()

# ---------------------------------------------------------------------------------------------
# Exporting.


@dataclass
class CatalogExport:
    """The catalog as Backstage entities, and what could not be written as Backstage expects it."""

    documents: list[dict[str, Any]]
    warnings: list[str]

    def dump(self) -> str:
        """The documents as one multi-document YAML text."""
        return descriptors_dump(self.documents)


def descriptors_dump(documents: Iterable[dict[str, Any]]) -> str:
    """Multi-document YAML; strings YAML 1.1 would read as booleans or dates are quoted."""
    return yaml.dump_all(documents, Dumper=BaseDumper, sort_keys=False, allow_unicode=True,
                         default_flow_style=False, width=120)


def _entity(kind: str, metadata: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": API_VERSIONS[0], "kind": kind,
            "metadata": {k: v for k, v in metadata.items() if v not in (None, "", [], {})}, "spec": spec}


def key_ref(kind: str, key: str) -> str:
    """The reference to a catalog key (`billing--ledger` -> `system:billing/ledger`)."""
    namespace, name = key_parts(key)
    return f"{kind}:{namespace}/{name}"


def _namespace(row: Any) -> str | None:
    return row.namespace if row.namespace != "default" else None


def _title(display: str, name: str) -> str | None:
    return display if display and display != name else None


def catalog_export(*, include_declared: bool = False) -> CatalogExport:
    """The catalog as Backstage descriptors: Domains, Systems, Groups, Users, then Components.

    Teams and people that an import only declared (named, never described) are left out unless
    `include_declared`: importing the export declares them again from the references.
    """
    warnings: list[str] = []
    teams = list(Team.objects.order_by("slug"))
    team_names = {team.pk: (team.annotations or {}).get(NAME_ANNOTATION) or key_parts(team.slug)[1] for team in teams}
    team_namespaces = {team.pk: team.namespace for team in teams}

    def group_ref(team_id: int) -> str:
        return f"group:{team_namespaces[team_id]}/{team_names[team_id]}"

    profiles = {profile.user_id: profile for profile in Profile.objects.all()}
    memberships = list(Membership.objects.values_list("team_id", "user_id", "role"))
    service_rows = list(Service.objects.order_by("slug"))
    namespaced_rows = {kind: list(model.objects.order_by("namespace", "slug"))
                       for kind, model in (("API", Api), ("Resource", Resource))}
    groupings = [row for model in (Domain, System) for row in model.objects.filter(owner_user__isnull=False)]
    user_ids = set(profiles) | {user_id for _, user_id, _ in memberships} | {
        row.owner_user_id for row in groupings} | {
        s.owner_user_id for s in service_rows if s.owner_user_id} | {
        row.owner_user_id for rows in namespaced_rows.values() for row in rows if row.owner_user_id}
    users: dict[int, Any] = {}
    for chunk in chunks(sorted(user_ids)):
        users.update((user.pk, user) for user in User.objects.filter(pk__in=chunk))

    def user_ref(user_id: int) -> str:
        return f"user:default/{users[user_id].get_username()}"

    def grouping_owner(row: Domain | System, kind: str) -> dict[str, str]:
        if row.owner_id:
            return {"owner": group_ref(row.owner_id)}
        if row.owner_user_id:
            return {"owner": user_ref(row.owner_user_id)}
        warnings.append(f"{kind} '{row.slug}' has no owner; Backstage requires spec.owner.")
        return {}

    documents: list[dict[str, Any]] = []
    for domain in Domain.objects.order_by("slug"):
        name = key_parts(domain.slug)[1]  # the original case of a name is not kept; references ignore case
        spec: dict[str, Any] = grouping_owner(domain, "Domain")
        documents.append(_entity("Domain", {"name": name, "namespace": _namespace(domain), "title": _title(domain.name, name),
                                            "description": domain.description}, spec))
    domain_slugs = dict(Domain.objects.values_list("pk", "slug"))
    for system in System.objects.order_by("slug"):
        name = key_parts(system.slug)[1]  # the original case of a name is not kept; references ignore case
        spec = grouping_owner(system, "System")
        if system.domain_id:
            spec["domain"] = key_ref("domain", domain_slugs[system.domain_id])
        documents.append(_entity("System", {"name": name, "namespace": _namespace(system), "title": _title(system.name, name),
                                            "description": system.description}, spec))

    members: dict[int, list[int]] = defaultdict(list)
    member_of: dict[int, list[int]] = defaultdict(list)
    leads: dict[int, list[int]] = defaultdict(list)
    for team_id, user_id, role in memberships:
        members[team_id].append(user_id)
        member_of[user_id].append(team_id)
        if role == Membership.Role.LEAD:
            leads[team_id].append(user_id)
    children: dict[int, list[int]] = defaultdict(list)
    for team in teams:
        if team.parent_id:
            children[team.parent_id].append(team.pk)
    for team in teams:
        if team.declared_by_import and not include_declared:
            continue
        name = team_names[team.pk]
        if not is_valid_name(name):
            warnings.append(f"Team '{team.slug}' is not a valid Backstage name: not exported.")
            continue
        annotations = {k: v for k, v in (team.annotations or {}).items() if k != NAME_ANNOTATION}
        # A field Backstage has an annotation for is written there (marked derived: the import drops it
        # again); what no annotation says is written as Slipway's own (descriptors/extras.py).
        made: list[str] = []
        chat = next((annotations[key] for key in CHAT_ANNOTATIONS if annotations.get(key)), "")
        if team.chat_channel and not chat:
            annotations[CHAT_ANNOTATIONS[0]] = team.chat_channel
            made.append(CHAT_ANNOTATIONS[0])
        elif team.chat_channel != chat:
            annotations[extras.CHAT_CHANNEL] = team.chat_channel
        github_team = annotations.get(TEAM_SLUG_ANNOTATION, "").rpartition("/")[2]
        if team.github_team_slug and not github_team and settings.SLIPWAY_GITHUB_ORG:
            annotations[TEAM_SLUG_ANNOTATION] = f"{settings.SLIPWAY_GITHUB_ORG}/{team.github_team_slug}"
            made.append(TEAM_SLUG_ANNOTATION)
        elif team.github_team_slug != github_team:
            annotations[extras.GITHUB_TEAM] = team.github_team_slug
        if made:
            annotations[extras.DERIVED] = ",".join(made)
        if team.on_call:
            annotations[extras.ON_CALL] = team.on_call
        if leads[team.pk]:
            annotations[extras.LEADS] = ",".join(sorted(users[user_id].get_username() for user_id in leads[team.pk]))
        profile = {k: v for k, v in (("displayName", _title(team.name, name)), ("email", team.email)) if v}
        spec = {"type": team.team_type or "team"}
        if profile:
            spec["profile"] = profile
        if team.parent_id:
            spec["parent"] = group_ref(team.parent_id)
        spec["children"] = sorted(group_ref(child) for child in children[team.pk])
        if members[team.pk]:
            spec["members"] = sorted(user_ref(user_id) for user_id in members[team.pk])
        documents.append(_entity("Group", {"name": name, "namespace": _namespace(team), "description": team.description,
                                           "annotations": annotations}, spec))

    for user_id in sorted(users, key=lambda pk: users[pk].get_username().lower()):
        user, profile = users[user_id], profiles.get(user_id)
        described = (profile is not None and (include_declared or not profile.declared_by_import)) or (
            profile is None and user_id in member_of)
        if not described:
            continue
        if not is_valid_name(user.get_username()):
            warnings.append(f"User '{user.get_username()}' is not a valid Backstage name: not exported.")
            continue
        user_profile = {k: v for k, v in (("displayName", profile.display_name if profile else ""),
                                          ("email", user.email), ("picture", profile.picture if profile else "")) if v}
        spec = {"profile": user_profile} if user_profile else {}
        spec["memberOf"] = sorted(group_ref(team_id) for team_id in member_of[user_id])
        documents.append(_entity("User", {"name": user.get_username()}, spec))

    system_slugs = dict(System.objects.values_list("pk", "slug"))
    links: dict[tuple[str, int], dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for service_id, resource_id, relation, target_ref in EntityLink.objects.order_by("target_ref").values_list(
            "service_id", "resource_id", "relation", "target_ref"):
        source = ("service", service_id) if service_id else ("resource", resource_id)
        links[source][relation].append(target_ref)

    def owner_ref(row: Any) -> str:
        return group_ref(row.owner_team_id) if row.owner_team_id else user_ref(row.owner_user_id)

    for kind, rows in namespaced_rows.items():
        for row in rows:
            spec = {"type": row.type}
            if kind == "API":
                spec["lifecycle"] = row.lifecycle
            spec["owner"] = owner_ref(row)
            if row.system_id:
                spec["system"] = key_ref("system", system_slugs[row.system_id])
            if kind == "API":
                if row.definition_placeholder:
                    spec["definition"] = {row.definition_placeholder: row.definition_target}
                elif row.definition:
                    spec["definition"] = row.definition
                if row.remotes:
                    spec["remotes"] = list(row.remotes)
            else:
                spec |= {relation: targets for relation, targets in links[("resource", row.pk)].items()}
            documents.append(_entity(kind, {
                "name": row.name, "namespace": row.namespace if row.namespace != "default" else None,
                "title": row.title, "description": row.description, "tags": list(row.tags or []),
                "links": list(row.links or []), "annotations": dict(row.annotations or {})}, spec))

    dependencies: dict[int, list[str]] = defaultdict(list)
    for service_id, target_ref in ServiceDependency.objects.order_by("target_ref").values_list(
            "service_id", "target_ref"):
        dependencies[service_id].append(target_ref)
    environments: dict[int, list[Environment]] = defaultdict(list)
    for environment in Environment.objects.order_by("name"):
        environments[environment.service_id].append(environment)
    runbooks: dict[int, list[Runbook]] = defaultdict(list)
    for runbook in Runbook.objects.order_by("slug").only("service", "slug", "title", "body", "last_reviewed"):
        runbooks[runbook.service_id].append(runbook)
    for service in service_rows:
        annotations = dict(service.annotations or {})
        name = annotations.pop(NAME_ANNOTATION, None) or key_parts(service.slug)[1]
        named = repository_of(annotations)[0]
        if service.repository and named is None and PROJECT_SLUG_ANNOTATION not in annotations \
                and SOURCE_LOCATION_ANNOTATION not in annotations:
            host, _, repository_path = service.repository.partition("/")
            key = PROJECT_SLUG_ANNOTATION if host == settings.SLIPWAY_DEFAULT_GIT_HOST else SOURCE_LOCATION_ANNOTATION
            annotations[key] = repository_path if key == PROJECT_SLUG_ANNOTATION else f"url:https://{service.repository}"
            annotations[extras.DERIVED] = key
        elif (service.repository or None) != named:
            annotations[extras.REPOSITORY] = service.repository or ""
        annotations |= {key: value for key, value in (
            (extras.TIER, str(service.tier) if service.tier else ""), (extras.LANGUAGE, service.language),
            (extras.TEMPLATE, service.template), (extras.TEMPLATE_VERSION, service.template_version),
            (extras.ARCHIVED, "true" if service.archived else "")) if value}
        if environments[service.pk]:
            annotations[extras.ENVIRONMENTS] = extras.environments_annotation(environments[service.pk])
        if runbooks[service.pk]:
            annotations[extras.RUNBOOKS] = extras.runbooks_annotation(runbooks[service.pk])
        # Backstage requires type and lifecycle; Slipway allows them blank.
        spec = {"type": service.type or "unknown", "lifecycle": service.lifecycle or "unknown",
                "owner": owner_ref(service)}
        if service.system_id:
            spec["system"] = key_ref("system", system_slugs[service.system_id])
        if dependencies[service.pk]:
            spec["dependsOn"] = dependencies[service.pk]
        spec |= {relation: targets for relation, targets in links[("service", service.pk)].items()}
        documents.append(_entity("Component", {
            "name": name, "namespace": _namespace(service), "title": _title(service.name, name), "description": service.description,
            "tags": list(service.tags or []), "links": list(service.links or []), "annotations": annotations,
        }, spec))
    return CatalogExport(documents=documents, warnings=warnings)
