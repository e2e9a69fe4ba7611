from django.apps import AppConfig


class ServicesConfig(AppConfig):
    """The catalog, ownership and provisioning domain."""

    name = "services"
    verbose_name = "Slipway catalog"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from services import (
            signals,  # noqa: F401 - connects the generation bumps
            tasks,  # noqa: F401 - registers the Celery tasks in every process, web included
        )
