"""Every write to the catalog, from any interface (service layer, admin, shell), bumps the catalog
generation, so no cached answer outlives the data it was computed from. Tokens and people's accounts
bump the access generation instead (what the API's fast path remembers of tokens): creating a token
or signing in empties no cached catalog answer."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models.signals import m2m_changed, post_delete, post_save

from services.catalog.generation import bump_access_generation, bump_generation
from services.models import (
    ApiToken,
    Domain,
    Environment,
    LinkedIdentity,
    Membership,
    Profile,
    Runbook,
    Service,
    ServiceDependency,
    System,
    Team,
)

CATALOG_MODELS = (Team, Membership, Profile, Domain, System, Service, ServiceDependency, Runbook, Environment)
ACCESS_MODELS = (ApiToken, LinkedIdentity)
# Saves of a person's account that change nothing the catalog shows or the fast path checks: Django
# records the time of each sign-in, and a password change leaves names and tokens as they were.
QUIET_USER_FIELDS = frozenset({"last_login", "password"})


def _bump(sender: Any, **kwargs: Any) -> None:
    if kwargs.get("raw"):
        return  # loaddata: the caller bumps once at the end
    bump_generation()


def _bump_access(sender: Any, **kwargs: Any) -> None:
    if not kwargs.get("raw"):
        bump_access_generation()


def _bump_person(sender: Any, **kwargs: Any) -> None:
    """A person's name is shown in the catalog and whether they are active decides their tokens."""
    update_fields = kwargs.get("update_fields")
    if kwargs.get("raw") or (update_fields and set(update_fields) <= QUIET_USER_FIELDS):
        return
    bump_generation()
    bump_access_generation()


for model in CATALOG_MODELS:
    post_save.connect(_bump, sender=model, dispatch_uid=f"generation-save-{model._meta.label}")
    post_delete.connect(_bump, sender=model, dispatch_uid=f"generation-delete-{model._meta.label}")
for model in ACCESS_MODELS:
    post_save.connect(_bump_access, sender=model, dispatch_uid=f"access-save-{model._meta.label}")
    post_delete.connect(_bump_access, sender=model, dispatch_uid=f"access-delete-{model._meta.label}")
post_save.connect(_bump_person, sender=get_user_model(), dispatch_uid="generation-save-user")
post_delete.connect(_bump_person, sender=get_user_model(), dispatch_uid="generation-delete-user")
m2m_changed.connect(_bump, dispatch_uid="generation-m2m")
