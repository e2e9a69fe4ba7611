from __future__ import annotations

import pytest

from app import create_app
from app.config import Settings


@pytest.fixture
def settings() -> Settings:
    return Settings(port=8080, log_level="WARNING", greeting="Hello")


@pytest.fixture
def client(settings):
    app = create_app(settings)
    app.config.update(TESTING=True)
    with app.test_client() as client:
        yield client
