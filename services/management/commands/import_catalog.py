"""manage.py import_catalog PATH: import Backstage descriptors (a catalog-info.yaml, or a folder of them)."""

from __future__ import annotations

import json
from typing import Any, NoReturn

from django.core.management.base import BaseCommand, CommandError, CommandParser

from services.audit import audit_source
from services.catalog.sync.locations import catalog_import
from services.catalog.writes import resolve_user
from services.descriptors.parse import DescriptorInputError
from services.errors import CatalogError
from services.models import AuditEvent


class Command(BaseCommand):
    help = (
        "Import Backstage descriptors from a file or a folder (.yaml/.yml, recursively): Components, Groups, "
        "Users, Systems and Domains. Exit code 0: all imported; 1: some documents were invalid (the valid "
        "ones were imported); 2: the input could not be read."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="A descriptor file or a folder of them.")
        parser.add_argument("--dry-run", action="store_true", help="Validate and report; write nothing.")
        parser.add_argument("--strict", action="store_true",
                            help="Refuse documents naming a team, user, system or domain that is neither in the "
                                 "catalog nor in the input (by default such teams and users are declared).")
        parser.add_argument("--json", action="store_true", dest="as_json", help="Print the report as JSON.")
        parser.add_argument("--actor", metavar="USERNAME", help="Record the changes as made by this user.")
        parser.add_argument("--force", action="store_true",
                            help="Let descriptors move services already in the catalog to another owner (without it, "
                                 "such a document is refused: a copy-pasted descriptor must not take a service).")

    def handle(self, *args: Any, **options: Any) -> None:
        """Parse the options, call catalog_import, print its report and exit with its code."""
        as_json = options["as_json"]
        try:
            actor = resolve_user(options["actor"], field="actor") if options["actor"] else None
            with audit_source(AuditEvent.Source.COMMAND):
                report = catalog_import(path=options["path"], actor=actor, strict=options["strict"],
                                        dry_run=options["dry_run"], force=options["force"])
        except DescriptorInputError as error:
            self._fail(error.detail, 2, as_json)
        except CatalogError as error:
            self._fail(error.detail, 2 if options["actor"] and "actor" in error.errors else 1, as_json)
        if as_json:
            self.stdout.write(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
        else:
            self.stdout.write("\n".join([*report.lines(), report.summary()]))
        if report.exit_code == 1:
            raise CommandError("Some documents or files were invalid (listed above); the valid ones were "
                               + ("checked." if report.dry_run else "imported."), returncode=1)
        if report.exit_code == 2:
            raise CommandError("No descriptor file could be read.", returncode=2)

    def _fail(self, message: str, code: int, as_json: bool) -> NoReturn:
        """Stop with `code`; in --json mode the error is JSON on standard output too."""
        if as_json:
            self.stdout.write(json.dumps({"error": message, "exit_code": code}))
        raise CommandError(message, returncode=code)
