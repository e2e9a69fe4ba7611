"""Who owns a service, a repository (any URL of it), a person's or a team's services."""

from __future__ import annotations

from typing import Any

import orjson
from django.core.management.base import BaseCommand, CommandError

from services.catalog import ownership
from services.errors import CatalogError, NotFound
from services.models import Service


class Command(BaseCommand):
    help = (
        "Who owns this? Give a service slug, a repository (owner/name) or any URL of it; --user or --team "
        "to ask what a person or a team owns. Exit code 1 when nothing matches."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("query", nargs="?", help="Service slug, owner/name, a repository URL, or a file's URL "
                                                     "(…/blob/main/path: answered by CODEOWNERS).")
        parser.add_argument("--user", help="What this person owns (username).")
        parser.add_argument("--team", help="What this team owns (slug).")
        parser.add_argument("--json", action="store_true", help="Print the API's JSON answer.")

    def handle(self, *args: Any, query: str | None, user: str | None, team: str | None, json: bool,
               **options: Any) -> None:
        given = [(kind, value) for kind, value in (("user", user), ("team", team)) if value]
        if query:
            kind = ownership.guess_lookup_kind(query)
            if kind == "service" and not Service.objects.filter(slug=query.lower()).exists():
                kind = "repo" if "." in query else "service"
            given.append((kind, query))
        if len(given) != 1:
            raise CommandError("Give exactly one of: a service or repository, --user, --team.", returncode=2)
        kind, value = given[0]
        try:
            answer = ownership.ownership_answer(kind, value)
        except NotFound as error:
            if json:
                self.stdout.write(orjson.dumps({"detail": error.detail, "errors": error.errors}).decode())
            raise CommandError(error.detail, returncode=1) from None
        except CatalogError as error:
            raise CommandError(error.detail, returncode=2) from None
        if json:
            self.stdout.write(orjson.dumps(answer, option=orjson.OPT_INDENT_2).decode())
        else:
            self.stdout.write(format_answer(answer))


def _contact_line(team: dict[str, Any]) -> str:
    parts = [team["email"], team["chat_channel"], f"on-call: {team['on_call']}" if team["on_call"] else ""]
    return " · ".join(p for p in parts if p) or "no contact details recorded"


def _email(person: dict[str, Any]) -> str:
    return f" <{person['email']}>" if person.get("email") else ""


def format_answer(answer: dict[str, Any]) -> str:
    """The ownership answer as a few readable lines."""
    lines: list[str] = []
    if "codeowners" in answer:
        rule = answer["codeowners"]
        if rule is None:
            lines.append(f"{answer['query']['file']}: no CODEOWNERS rule matches; the service's owner answers")
        else:
            owners = ", ".join(o["codeowner"] + (f" ({o['ref']})" if o["ref"] else " (not in the catalog)")
                               for o in rule["owners"]) or "nobody"
            lines.append(f"{answer['query']['file']}: {owners} — line {rule['line']} of {rule['file']} "
                         f"({rule['pattern']})")
    if service := answer.get("service"):
        lines.append(f"{service['slug']} ({service['type'] or 'service'}, {service['lifecycle'] or 'no lifecycle'})"
                     + (f" — {service['repository_url']}" if service["repository_url"] else ""))
    if answer.get("owner", {}).get("kind") == "team" or ("team" in answer and "services" in answer):
        team = answer["team"]
        note = " (declared by an import; no members recorded)" if team["declared_by_import"] else ""
        lines.append(f"Owner: team {team['name']} [{team['slug']}]{note}")
        lines.append(f"  Contact: {_contact_line(team)}")
        for member in team["members"]:
            lines.append(f"  - {member['name']}{_email(member)} ({member['role']})")
    if person := answer.get("person"):
        lines.append(f"{'Owner: ' if 'owner' in answer else 'Person: '}{person['name']} "
                     f"[{person['username']}]{_email(person)}")
        for team in answer.get("person_teams", answer.get("teams", [])):
            role = f" as {team['role']}" if "role" in team else ""
            lines.append(f"  Team {team['name']} [{team['slug']}]{role}: {_contact_line(team)}")
    if chain := answer.get("escalation"):
        lines.append("Escalation: " + " → ".join(f"{t['name']} ({_contact_line(t)})" for t in chain))
    if "services" in answer:
        lines.append(f"Services ({len(answer['services'])}):")
        for item in answer["services"]:
            via = f" via {item['owned_via']}" if "owned_via" in item else ""
            lines.append(f"  - {item['slug']}{via} {item['repository_url']}".rstrip())
    return "\n".join(lines)
