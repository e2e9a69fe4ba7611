from __future__ import annotations

import pytest

from app.config import DEFAULT_PORT, ConfigError, Settings


def test_defaults():
    settings = Settings.from_env({})

    assert settings.port == DEFAULT_PORT
    assert settings.log_level == "INFO"


def test_reads_the_environment():
    settings = Settings.from_env({"PORT": "9000", "LOG_LEVEL": "debug", "GREETING": "Hi"})

    assert settings == Settings(port=9000, log_level="DEBUG", greeting="Hi")


@pytest.mark.parametrize(
    "environ",
    [{"PORT": "http"}, {"PORT": "70000"}, {"LOG_LEVEL": "LOUD"}],
)
def test_rejects_bad_values(environ):
    with pytest.raises(ConfigError):
        Settings.from_env(environ)
