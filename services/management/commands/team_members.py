"""List a team's members, add one or set their role, or take one out."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from services.access.permissions import can_manage_members
from services.catalog import people, reads, writes
from services.errors import CatalogError
from services.models import Membership


class Command(BaseCommand):
    help = (
        "A team's members: list them, --add USER (with --role member|lead) or --remove USER. With --as USER "
        "the change is made, and judged, as that person (a lead of the team or a platform admin); "
        "without it, as the operator running the command."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("team", help="The team's slug.")
        change = parser.add_mutually_exclusive_group()
        change.add_argument("--add", metavar="USER", help="Add this person, or set their role.")
        change.add_argument("--remove", metavar="USER", help="Take this person out of the team.")
        parser.add_argument("--role", choices=Membership.Role.values, default=Membership.Role.MEMBER,
                            help="The role given by --add (default member).")
        parser.add_argument("--as", dest="username", help="Act as this person, with their permissions.")

    def handle(self, *args: Any, team: str, add: str | None, remove: str | None, role: str,
               username: str | None, **options: Any) -> None:
        try:
            found = writes.resolve_team(team)
            actor = writes.resolve_user(username, field="as") if username else None
            if actor is not None and (add or remove) and not can_manage_members(actor, found):
                raise CommandError(f"{actor.get_username()} may not change the members of {found.slug}: only its "
                                   "leads and platform admins may.", returncode=1)
            if add:
                people.membership_set(actor=actor, team=found, user=writes.resolve_user(add, field="add"), role=role)
            elif remove:
                people.membership_remove(actor=actor, team=found, user=writes.resolve_user(remove, field="remove"))
        except CatalogError as error:
            raise CommandError(error.detail + "".join(f"\n  {field}: {'; '.join(reasons)}"
                                                      for field, reasons in error.errors.items()),
                               returncode=2) from None
        for membership in reads.team_members(found):
            self.stdout.write(f"{membership.user.get_username()}\t{membership.role}")
