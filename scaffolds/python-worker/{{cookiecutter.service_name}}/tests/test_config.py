from __future__ import annotations

from pathlib import Path

import pytest

from worker.config import DEFAULT_POLL_INTERVAL, ConfigError, Settings


def test_defaults():
    settings = Settings.from_env({})

    assert settings.spool_dir == Path("spool")
    assert settings.poll_interval == DEFAULT_POLL_INTERVAL
    assert settings.max_attempts == 3


def test_reads_the_environment():
    settings = Settings.from_env(
        {
            "SPOOL_DIR": "/srv/spool",
            "POLL_INTERVAL": "0.5",
            "MAX_ATTEMPTS": "5",
            "LOG_LEVEL": "debug",
        }
    )

    assert settings.spool_dir == Path("/srv/spool")
    assert settings.poll_interval == 0.5
    assert settings.max_attempts == 5
    assert settings.log_level == "DEBUG"


@pytest.mark.parametrize(
    "environ",
    [
        {"POLL_INTERVAL": "soon"},
        {"POLL_INTERVAL": "0"},
        {"MAX_ATTEMPTS": "1.5"},
        {"LOG_LEVEL": "LOUD"},
    ],
)
def test_rejects_bad_values(environ):
    with pytest.raises(ConfigError):
        Settings.from_env(environ)
