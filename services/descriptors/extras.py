"""Slipway's own fields in a descriptor: what Backstage has no field for (a service's tier, language,
template, environments and runbooks; a team's on-call, chat channel, GitHub team and leads), carried
as `slipway.dev/` annotations so that `export_catalog` then `import_catalog` gives every field back.

Each is optional: a descriptor without one leaves the field as the catalog has it (environments and
runbooks made in the portal are never wiped by a repository's descriptor that does not list them);
one that has it states the whole value (the list of environments is the service's environments).
The importer takes them out of the annotations into their fields; they are never kept as annotations."""

from __future__ import annotations

import datetime
import json
from typing import Any

from services.catalog.refs import ENVIRONMENT_NAME_PATTERN, quote
from services.descriptors.fields import _Checks

PREFIX = "slipway.dev/"
TIER, LANGUAGE, TEMPLATE, TEMPLATE_VERSION, ARCHIVED, REPOSITORY = (
    f"{PREFIX}{name}" for name in ("tier", "language", "template", "template-version", "archived", "repository"))
ENVIRONMENTS, RUNBOOKS = f"{PREFIX}environments", f"{PREFIX}runbooks"
ON_CALL, CHAT_CHANNEL, GITHUB_TEAM, LEADS = (
    f"{PREFIX}{name}" for name in ("on-call", "chat-channel", "github-team-slug", "leads"))
# Backstage annotations the export wrote from a field (github.com/project-slug from the repository): the
# import reads the field from them, then drops them, so the entry's own annotations come back unchanged.
DERIVED = f"{PREFIX}derived"
COMPONENT_EXTRAS = (TIER, LANGUAGE, TEMPLATE, TEMPLATE_VERSION, ARCHIVED, REPOSITORY, ENVIRONMENTS, RUNBOOKS)
GROUP_EXTRAS = (ON_CALL, CHAT_CHANNEL, GITHUB_TEAM, LEADS)
# Service columns a descriptor sets only with their `slipway.dev/` annotation.
SERVICE_EXTRA_COLUMNS = ("tier", "language", "template", "template_version", "archived")
MOST_ENVIRONMENTS = 50  # a service's environments in one descriptor
MOST_RUNBOOKS = 100
MOST_RUNBOOK_CHARACTERS = 200_000  # catalog.markdown's bound on one body
ENVIRONMENT_FIELDS = ("name", "url", "required_reviewers", "wait_timer", "branch_policy")
RUNBOOK_FIELDS = ("slug", "title", "body", "last_reviewed")


def _path(key: str) -> str:
    return f"metadata.annotations.{key}"


def _text(checks: _Checks, annotations: dict[str, Any], key: str, limit: int) -> str | None:
    value = annotations.pop(key, None)
    if value is not None and len(value) > limit:
        checks.fail(f"{_path(key)} is longer than {limit} characters")
        return None
    return value


def _json_list(checks: _Checks, annotations: dict[str, Any], key: str, most: int) -> list[dict[str, Any]] | None:
    text = annotations.pop(key, None)
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        checks.fail(f"{_path(key)} is not JSON")
        return None
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value) or len(value) > most:
        checks.fail(f"{_path(key)} must be a JSON list of at most {most} objects")
        return None
    return value


def derived(annotations: dict[str, Any]) -> list[str]:
    """The annotation keys an export derived from fields (taken out of `annotations`)."""
    return [key.strip() for key in annotations.pop(DERIVED, "").split(",") if key.strip()]


def component_extras(checks: _Checks, annotations: dict[str, Any]) -> dict[str, Any]:
    """The component's `slipway.dev/` fields, taken out of `annotations`: column values, and
    `_environments`/`_runbooks` (whole lists, written after the service) when given."""
    values: dict[str, Any] = {"_derived": derived(annotations)}
    tier = annotations.pop(TIER, None)
    if tier is not None:
        if tier not in ("1", "2", "3"):
            checks.fail(f"{_path(TIER)} must be 1, 2 or 3, not {quote(tier)}")
        else:
            values["tier"] = int(tier)
    for key, column, limit in ((LANGUAGE, "language", 50), (TEMPLATE, "template", 100),
                               (TEMPLATE_VERSION, "template_version", 100), (REPOSITORY, "_repository", 300)):
        text = _text(checks, annotations, key, limit)
        if text is not None:
            values[column] = text
    archived = annotations.pop(ARCHIVED, None)
    if archived is not None:
        if archived not in ("true", "false"):
            checks.fail(f"{_path(ARCHIVED)} must be true or false")
        else:
            values["archived"] = archived == "true"
    environments = _json_list(checks, annotations, ENVIRONMENTS, MOST_ENVIRONMENTS)
    if environments is not None:
        values["_environments"] = _environments(checks, environments)
    runbooks = _json_list(checks, annotations, RUNBOOKS, MOST_RUNBOOKS)
    if runbooks is not None:
        values["_runbooks"] = _runbooks(checks, runbooks)
    return values


def _environments(checks: _Checks, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    kept: list[dict[str, Any]] = []
    names: set[str] = set()
    for index, item in enumerate(items):
        where = f"{_path(ENVIRONMENTS)}[{index}]"
        name, url, branch = item.get("name"), item.get("url", ""), item.get("branch_policy", "")
        reviewers, wait = item.get("required_reviewers", []), item.get("wait_timer", 0)
        problems = []
        if not isinstance(name, str) or not ENVIRONMENT_NAME_PATTERN.match(name) or name.lower() in names:
            problems.append("name must be a unique environment name")
        if not isinstance(url, str) or len(url) > 500 or (url and not url.startswith(("https://", "http://"))):
            problems.append("url must be an http(s) URL of at most 500 characters")
        if not isinstance(branch, str) or len(branch) > 200:
            problems.append("branch_policy must be at most 200 characters")
        if not isinstance(reviewers, list) or len(reviewers) > 20 or not all(
                isinstance(r, str) and 0 < len(r) <= 150 for r in reviewers):
            problems.append("required_reviewers must be a list of at most 20 names")
        if not isinstance(wait, int) or isinstance(wait, bool) or not 0 <= wait <= 43_200:
            problems.append("wait_timer must be minutes from 0 to 43,200")
        for problem in problems:
            checks.fail(f"{where}: {problem}")
        if not problems:
            names.add(name.lower())
            kept.append({"name": name, "url": url, "required_reviewers": list(reviewers), "wait_timer": wait,
                         "branch_policy": branch})
    return sorted(kept, key=lambda environment: environment["name"])


def _runbooks(checks: _Checks, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    kept: list[dict[str, Any]] = []
    slugs: set[str] = set()
    for index, item in enumerate(items):
        where = f"{_path(RUNBOOKS)}[{index}]"
        slug, title, body, reviewed = item.get("slug"), item.get("title"), item.get("body", ""), item.get(
            "last_reviewed")
        problems = []
        if not isinstance(slug, str) or not 0 < len(slug) <= 100 or slug in slugs or not slug.replace(
                "-", "").replace("_", "").isalnum():
            problems.append("slug must be a unique slug of at most 100 characters")
        if not isinstance(title, str) or not 0 < len(title) <= 200:
            problems.append("title must be 1-200 characters")
        if not isinstance(body, str) or len(body) > MOST_RUNBOOK_CHARACTERS:
            problems.append(f"body must be text of at most {MOST_RUNBOOK_CHARACTERS:,} characters")
        date = None
        if reviewed is not None:
            try:
                date = datetime.date.fromisoformat(reviewed) if isinstance(reviewed, str) else None
            except ValueError:
                date = None
            if date is None:
                problems.append("last_reviewed must be a date (YYYY-MM-DD)")
        for problem in problems:
            checks.fail(f"{where}: {problem}")
        if not problems:
            slugs.add(slug)
            kept.append({"slug": slug, "title": title, "body": body, "last_reviewed": date})
    return sorted(kept, key=lambda runbook: runbook["slug"])


def group_extras(checks: _Checks, annotations: dict[str, Any]) -> dict[str, Any]:
    """The group's `slipway.dev/` fields, taken out of `annotations`."""
    values: dict[str, Any] = {"_derived": derived(annotations)}
    for key, column, limit in ((ON_CALL, "on_call", 500), (CHAT_CHANNEL, "chat_channel", 200),
                               (GITHUB_TEAM, "github_team_slug", 100)):
        text = _text(checks, annotations, key, limit)
        if text is not None:
            values[column] = text
    leads = annotations.pop(LEADS, None)
    if leads is not None:
        values["_leads"] = sorted({name.strip().lower() for name in leads.split(",") if name.strip()})
    return values


# -- exporting -------------------------------------------------------------------------------------


def environments_annotation(environments: list[Any]) -> str:
    return json.dumps([{name: getattr(environment, name) for name in ENVIRONMENT_FIELDS}
                       for environment in sorted(environments, key=lambda e: e.name)], ensure_ascii=False)


def runbooks_annotation(runbooks: list[Any]) -> str:
    return json.dumps([{"slug": runbook.slug, "title": runbook.title, "body": runbook.body,
                        "last_reviewed": runbook.last_reviewed.isoformat() if runbook.last_reviewed else None}
                       for runbook in sorted(runbooks, key=lambda r: r.slug)], ensure_ascii=False)
