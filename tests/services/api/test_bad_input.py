"""Hostile and malformed values never produce a server error, on any database."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

NASTY = ["\x00", "a\x00b", "9" * 30, "-1", "' OR 1=1 --", "{{ 7*7 }}", "../../etc/passwd", "ü" * 300,
         "\u202e", "%", "_", "\\", "<script>alert(1)</script>", " ", "1e309"]


@pytest.mark.parametrize("value", NASTY)
@pytest.mark.parametrize(
    "param", ["owner", "lifecycle", "type", "tier", "tag", "system", "q", "archived", "ordering", "page", "page_size"]
)
def test_service_list_filters_never_fail_with_a_server_error(viewer_client, service, param, value):
    response = viewer_client.get("/api/v1/services/", {param: value})
    assert response.status_code in (200, 400, 404), (param, value, response.content[:300])


@pytest.mark.parametrize("value", NASTY)
@pytest.mark.parametrize("param", ["service", "repo", "user", "team"])
def test_ownership_lookups_never_fail_with_a_server_error(viewer_client, service, param, value):
    response = viewer_client.get("/api/v1/ownership/", {param: value})
    assert response.status_code in (200, 400, 404), (param, value, response.content[:300])


@pytest.mark.parametrize(
    "path",
    ["/api/v1/services/%00/", "/api/v1/runbooks/99999999999999999999999/", "/api/v1/environments/-1/",
     "/api/v1/teams/%E2%80%AE/", "/api/v1/services/" + "a" * 3000 + "/", "/api/v1/runbooks/abc/"],
)
def test_odd_paths_are_4xx(viewer_client, service, path):
    assert viewer_client.get(path).status_code in (400, 404)


@pytest.mark.parametrize(
    "payload",
    [{"slug": "x\x00", "owner": "payments"}, {"slug": "ok", "owner": "payments\x00"},
     {"slug": "ok", "owner": "payments", "annotations": {"k\x00": "v"}},
     {"slug": "ok", "owner": "payments", "annotations": {"k": "v\x00"}},
     {"slug": "ok", "owner": "payments", "description": "\x00"},
     {"slug": "ok", "owner": "payments", "tier": 10**30},
     {"slug": "ok", "owner": "payments", "links": [{"url": "https://x.org/\x00"}]},
     {"slug": "ok", "owner": "payments", "depends_on": ["component:\x00"]},
     {"slug": ["ok"], "owner": {"a": 1}}],
)
def test_hostile_service_bodies_are_400(member_client, team, payload):
    response = member_client.post("/api/v1/services/", payload, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["errors"]
