"""Teams, their members and people: create and change teams (no cycles in the hierarchy), set and
remove members (a team keeps its last lead), create or update a person. Every write validated, in one
transaction, audited, like writes.py's."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from services.access.permissions import forget_roles
from services.audit import audit_record
from services.catalog.refs import quote
from services.catalog.writes import TEAM_FIELDS, _changes, _plain, resolve_team, validate_team_slug
from services.errors import Conflict, InvalidInput
from services.models import Membership, Profile, Team

User = get_user_model()


@transaction.atomic
def team_create(*, actor: Any, slug: str, name: str = "", parent: str | None = None, **fields: Any) -> Team:
    """Create a team (a group of people that owns services)."""
    slug = validate_team_slug(slug)
    if Team.objects.filter(slug=slug).exists():
        raise Conflict(f"A team named {quote(slug)} exists already.", {"slug": ["already taken"]})
    unknown = set(fields) - set(TEAM_FIELDS) - {"declared_by_import"}
    if unknown:
        raise InvalidInput(f"Unknown fields: {', '.join(sorted(unknown))}.", {f: ["unknown field"] for f in unknown})
    try:
        with transaction.atomic():
            team = Team.objects.create(slug=slug, name=name or slug,
                                       parent=resolve_team(parent, field="parent") if parent else None, **fields)
    except IntegrityError:  # created by another request between the check above and this insert
        raise Conflict(f"A team named {quote(slug)} exists already.", {"slug": ["already taken"]}) from None
    audit_record(actor=actor, action="team.create", obj=team, changes={k: _plain(v) for k, v in fields.items()})
    return team


def _check_parent(team: Team, parent: Team | None) -> None:
    seen = set()
    node = parent
    while node is not None:
        if node.pk == team.pk:
            raise InvalidInput.field("parent", "a team cannot be its own ancestor")
        if node.pk in seen:
            break
        seen.add(node.pk)
        node = node.parent


@transaction.atomic
def team_update(*, actor: Any, team: Team, data: dict[str, Any]) -> Team:
    """Change some fields of a team (its parent included; cycles are refused)."""
    data = dict(data)
    values: dict[str, Any] = {}
    if "parent" in data:
        parent_slug = data.pop("parent")
        parent = resolve_team(parent_slug, field="parent") if parent_slug else None
        _check_parent(team, parent)
        values["parent"] = parent
    unknown = set(data) - set(TEAM_FIELDS) - {"declared_by_import"}
    if unknown:
        raise InvalidInput(f"Unknown fields: {', '.join(sorted(unknown))}.", {f: ["unknown field"] for f in unknown})
    values.update(data)
    changes = _changes(team, values)
    if "github_team_slug" in changes:
        team.github_team_id = None  # learnt again from GitHub by the next run
    if changes:
        team.save()
        audit_record(actor=actor, action="team.update", obj=team, changes=changes)
    return team


def _keep_a_lead(actor: Any, team: Team, user: Any, *, field: str) -> None:
    """A team that has a lead keeps one: its last lead is not removed or made a member (409), except by
    a platform admin. The team's row is locked first, so two leads stepping down at once cannot both
    go (call inside the write's transaction)."""
    Team.objects.select_for_update().filter(pk=team.pk).first()
    leads = list(Membership.objects.filter(team=team, role=Membership.Role.LEAD).values_list("user_id", flat=True)[:2])
    if leads == [user.pk] and not getattr(actor, "is_staff", False):
        raise Conflict(f"{user.get_username()} is the last lead of {team.slug}: make someone else lead first "
                       f"(a platform admin may leave a team without a lead).",
                       {field: ["the team's last lead"]})


@transaction.atomic
def membership_set(*, actor: Any, team: Team, user: Any, role: str = Membership.Role.MEMBER) -> Membership:
    """Add a person to a team, or change their role in it."""
    if role not in Membership.Role.values:
        raise InvalidInput.field("role", f"one of {', '.join(Membership.Role.values)}")
    if role != Membership.Role.LEAD:
        _keep_a_lead(actor, team, user, field="role")
    membership, created = Membership.objects.get_or_create(team=team, user=user, defaults={"role": role})
    if created or membership.role != role:
        old = None if created else membership.role
        membership.role = role
        membership.save()
        audit_record(actor=actor, action="team.member_set", obj=team,
                     changes={"member": user.get_username(), "role": [old, role]})
    forget_roles(actor, user)
    return membership


@transaction.atomic
def membership_remove(*, actor: Any, team: Team, user: Any) -> None:
    """Take a person out of a team."""
    _keep_a_lead(actor, team, user, field="username")
    deleted, _ = Membership.objects.filter(team=team, user=user).delete()
    if deleted:
        audit_record(actor=actor, action="team.member_remove", obj=team, changes={"member": user.get_username()})
    forget_roles(actor, user)


@transaction.atomic
def person_upsert(*, actor: Any, username: str, email: str = "", display_name: str = "",
                  declared_by_import: bool = False) -> Any:
    """Create or update a person (a Django user with a profile)."""
    user = User.objects.filter(username__iexact=username).first()
    created = user is None
    changes: dict[str, Any] = {}
    if created:
        user = User.objects.create_user(username=username, email=email)
        user.set_unusable_password()
        user.save()
        changes = {"email": email, "display_name": display_name}
    elif email and user.email != email:
        changes["email"] = [user.email, email]
        user.email = email
        user.save(update_fields=["email"])
    profile, _ = Profile.objects.get_or_create(user=user, defaults={"declared_by_import": declared_by_import})
    if display_name and profile.display_name != display_name:
        changes.setdefault("display_name", [profile.display_name, display_name])
        profile.display_name = display_name
        profile.save()
    if changes:
        audit_record(actor=actor, action="person.create" if created else "person.update", obj=user, changes=changes)
    return user
