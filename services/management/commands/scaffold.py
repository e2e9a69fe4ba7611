"""Create a service from a golden path on the command line, and follow its run to the end."""

from __future__ import annotations

import json
import time
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from services.access.permissions import can_start_run
from services.errors import CatalogError
from services.models import ProvisioningRun, Team
from services.scaffolder import templates
from services.scaffolder.runs import run_create


def _parse_value(spec: templates.InputSpec | None, raw: str) -> Any:
    """`--set key=value` gives text; integers and booleans are converted for the inputs that are."""
    if spec is None:
        return raw
    if spec.type == "integer" or (spec.type == "choice" and spec.choices and isinstance(spec.choices[0], int)):
        try:
            return int(raw)
        except ValueError:
            return raw  # validation names the field
    if spec.type == "boolean":
        return {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}.get(raw.lower(), raw)
    return raw


class Command(BaseCommand):
    help = ("Create a service from a golden-path template: validates the inputs, starts a run for the "
            "workers, and follows it step by step until it ends. Exit code 1 if the run fails.")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("template", nargs="?", help="Template name (omit with --list).")
        parser.add_argument("--owner", help="Slug of the team that will own the service.")
        parser.add_argument("--set", dest="values", action="append", default=[], metavar="KEY=VALUE",
                            help="An input value; repeat for each input.")
        parser.add_argument("--as", dest="username", help="Record the run as requested by this user.")
        parser.add_argument("--list", action="store_true", help="List templates and their inputs.")
        parser.add_argument("--no-follow", action="store_true", help="Start the run and print its id only.")
        parser.add_argument("--timeout", type=float, default=600, help="Seconds to follow the run (default 600).")

    def handle(self, *args: Any, template: str | None, owner: str | None, values: list[str], username: str | None,
               list: bool, no_follow: bool, timeout: float, **options: Any) -> None:  # noqa: A002
        if list:
            self._list()
            return
        if not template or not owner:
            raise CommandError("Give a template and --owner (see --list).", returncode=2)
        try:
            definition = templates.template_get(template)
        except CatalogError as error:
            raise CommandError(error.detail, returncode=2) from None
        inputs: dict[str, Any] = {}
        for item in values:
            key, sep, raw = item.partition("=")
            if not sep or not key:
                raise CommandError(f"--set takes KEY=VALUE, not {item!r}", returncode=2)
            inputs[key.strip()] = _parse_value(definition.input(key.strip()), raw)
        actor = None
        if username:
            actor = get_user_model().objects.filter(username=username).first()
            if actor is None:
                raise CommandError(f"No user '{username}'.", returncode=2)
            team = Team.objects.filter(slug=str(owner).lower()).first()
            if team is not None and not can_start_run(actor, team=team):
                raise CommandError(f"{actor.get_username()} may not create services for {team.slug}: only its "
                                   "members and platform admins may.", returncode=1)
        try:
            run, _ = run_create(actor=actor, template=template, owner=owner, inputs=inputs)
        except CatalogError as error:
            lines = [error.detail, *(f"  {field}: {'; '.join(messages)}" for field, messages in error.errors.items())]
            raise CommandError("\n".join(lines), returncode=2) from None
        self.stdout.write(f"Run {run.pk} accepted: {definition.name} → {run.service_slug}, owned by {owner}")
        if no_follow:
            return
        self._follow(run.pk, timeout)

    def _list(self) -> None:
        for definition in templates.template_list():
            self.stdout.write(f"{definition.name} — {definition.title}: {definition.description}")
            for spec in definition.inputs:
                choices = f" one of {', '.join(map(str, spec.choices))}" if spec.choices else ""
                default = f" (default {spec.default!r})" if spec.default not in (None, "") else ""
                self.stdout.write(f"  --set {spec.name}=...  {spec.label}{choices}{default}")

    def _follow(self, run_id: Any, timeout: float) -> None:
        """Print each step as it changes, until the run ends (workers do the work)."""
        seen: dict[int, tuple[str, int]] = {}
        deadline = time.monotonic() + timeout
        while True:
            run = ProvisioningRun.objects.get(pk=run_id)
            for step in run.steps.order_by("position"):
                key = (step.state, step.attempts)
                if seen.get(step.position) != key:
                    seen[step.position] = key
                    name = step.action + (f" {step.params['name']}" if step.params.get("name") else "")
                    detail = f": {step.error}" if step.error else ""
                    self.stdout.write(f"  [{step.state:>9}] {step.position}. {name} (attempt {step.attempts}){detail}")
            if run.state in (ProvisioningRun.State.SUCCEEDED, ProvisioningRun.State.FAILED,
                             ProvisioningRun.State.CANCELLED):
                break
            if time.monotonic() > deadline:
                raise CommandError(f"Run {run_id} is still {run.state} after {timeout:.0f} s; it goes on in the "
                                   "workers (is a worker running?).", returncode=3)
            time.sleep(0.25)
        if run.state == ProvisioningRun.State.SUCCEEDED:
            self.stdout.write(self.style.SUCCESS(
                f"Run {run_id} succeeded: service {run.service_slug}, repository {run.web_url} ({run.api_calls} API calls)"))
            self.stdout.write(json.dumps({"clone_url": run.clone_url}))
            return
        raise CommandError(f"Run {run_id} {run.state}: {run.error}", returncode=1)
