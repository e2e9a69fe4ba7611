"""Who may do what: one function per decision, used by the API, the pages and the commands.

The roles (README.md has the table):
- viewer: every signed-in, active person; reads everything;
- team member: also registers services for the team (claiming their repositories), changes the team's
  services, their runbooks and environments, and starts (and retries or cancels) runs for the team; a
  person who owns a service directly has the same rights on it;
- team lead: also changes the team's description and contacts, and its membership, and hands the
  team's services to another owner;
- platform admin (staff): everything, teams' structure and GitHub mapping, golden-path templates and
  services owned by one person (the only way a repository is claimed for a person) included.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from services.models import Location, Membership, ProvisioningRun, Service, Team


def _signed_in(user: Any) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.is_active)


def _admin(user: Any) -> bool:
    return _signed_in(user) and bool(user.is_staff)


def role_in(user: Any, team: Team | None) -> str | None:
    """`user`'s role in `team` ("member" or "lead"), or None for a non-member.

    One query per user object and team: the answer is kept on the user object, which lives for one
    request (catalog.people.membership_set and membership_remove forget it)."""
    if not _signed_in(user) or team is None:
        return None
    roles = _roles_of(user)
    if team.pk not in roles:
        found = Membership.objects.filter(user=user, team=team).order_by().values_list("role", flat=True)[:1]
        roles[team.pk] = next(iter(found), None)
    return roles[team.pk]


def remember_role_among(user: Any, team: Team | None, memberships: Any) -> None:
    """Let role_in answer from a team's memberships already read (the service page prefetches its
    owner team's members), instead of asking the database again."""
    if _signed_in(user) and team is not None:
        _roles_of(user).setdefault(team.pk, next((m.role for m in memberships if m.user_id == user.pk), None))


def _roles_of(user: Any) -> dict[Any, str | None]:
    """The roles remembered on a user object, by team key (it lives for one request)."""
    return user.__dict__.setdefault("_slipway_roles", {})


def forget_roles(*users: Any) -> None:
    """Drop the roles remembered on these user objects (after a membership change)."""
    for user in users:
        if user is not None:
            user.__dict__.pop("_slipway_roles", None)


def is_member(user: Any, team: Team | None) -> bool:
    """Whether `user` belongs to `team`, whatever the role."""
    return role_in(user, team) is not None


def can_read_catalog(user: Any) -> bool:
    """Viewer: every signed-in person reads the whole catalog, runs and the audit log."""
    return _signed_in(user)


def can_own(user: Any, *, team: Team | None, person: Any = None) -> bool:
    """Whether `user` may act for an owner (register a service for it, hand a service to it): a member of
    the owning team, the owning person, or a platform admin."""
    if not _signed_in(user):
        return False
    if user.is_staff:
        return True
    if person is not None:
        return person.pk == user.pk
    return is_member(user, team)


def can_register_for(user: Any, *, team: Team | None, person: Any = None) -> bool:
    """Team member: register a service for the team, which claims its repository (whoowns answers the
    team). A service owned by one person is registered (or handed to a person) by platform admins
    only: no one claims a repository for themselves."""
    if person is not None:
        return _admin(user)
    return can_own(user, team=team)


def can_hand_over(user: Any, service: Service, *, team: Team | None, person: Any = None) -> bool:
    """Team lead: give the team's service to another owner (another team the lead may register for, or,
    as a platform admin, a person). A member cannot take a team's service away from the team; the
    person who owns a service directly may hand it to a team they belong to."""
    if not can_register_for(user, team=team, person=person):
        return False
    if service.owner_team_id is not None:
        if team is not None and team.pk == service.owner_team_id:
            return True
        return _admin(user) or role_in(user, service.owner_team) == Membership.Role.LEAD
    return _admin(user) or (service.owner_user_id is not None and service.owner_user_id == user.pk)


def can_edit_service(user: Any, service: Service) -> bool:
    """Team member: change, archive or delete a service the team owns, and its runbooks and environments."""
    return can_own(user, team=service.owner_team, person=service.owner_user)


def can_start_run(user: Any, *, team: Team | None, person: Any = None) -> bool:
    """Team member: start a run that creates a service owned by the team (or by oneself)."""
    return can_own(user, team=team, person=person)


def run_owner_teams(user: Any) -> QuerySet[Team]:
    """The teams `user` may start runs for (can_start_run as a query): every team for platform admins."""
    if not _signed_in(user):
        return Team.objects.none()
    if user.is_staff:
        return Team.objects.order_by("name", "slug")
    return Team.objects.filter(memberships__user=user).order_by("name", "slug").distinct()


def can_act_on_run(user: Any, run: ProvisioningRun) -> bool:
    """Retry or cancel a run: whoever started it, members of the team it is for, platform admins."""
    if not _signed_in(user):
        return False
    if run.requested_by_id is not None and run.requested_by_id == user.pk:
        return True
    return can_own(user, team=run.owner)


def can_edit_team(user: Any, team: Team) -> bool:
    """Team lead: change the team's name, description and contacts."""
    return _admin(user) or role_in(user, team) == Membership.Role.LEAD


def can_manage_members(user: Any, team: Team) -> bool:
    """Team lead: add and remove the team's members and set their roles."""
    return _admin(user) or role_in(user, team) == Membership.Role.LEAD


def can_change_team_structure(user: Any) -> bool:
    """Platform admin: create teams, move a team in the hierarchy and map it to a GitHub team (which grants
    repository access on every later run)."""
    return _admin(user)


def can_register_location(user: Any, *, team: Team | None) -> bool:
    """An admin registers a location for anyone (team None: it may describe any entry); a member for
    their team only (the location may then describe only that team's entries)."""
    return _admin(user) or (team is not None and is_member(user, team))


def can_manage_location(user: Any, location: Location) -> bool:
    """Refresh or delete a location: an admin, or a member of the team it was registered for."""
    return _admin(user) or (location.team_id is not None and is_member(user, location.team))


def can_move_entries(user: Any) -> bool:
    """Move a catalog entry from one origin to another (ending a conflict): admins only."""
    return _admin(user)


def can_manage_templates(user: Any) -> bool:
    """Platform admin: turn golden-path templates on and off."""
    return _admin(user)


# The team fields only platform admins change (can_change_team_structure); leads change the others.
TEAM_STRUCTURE_FIELDS = frozenset({"parent", "github_team_slug", "team_type"})
