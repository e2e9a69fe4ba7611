"""Registers the fake GitHub fixture for these tests (tests/conftest.py may import it for all tests)."""

from __future__ import annotations

from tests.fakes.github import fake_github  # noqa: F401 - a pytest fixture
