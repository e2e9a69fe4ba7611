"""Query parameters of every list endpoint, given hostile names and values (raw bytes in the query
string, invalid UTF-8 included): a 200 page, or a 4xx naming the parameter — never a 5xx."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from services.models import Membership
from tests.factories import MembershipFactory, ServiceFactory, TeamFactory, UserFactory, token_for
from tests.hypothesis_profiles import examples
from tests.properties.strategies import hostile_text

pytestmark = pytest.mark.django_db

LISTS = {
    "/api/v1/services/": ["owner", "lifecycle", "type", "tier", "tag", "system", "language", "q", "archived"],
    "/api/v1/teams/": ["parent", "q", "declared_by_import"],
    "/api/v1/runbooks/": ["service"], "/api/v1/environments/": ["service", "name"],
    "/api/v1/systems/": [], "/api/v1/domains/": [],
    "/api/v1/runs/": ["state", "template", "owner", "requested_by", "mine"], "/api/v1/tokens/": [],
    "/api/v1/ownership/": ["service", "repo", "user", "team"], "/api/v1/templates/": [],
}
COMMON = ["ordering", "page", "page_size", "format", "search"]
VALUES = st.one_of(hostile_text(), st.integers(-(2**70), 2**70).map(str), st.sampled_from(
    ["last", "0", "-1", "1e309", "true", "slug,-name", "-", ",", "ledger", "payments", "user:mia"]))


def _encoded(value: str) -> str:
    # Lone surrogates cannot be UTF-8; as bytes they arrive as invalid UTF-8, which Django replaces.
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


@pytest.mark.parametrize("url", sorted(LISTS))
def test_list_query_parameters_never_fail_with_a_server_error(url):
    team = TeamFactory(slug="payments", name="Payments")
    member = UserFactory(username="mia")
    MembershipFactory(user=member, team=team, role=Membership.Role.MEMBER)
    ServiceFactory(slug="ledger", owner_team=team, repository="github.com/acme/ledger")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(member)}")

    @settings(max_examples=examples(ci=12))
    @given(params=st.lists(st.tuples(st.one_of(st.sampled_from(LISTS[url] + COMMON), hostile_text()), VALUES),
                           max_size=4))
    @example(params=[("page", "99999999999999999999999")])
    @example(params=[("ordering", "\ud800")])
    @example(params=[("repo", "http://[::1/a/b")])  # urlsplit's ValueError was a 500
    @example(params=[("q", "w" * 60_000)])  # SQLite's "LIKE pattern too complex" was a 500
    def check(params: list[tuple[str, Any]]) -> None:
        query = "&".join(f"{_encoded(name)}={_encoded(value)}" for name, value in params)
        response = client.get(f"{url}?{query}", HTTP_ACCEPT="application/json")
        assert response.status_code < 500, (params, response.content[:300])
        if response.status_code >= 400:
            body = response.json()
            assert set(body) == {"detail", "errors"}, body
            if response.status_code == 400:
                assert body["errors"], body

    check()
