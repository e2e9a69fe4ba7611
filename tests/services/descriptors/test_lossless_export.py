"""Export is lossless: `export_catalog` then `import_catalog` into an empty catalog gives back every field
of every entry of the demo organisation (tier, language, environments and their protection, runbooks,
teams' GitHub slugs, on-call and leads, owners of systems and domains that are people), compared field
by field. Made-here timestamps, ids and origins are the only differences (the import is the new origin)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import models

from services.catalog.demo import demo_load
from services.models import (
    Api,
    AuditEvent,
    Domain,
    EntityLink,
    Environment,
    Membership,
    Profile,
    Resource,
    Runbook,
    RunbookRevision,
    Service,
    ServiceDependency,
    System,
    Team,
)

pytestmark = pytest.mark.django_db
User = get_user_model()

SKIPPED = {"id", "created_at", "updated_at", "origin", "origin_location", "origin_path", "orphaned_at", "search",
           "password", "last_login", "date_joined"}


def _value(row: models.Model, field: models.Field) -> Any:
    """A field's value, a relation as the natural key of what it names."""
    if isinstance(field, models.ForeignKey):
        target = getattr(row, field.name)
        if target is None:
            return None
        return target.get_username() if isinstance(target, User) else getattr(target, "slug", None) or str(target)
    return getattr(row, field.attname)


def snapshot() -> dict[str, dict[str, dict[str, Any]]]:
    """Every field of every catalog row, keyed by natural keys."""
    tables: dict[str, tuple[type[models.Model], Any]] = {
        "team": (Team, lambda r: r.slug), "user": (User, lambda r: r.username),
        "profile": (Profile, lambda r: r.user.username), "membership": (Membership, lambda r: f"{r.user}@{r.team}"),
        "domain": (Domain, lambda r: r.slug), "system": (System, lambda r: r.slug),
        "service": (Service, lambda r: r.slug), "dependency": (ServiceDependency, lambda r: f"{r.service}>{r.target_ref}"),
        "environment": (Environment, lambda r: f"{r.service}/{r.name}"),
        "runbook": (Runbook, lambda r: f"{r.service}/{r.slug}"),
        "api": (Api, lambda r: f"{r.namespace}/{r.slug}"), "resource": (Resource, lambda r: f"{r.namespace}/{r.slug}"),
        "link": (EntityLink, lambda r: f"{r.service or r.resource}:{r.relation}>{r.target_ref}"),
    }
    taken: dict[str, dict[str, dict[str, Any]]] = {}
    for table, (model, key) in tables.items():
        fields = [f for f in model._meta.concrete_fields if f.name not in SKIPPED]
        taken[table] = {key(row): {f.name: _value(row, f) for f in fields} for row in model.objects.all()}
    return taken


def wipe() -> None:
    for model in (EntityLink, Api, Resource, RunbookRevision, Runbook, Environment, ServiceDependency, Service,
                  System, Domain, Membership, Profile, Team, User):
        model.objects.all().delete()
    AuditEvent._base_manager.all().delete()  # the default manager refuses: the log is append-only


def test_export_then_import_into_an_empty_catalog_gives_back_every_field_of_the_demo_data(tmp_path: Path):
    demo_load()
    # What the demo does not have, so the round trip covers it too: a system and a domain owned by a
    # person, a team with no GitHub team and no on-call, a never-reviewed runbook, an archived service
    # made from a template, an API and a resource in another namespace, links between them.
    person = User.objects.order_by("username").first()
    System.objects.filter(pk=System.objects.order_by("slug").first().pk).update(owner=None, owner_user=person)
    Domain.objects.filter(pk=Domain.objects.order_by("slug").first().pk).update(owner=None, owner_user=person)
    Team.objects.filter(pk=Team.objects.order_by("slug").last().pk).update(github_team_slug="", on_call="")
    Runbook.objects.filter(pk=Runbook.objects.order_by("pk").first().pk).update(last_reviewed=None)
    service = Service.objects.order_by("slug").last()
    Service.objects.filter(pk=service.pk).update(archived=True, template="python-service", template_version="1.4.0",
                                                 repository=None)
    team = Team.objects.order_by("slug").first()
    api = Api.objects.create(namespace="billing", slug="ledger", name="Ledger", type="openapi", lifecycle="production",
                             owner_team=team, definition="openapi: 3.0.0\n", definition_state="inline")
    Resource.objects.create(namespace="default", slug="ledger-db", name="ledger-db", type="database", owner_user=person)
    EntityLink.objects.create(service=service, relation="providesApis", target_ref=api.ref)
    before = snapshot()
    assert before["environment"] and before["runbook"] and any(r["role"] == "lead" for r in before["membership"].values())
    assert any(row["tier"] for row in before["service"].values()) and any(
        row["language"] for row in before["service"].values())

    exported = tmp_path / "catalog.yaml"
    call_command("export_catalog", "--output", str(exported))
    wipe()
    call_command("import_catalog", str(exported))
    after = snapshot()

    for table, rows in before.items():
        assert set(after[table]) == set(rows), table
        for key, fields in rows.items():
            for name, value in fields.items():
                assert after[table][key][name] == value, f"{table} {key}: {name} {after[table][key][name]!r} != {value!r}"
