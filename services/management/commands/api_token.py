"""Create an API token for a user and print it (the only time it is shown); list or revoke tokens."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from services.access.tokens import token_create, token_list, token_of, token_revoke
from services.errors import CatalogError


class Command(BaseCommand):
    help = ("Create an API token for USERNAME and print it: it is stored hashed and never shown again. "
            "Use it as 'Authorization: Token <key>'. --list shows a user's tokens, --revoke ID revokes one.")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="command line", help="What the token is for (default: command line).")
        parser.add_argument("--expires-days", type=int, help="Days until it expires (default: never).")
        parser.add_argument("--list", action="store_true", help="List the user's tokens instead.")
        parser.add_argument("--revoke", metavar="ID", help="Revoke the user's token with this id.")

    def handle(self, *args: Any, username: str, name: str, expires_days: int | None, list: bool,  # noqa: A002
               revoke: str | None, **options: Any) -> None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user '{username}'. Create one first (python manage.py createsuperuser).")
        if not user.is_active:
            raise CommandError(f"User '{username}' is deactivated; a token would be refused.")
        try:
            if list:
                for token in token_list(user):
                    state = ("revoked" if token.revoked_at else
                             f"expires {token.expires_at:%Y-%m-%d}" if token.expires_at else "no expiry")
                    self.stdout.write(f"{token.pk}\t{token.prefix}…\t{token.name}\t{state}")
                return
            if revoke:
                token = token_revoke(actor=None, token=token_of(user, revoke))
                self.stderr.write(f"Token {token.pk} ({token.name}) of {username} is revoked.")
                return
            token, key = token_create(actor=None, user=user, name=name, expires_in_days=expires_days)
        except CatalogError as error:
            raise CommandError(error.detail) from None
        self.stderr.write(f"Token {token.pk} '{token.name}' for {username}; it is shown this once:")
        self.stdout.write(key)
