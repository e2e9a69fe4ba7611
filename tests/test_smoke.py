"""The project wiring: settings, health endpoints, the standard library's `platform` unshadowed."""

from __future__ import annotations

import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_platform_is_the_standard_library_module():
    assert hasattr(platform, "python_version")
    assert Path(platform.__file__).resolve().parent == Path(sys.modules["os"].__file__).resolve().parent


def test_platform_folder_holds_no_python():
    assert (ROOT / "platform").is_dir()
    assert not list((ROOT / "platform").rglob("*.py"))


def test_healthz_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_database_and_broker(client, db):
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json()["checks"] == {"database": "ok", "broker": "ok"}


def test_readyz_names_the_failing_part(client, db, settings, monkeypatch):
    from services.http import health

    monkeypatch.setattr(health, "_check_broker", lambda: "error: ConnectionRefusedError: refused")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"].startswith("error")
    assert response.json()["checks"]["database"] == "ok"
