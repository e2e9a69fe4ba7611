"""Settings, read from the environment once at start-up (twelve-factor style)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

SERVICE_NAME = {{ cookiecutter.service_name | string | tojson }}
DEFAULT_PORT = {{ cookiecutter.port | int }}
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class ConfigError(ValueError):
    """An environment variable has a value the service cannot use."""


@dataclass(frozen=True)
class Settings:
    port: int = DEFAULT_PORT
    log_level: str = "INFO"
    greeting: str = "Hello"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        try:
            port = int(env.get("PORT", DEFAULT_PORT))
        except ValueError:
            raise ConfigError(f"PORT must be an integer, not {env.get('PORT')!r}") from None
        if not 1 <= port <= 65535:
            raise ConfigError(f"PORT must be between 1 and 65535, not {port}")
        log_level = env.get("LOG_LEVEL", "INFO").upper()
        if log_level not in LOG_LEVELS:
            choices = ", ".join(LOG_LEVELS)
            raise ConfigError(f"LOG_LEVEL must be one of {choices}, not {log_level!r}")
        return cls(port=port, log_level=log_level, greeting=env.get("GREETING", "Hello"))
