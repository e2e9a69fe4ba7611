"""Shared fixtures: API clients for a staff user, a team member and a plain viewer."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from services.models import Membership
from tests.factories import MembershipFactory, ServiceFactory, TeamFactory, UserFactory, token_for
from tests.hypothesis_profiles import load_profile

load_profile()  # HYPOTHESIS_PROFILE=ci (default: short, deterministic) or fuzz (`make fuzz`)


@pytest.fixture(autouse=True)
def _fresh_caches():
    """Each test starts with empty caches (answers are cached per catalog generation)."""
    from django.core.cache import caches

    for alias in ("default", "responses", "counters"):
        caches[alias].clear()
    yield


def _client_for(user) -> APIClient:
    client = APIClient()
    key = token_for(user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    client.user = user
    client.token = key
    return client


@pytest.fixture
def team(db):
    return TeamFactory(slug="payments", name="Payments")


@pytest.fixture
def member(db, team):
    user = UserFactory(username="mia")
    MembershipFactory(user=user, team=team, role=Membership.Role.MEMBER)
    return user


@pytest.fixture
def viewer(db):
    return UserFactory(username="vic")


@pytest.fixture
def staff(db):
    return UserFactory(username="sam", is_staff=True)


@pytest.fixture
def member_client(member) -> APIClient:
    return _client_for(member)


@pytest.fixture
def viewer_client(viewer) -> APIClient:
    return _client_for(viewer)


@pytest.fixture
def staff_client(staff) -> APIClient:
    return _client_for(staff)


@pytest.fixture
def anon_client() -> APIClient:
    return APIClient()


@pytest.fixture
def service(db, team):
    return ServiceFactory(slug="ledger", owner_team=team, repository="github.com/acme/ledger")


from tests.fakes.github import fake_github  # noqa: E402,F401 - the fake GitHub server fixture, for every test
from tests.fakes.github_portal import gh_team, github, github_run_lease_seconds  # noqa: E402,F401 - the portal on it
