"""The `github` fixture (tests/fakes/github_portal.py): the portal pointed at the fake GitHub."""

from __future__ import annotations

import os

import pytest
import requests

from tests.fakes.github_portal import PORTAL_TOKEN

pytestmark = pytest.mark.django_db


def test_the_portal_and_its_workers_are_pointed_at_the_fake_github_with_a_token_it_accepts(github, gh_team,
                                                                                          settings):
    assert settings.SLIPWAY_REPO_HOST == os.environ["SLIPWAY_REPO_HOST"] == "github"
    assert os.environ["SLIPWAY_GITHUB_API_URL"] == github.api_url
    assert os.environ["SLIPWAY_GITHUB_TOKEN"] == PORTAL_TOKEN
    assert os.environ["SLIPWAY_RUN_LEASE_SECONDS"] == "5"
    answer = requests.get(f"{github.api_url}/orgs/acme/teams/{gh_team.github_team_slug}", timeout=10,
                          headers={"Authorization": f"token {PORTAL_TOKEN}", "Accept": "application/vnd.github+json"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["id"] == 7
