"""Optional single sign-on: configured by environment variables, checked in a process of its own
(settings and URLs are read once at start)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = """
import json, django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.test import Client
client = Client()
login = client.get("/accounts/login/")
start = client.get("/oidc/authenticate/?next=/services/")
print(json.dumps({"login": login.content.decode(), "status": start.status_code, "location": start.get("Location", "")}))
"""


def run_portal_with(env: dict[str, str], tmp_path: Path) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL",)},
             "DJANGO_SETTINGS_MODULE": "config.settings", "SLIPWAY_DATA_DIR": str(tmp_path), **env},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_single_sign_on_sends_people_to_the_provider(tmp_path):
    answer = run_portal_with({
        "SLIPWAY_OIDC_CLIENT_ID": "slipway-portal",
        "SLIPWAY_OIDC_CLIENT_SECRET": "s3cret",
        "SLIPWAY_OIDC_AUTHORIZATION_ENDPOINT": "https://sso.example.org/authorize",
        "SLIPWAY_OIDC_TOKEN_ENDPOINT": "https://sso.example.org/token",
        "SLIPWAY_OIDC_USER_ENDPOINT": "https://sso.example.org/userinfo",
        "SLIPWAY_OIDC_JWKS_ENDPOINT": "https://sso.example.org/jwks",
    }, tmp_path)
    assert "Sign in with single sign-on" in answer["login"]
    assert answer["status"] == 302
    assert answer["location"].startswith("https://sso.example.org/authorize?")
    assert "client_id=slipway-portal" in answer["location"] and "state=" in answer["location"]
    assert "s3cret" not in answer["location"]


def test_without_configuration_there_is_no_single_sign_on(tmp_path):
    answer = run_portal_with({}, tmp_path)
    assert "single sign-on" not in answer["login"]
    assert answer["status"] == 404
