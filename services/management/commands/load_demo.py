"""`manage.py load_demo [--if-empty]`: load the demo organisation (teams, people, services, runbooks)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from services.catalog.demo import catalog_is_empty, demo_load


class Command(BaseCommand):
    help = "Load a small demo organisation into the catalog; what exists already is left alone."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Load only when the catalog has no services (safe to run on every start).",
        )

    def handle(self, *args: Any, if_empty: bool = False, **options: Any) -> None:
        if if_empty and not catalog_is_empty():
            self.stdout.write("The catalog has services already: demo data not loaded.")
            return
        created = demo_load()
        if not any(created.values()):
            self.stdout.write("Demo data is loaded already: nothing to add.")
            return
        summary = ", ".join(f"{count} {kind}" for kind, count in created.items() if count)
        self.stdout.write(self.style.SUCCESS(f"Demo data loaded: {summary}."))
