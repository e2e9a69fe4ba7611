"""Settings, read from the environment once at start-up (twelve-factor style)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

SERVICE_NAME = {{ cookiecutter.service_name | string | tojson }}
DEFAULT_POLL_INTERVAL = {{ cookiecutter.poll_interval_seconds | int }}
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class ConfigError(ValueError):
    """An environment variable has a value the worker cannot use."""


def default_heartbeat_file() -> Path:
    return Path(tempfile.gettempdir()) / f"{SERVICE_NAME}.heartbeat"


@dataclass(frozen=True)
class Settings:
    spool_dir: Path = Path("spool")
    poll_interval: float = DEFAULT_POLL_INTERVAL
    max_attempts: int = 3
    stale_after: float = 600.0
    heartbeat_file: Path = field(default_factory=default_heartbeat_file)
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ

        def number(name: str, default: float, kind: type = float, minimum: float = 0) -> float:
            raw = env.get(name)
            if raw is None:
                return default
            try:
                value = kind(raw)
            except ValueError:
                raise ConfigError(f"{name} must be a number, not {raw!r}") from None
            if value < minimum:
                raise ConfigError(f"{name} must be at least {minimum}, not {value}")
            return value

        log_level = env.get("LOG_LEVEL", "INFO").upper()
        if log_level not in LOG_LEVELS:
            choices = ", ".join(LOG_LEVELS)
            raise ConfigError(f"LOG_LEVEL must be one of {choices}, not {log_level!r}")
        return cls(
            spool_dir=Path(env.get("SPOOL_DIR", "spool")),
            poll_interval=number("POLL_INTERVAL", DEFAULT_POLL_INTERVAL, minimum=0.01),
            max_attempts=int(number("MAX_ATTEMPTS", 3, kind=int, minimum=1)),
            stale_after=number("STALE_AFTER", 600.0, minimum=1),
            heartbeat_file=Path(env.get("HEARTBEAT_FILE") or default_heartbeat_file()),
            log_level=log_level,
        )
