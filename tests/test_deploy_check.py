"""`manage.py check --deploy` passes with production settings (a process of its own: settings are
read once at start)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def check_deploy(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    # Not the test run's own switches (the browser tests set DJANGO_ALLOW_ASYNC_UNSAFE for Playwright).
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], cwd=ROOT,
        capture_output=True, text=True, timeout=120,
        env={**base, "DJANGO_SETTINGS_MODULE": "config.settings", "SLIPWAY_DATA_DIR": str(tmp_path),
             "SECRET_KEY": secrets.token_urlsafe(50), "SLIPWAY_REQUIRE_SECRET_KEY": "1",
             "ALLOWED_HOSTS": "portal.example.org", **env},
    )


def test_production_settings_pass_the_deploy_check(tmp_path):
    result = check_deploy(tmp_path, SLIPWAY_BEHIND_TLS="1")
    assert result.returncode == 0, result.stdout + result.stderr


def test_hsts_preload_can_be_turned_on(tmp_path):
    result = check_deploy(tmp_path, SLIPWAY_BEHIND_TLS="1", SLIPWAY_HSTS_PRELOAD="1")
    assert result.returncode == 0, result.stdout + result.stderr


def test_without_tls_the_deploy_check_says_what_is_missing(tmp_path):
    result = check_deploy(tmp_path)
    assert result.returncode != 0
    assert "SECURE_SSL_REDIRECT" in result.stdout + result.stderr
