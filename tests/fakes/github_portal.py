"""The portal pointed at the fake GitHub: fixtures of the GitHub provisioning tests and the fault tests
(registered for every test by tests/conftest.py)."""

from __future__ import annotations

import pytest

from tests.fakes.github import FakeGitHub

# The portal's token on the fake GitHub; tests check it never reaches a log, an error or the API.
PORTAL_TOKEN = "ghp_" + "S3cr3t" * 6
# The client's timeout against the fake (production: 15 s). A loopback call takes milliseconds; the
# tests that make a call hang wait this long for it, so it is kept short.
CLIENT_TIMEOUT_SECONDS = 6


@pytest.fixture
def github_run_lease_seconds() -> int:
    """How long a worker holds a run on GitHub before another may take it (a folder may override it)."""
    return 5


@pytest.fixture
def github(fake_github, github_run_lease_seconds, settings, monkeypatch) -> FakeGitHub:
    """The portal configured for the fake GitHub, in this process and in the workers it starts."""
    fake_github.add_token(PORTAL_TOKEN)
    fake_github.add_team("acme", "payments-gh", id=7)
    values = {"SLIPWAY_REPO_HOST": "github", "SLIPWAY_GITHUB_API_URL": fake_github.api_url,
              "SLIPWAY_GITHUB_ORG": "acme", "SLIPWAY_GITHUB_TOKEN": PORTAL_TOKEN,
              "SLIPWAY_GITHUB_WRITE_SPACING_SECONDS": "0", "SLIPWAY_RETRY_BASE_SECONDS": "0.2",
              "SLIPWAY_RUN_LEASE_SECONDS": str(github_run_lease_seconds), "SLIPWAY_SWEEP_SECONDS": "1",
              "SLIPWAY_GITHUB_TIMEOUT_SECONDS": str(CLIENT_TIMEOUT_SECONDS)}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    settings.SLIPWAY_REPO_HOST = "github"
    settings.SLIPWAY_GITHUB_TIMEOUT_SECONDS = CLIENT_TIMEOUT_SECONDS
    return fake_github


@pytest.fixture
def gh_team(team):
    """The `payments` team, linked to its GitHub team on the fake GitHub."""
    team.github_team_slug = "payments-gh"
    team.save()
    return team
