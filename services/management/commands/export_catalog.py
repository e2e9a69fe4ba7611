"""manage.py export_catalog: write the catalog as multi-document Backstage descriptors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from services.descriptors.exporter import catalog_export


class Command(BaseCommand):
    help = ("Write the catalog as Backstage descriptors (Domains, Systems, Groups, Users, Components) to a file "
            "or to standard output; import_catalog reads them back into the same catalog.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", "-o", default="-", help="File to write, or - for standard output (default).")
        parser.add_argument("--include-declared", action="store_true",
                            help="Also write teams and users an import only declared (named, never described).")

    def handle(self, *args: Any, **options: Any) -> None:
        """Call catalog_export and write its documents; warnings go to standard error."""
        export = catalog_export(include_declared=options["include_declared"])
        text = export.dump()
        if options["output"] == "-":
            self.stdout.write(text, ending="")
        else:
            try:
                Path(options["output"]).write_text(text, encoding="utf-8")
            except OSError as error:
                raise CommandError(f"Cannot write {options['output']}: {error.strerror or error}", returncode=2) from None
        for warning in export.warnings:
            self.stderr.write(f"warning: {warning}")
        if options["output"] != "-":
            self.stderr.write(f"Wrote {len(export.documents)} entities to {options['output']}.")
