"""Provisioning tests use the small templates in tests/data/scaffolds."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

MINI = Path(__file__).resolve().parents[2] / "data" / "scaffolds"


@pytest.fixture(autouse=True)
def _mini_templates(settings, monkeypatch, tmp_path):
    """The test templates, and a repository folder of each test's own (workers get both too)."""
    settings.SLIPWAY_SCAFFOLDS_DIR = MINI
    monkeypatch.setenv("SLIPWAY_SCAFFOLDS_DIR", str(MINI))
    settings.SLIPWAY_REPOSITORY_DIR = tmp_path / "repositories"
    monkeypatch.setenv("SLIPWAY_REPOSITORY_DIR", str(tmp_path / "repositories"))


def run_request(**inputs):
    return {"template": "mini", "owner": "payments",
            "inputs": {"service_name": "ledger-api", "description": "Keeps the books", "lifecycle": "production",
                       "port": 8080, **inputs}}


__all__ = ["run_request", "os"]
