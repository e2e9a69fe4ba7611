"""The registry of pipeline actions: small idempotent functions with stable ids.

Each receives a StepContext and returns the step's output (a JSON-able dict). Run twice, an action
finds its own work done and carries on; a repository it did not make is never touched.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from services.catalog import claims, writes
from services.errors import CatalogError
from services.hosts.base import EnvironmentSpec, PermanentHostError, Repository, RepositoryHost
from services.models import Environment, ProvisioningRun, Runbook, RunStep, Service, Team
from services.scaffolder import templates

RUN_ANNOTATION = claims.RUN_ANNOTATION  # server-only: no client sets it (catalog/claims.py)
PROVENANCE_PATH = ".slipway/provenance.json"
RUNBOOK_PATH = "docs/runbook.md"


@dataclass
class StepContext:
    """What an action may use: its run and step, the host, earlier steps' outputs, a log."""

    run: ProvisioningRun
    step: RunStep
    host: RepositoryHost
    lines: list[str] = field(default_factory=list)

    def log(self, message: str) -> None:
        self.lines.append(message)

    def output_of(self, action: str) -> dict[str, Any]:
        step = self.run.steps.filter(action=action, state=RunStep.State.SUCCEEDED).first()
        if step is None:
            raise PermanentHostError(f"step {action} has not succeeded yet")
        return step.output

    def repository(self) -> Repository:
        data = self.output_of("repo.create")
        return Repository(key=data["key"], full_name=data["full_name"], web_url=data["web_url"],
                          clone_url=data["clone_url"], default_branch=data.get("default_branch", "main"))


Action = Callable[[StepContext], dict[str, Any]]
ACTIONS: dict[str, Action] = {}


def action(name: str) -> Callable[[Action], Action]:
    def register(function: Action) -> Action:
        ACTIONS[name] = function
        return function

    return register


def owner_github_team(run: ProvisioningRun) -> str:
    return run.owner.github_team_slug or run.owner.slug


@action("scaffold.render")
def scaffold_render(context: StepContext) -> dict[str, Any]:
    """Render the template with the run's inputs (sandboxed, paths checked) and keep the files."""
    run = context.run
    template = templates.template_get(run.template)
    if template.version != run.template_version:
        context.log(f"template {template.name} changed since the run was accepted "
                    f"({run.template_version} → {template.version}); rendering the current version")
        ProvisioningRun.objects.filter(pk=run.pk).update(template_version=template.version)
        run.template_version = template.version
    values = templates.inputs_validate(template, run.inputs)
    files = templates.scaffold_render(
        template, values, portal=templates.portal_values(template, owner=run.owner.slug, run_id=str(run.pk),
                                                         team=run.owner, service_name=run.service_slug, host=run.host))
    if PROVENANCE_PATH not in files:  # the template has none of its own: record it for upgrades
        files[PROVENANCE_PATH] = json.dumps(
            {"template": template.name, "template_version": template.version, "inputs": values,
             "generator": "slipway", "run_id": str(run.pk)}, indent=2, sort_keys=True) + "\n"
    context.log(f"rendered {len(files)} files from {template.name}@{template.version}")
    return {"files": files}


@action("repo.create")
def repo_create(context: StepContext) -> dict[str, Any]:
    """Create the repository (or find the one this run created before)."""
    run = context.run
    description = str(run.inputs.get("description", ""))[:300]
    repository = context.host.create_repository(name=run.service_slug, description=description, run_id=str(run.pk))
    ProvisioningRun.objects.filter(pk=run.pk).update(
        repository=repository.key, web_url=repository.web_url, clone_url=repository.clone_url)
    context.log(f"repository {repository.full_name} ready at {repository.web_url}")
    return {"key": repository.key, "full_name": repository.full_name, "web_url": repository.web_url,
            "clone_url": repository.clone_url, "default_branch": repository.default_branch}


@action("repo.push")
def repo_push(context: StepContext) -> dict[str, Any]:
    """Push every rendered file in one commit."""
    files = context.output_of("scaffold.render")["files"]
    sha = context.host.push_files(repository=context.repository(), files=files,
                                  message=f"Create {context.run.service_slug} from {context.run.template}",
                                  run_id=str(context.run.pk))
    context.log(f"pushed {len(files)} files in commit {sha[:12]}")
    return {"commit": sha, "files": len(files)}


@action("repo.grant_team")
def repo_grant_team(context: StepContext) -> dict[str, Any]:
    """Give the owning team write access."""
    team = owner_github_team(context.run)
    known = context.run.owner.github_team_id if context.run.host == "github" else None
    result = context.host.grant_team(repository=context.repository(), team=team, permission="push", team_id=known)
    if result.get("team_id") and result["team_id"] != known:
        Team.objects.filter(pk=context.run.owner_id).update(github_team_id=result["team_id"])
    context.log(f"team {team} may push" if "skipped" not in result else f"no team access: {result['skipped']}")
    return {"team": team, "permission": "push", **result}


@action("env.create")
def env_create(context: StepContext) -> dict[str, Any]:
    """Create one deployment environment with its protection rules."""
    params = context.step.params
    reviewers = tuple(owner_github_team(context.run) if r == "owner" else r for r in params.get("reviewers", []))
    grant = context.output_of("repo.grant_team")
    known_ids = {grant["team"]: grant["team_id"]} if grant.get("team_id") else {}
    spec = EnvironmentSpec(name=params["name"], wait_timer=int(params.get("wait_timer", 0)),
                           reviewer_teams=reviewers, branch_policy=str(params.get("branch_policy", "")),
                           reviewer_team_ids=known_ids)
    context.host.create_environment(repository=context.repository(), environment=spec)
    context.log(f"environment {spec.name}: wait {spec.wait_timer} min, reviewers {', '.join(reviewers) or 'none'}"
                + (f", branch {spec.branch_policy}" if spec.branch_policy else ""))
    return {"name": spec.name, "wait_timer": spec.wait_timer, "reviewers": list(reviewers),
            "branch_policy": spec.branch_policy}


@action("repo.protect_branch")
def repo_protect_branch(context: StepContext) -> dict[str, Any]:
    """Require a reviewed pull request to change the default branch."""
    repository = context.repository()
    context.host.protect_branch(repository=repository, branch=repository.default_branch, required_approvals=1)
    context.log(f"branch {repository.default_branch} protected: 1 approving review required")
    return {"branch": repository.default_branch}


@action("catalog.register")
def catalog_register(context: StepContext) -> dict[str, Any]:
    """Register the service with its environments and runbook; the run's annotation marks it ours."""
    run = context.run
    existing = Service.objects.filter(slug=run.service_slug).first()
    if existing is not None:
        if existing.annotations.get(RUN_ANNOTATION) == str(run.pk):
            context.log(f"service {existing.slug} was registered by this run already")
            return {"service": existing.slug}
        raise PermanentHostError(f"a service named {run.service_slug} was registered meanwhile by someone else")
    template = templates.template_get(run.template)
    files = context.output_of("scaffold.render")["files"]
    repository = context.repository()
    with transaction.atomic():
        try:
            service = writes.service_create(
                actor=run.requested_by, slug=run.service_slug, owner=run.owner.slug,
                name=run.service_slug, description=str(run.inputs.get("description", "")),
                repository=repository.key,
                type=str(template.metadata.get("type", "service")),
                lifecycle=str(run.inputs.get("lifecycle", "experimental")),
                language="python", tags=list(template.tags),
                links=[{"url": repository.web_url, "title": "Repository"}] if run.host != "local" else [],
                run_id=run.pk, server_annotations=(
                    {claims.LOCAL_REPOSITORY_ANNOTATION: repository.clone_url} if run.host == "local" else {}),
                template=template.name, template_version=run.template_version,
            )
        except CatalogError as error:
            raise PermanentHostError(f"could not register the service: {error.detail}") from None
        for step in run.steps.filter(action="env.create", state=RunStep.State.SUCCEEDED).order_by("position"):
            out = step.output
            if not Environment.objects.filter(service=service, name=out["name"]).exists():
                writes.environment_create(actor=run.requested_by, service=service, name=out["name"],
                                           required_reviewers=out["reviewers"], wait_timer=out["wait_timer"],
                                           branch_policy=out["branch_policy"])
        if RUNBOOK_PATH in files and not Runbook.objects.filter(service=service).exists():
            writes.runbook_create(actor=run.requested_by, service=service, title=f"{service.slug} runbook",
                                   body=files[RUNBOOK_PATH], slug="runbook")
    context.log(f"service {service.slug} registered, owned by {run.owner.slug}")
    return {"service": service.slug}
