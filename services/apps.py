from django.apps import AppConfig


class ServicesConfig(AppConfig):
    """The catalog, ownership and provisioning domain."""

    name = "services"
    verbose_name = "Slipway catalog"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from services import (
            signals,  # noqa: F401 - connects the generation bumps
            tasks,  # noqa: F401 - registers the Celery tasks in every process, web included
        )

        post_migrate.connect(_sync_search_triggers, sender=self, dispatch_uid="services.search_triggers")


def _sync_search_triggers(sender: AppConfig, using: str = "default", **kwargs: object) -> None:
    """After every `migrate`: the search index's triggers follow the registry (a kind added, changed or
    removed in services.catalog.search_index is installed and backfilled here, without a migration)."""
    from django.db import connections

    from services.catalog.search_index import sync_triggers

    sync_triggers(connections[using])
