"""Every write to the catalog, from any interface (service layer, admin, shell), bumps the catalog
generation, so no cached answer outlives the data it was computed from."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models.signals import m2m_changed, post_delete, post_save

from services.catalog.generation import bump_generation
from services.models import (
    ApiToken,
    Domain,
    Environment,
    Membership,
    Profile,
    Runbook,
    Service,
    ServiceDependency,
    System,
    Team,
)

CATALOG_MODELS = (Team, Membership, Profile, Domain, System, Service, ServiceDependency, Runbook, Environment, ApiToken,
                  get_user_model())


def _bump(sender: Any, **kwargs: Any) -> None:
    if kwargs.get("raw"):
        return  # loaddata: the caller bumps once at the end
    bump_generation()


for model in CATALOG_MODELS:
    post_save.connect(_bump, sender=model, dispatch_uid=f"generation-save-{model._meta.label}")
    post_delete.connect(_bump, sender=model, dispatch_uid=f"generation-delete-{model._meta.label}")
m2m_changed.connect(_bump, dispatch_uid="generation-m2m")
