"""Who may do what: one function per decision, used by the API, the pages and the commands."""

from __future__ import annotations

from typing import Any

from services.models import Membership, Service, Team


def _signed_in(user: Any) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.is_active)


def can_read_catalog(user: Any) -> bool:
    """Every signed-in person reads the whole catalog."""
    return _signed_in(user)


def is_member(user: Any, team: Team | None) -> bool:
    """Whether `user` belongs to `team`."""
    if not _signed_in(user) or team is None:
        return False
    return Membership.objects.filter(user=user, team=team).exists()


def can_own(user: Any, *, team: Team | None, person: Any = None) -> bool:
    """Whether `user` may act for an owner: a member of the owning team, the owning person, or staff."""
    if not _signed_in(user):
        return False
    if user.is_staff:
        return True
    if person is not None:
        return person.pk == user.pk
    return is_member(user, team)


def can_edit_service(user: Any, service: Service) -> bool:
    """Members of the owning team (or the owning person) and staff edit a service and its runbooks
    and environments."""
    return can_own(user, team=service.owner_team, person=service.owner_user)


def can_manage_teams(user: Any) -> bool:
    """Platform admins (staff) create and change teams."""
    return _signed_in(user) and user.is_staff
