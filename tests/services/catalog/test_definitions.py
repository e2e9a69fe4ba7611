"""API definitions given by placeholder, fetched by the worker's refresh: from the location's own files
(relative, from the root, a file URL of the repository), through the host conditionally, and never
from a host not allowed; what cannot be fetched keeps the API with the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.catalog.sync.definitions import definitions_fetch
from services.catalog.sync.locations import catalog_import, location_refresh_by_id, location_register
from services.models import Api, Location
from tests.services.catalog.test_github_sync import admin, github  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db

OPENAPI = "openapi: 3.0.0\ninfo: {title: Orders, version: '1'}\npaths: {}\n"


def api(name: str, definition: str) -> str:
    return (f"apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata:\n  name: {name}\n"
            f"spec:\n  type: openapi\n  lifecycle: production\n  owner: team-a\n  definition:\n    {definition}\n")


def test_definitions_in_the_locations_own_files_are_read_and_the_others_are_unresolved_with_a_reason(tmp_path: Path):
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "orders.yaml").write_text(OPENAPI)
    (tmp_path / "catalog-info.yaml").write_text("---\n".join([
        api("relative", "$text: ./specs/orders.yaml"),
        api("as-json", "$json: ./specs/orders.yaml"),  # YAML is not JSON: refused with the reason
        api("as-yaml", "$yaml: specs/orders.yaml"),
        api("missing", "$text: ./specs/gone.yaml"),
        api("escaping", "$text: ../../../etc/passwd"),
        api("elsewhere", "$text: https://specs.example.com/orders.yaml"),
    ]))
    catalog_import(path=tmp_path / "catalog-info.yaml")
    assert set(Api.objects.values_list("definition_state", flat=True)) == {"pending"}  # the import fetches nothing

    done = definitions_fetch(Location.objects.get())

    state = {row.slug: row for row in Api.objects.all()}
    assert (done.resolved, done.unresolved, done.left) == (2, 4, 0)
    assert (state["relative"].definition, state["relative"].definition_state) == (OPENAPI, "resolved")
    assert state["as-yaml"].definition.startswith("openapi: 3.0.0\ninfo:\n")  # parsed and written out again
    assert "not JSON" in state["as-json"].definition_error or "JSON" in state["as-json"].definition_error
    assert state["missing"].definition_error == "specs/gone.yaml does not exist"
    assert "leaves" in state["escaping"].definition_error
    assert state["elsewhere"].definition_error.startswith(
        "host 'specs.example.com' is not in SLIPWAY_DEFINITION_HOSTS")
    assert all(row.definition_fetched_at for row in state.values())

    again = definitions_fetch(Location.objects.get())  # the file is unchanged: kept as it is
    assert (again.resolved, again.unchanged) == (0, 2)
    (tmp_path / "specs" / "orders.yaml").write_text(OPENAPI.replace("Orders", "Orders v2"))
    assert definitions_fetch(Location.objects.get()).resolved == 2
    assert "Orders v2" in Api.objects.get(slug="relative").definition


def test_a_pass_fetches_a_bounded_number_and_leaves_the_rest_for_the_next(tmp_path: Path, monkeypatch):
    monkeypatch.setattr("services.catalog.sync.definitions.MOST_PER_REFRESH", 2)
    (tmp_path / "orders.yaml").write_text(OPENAPI)
    (tmp_path / "catalog-info.yaml").write_text("---\n".join(api(f"api-{n}", "$text: ./orders.yaml")
                                                              for n in range(5)))
    catalog_import(path=tmp_path / "catalog-info.yaml")

    first = definitions_fetch(Location.objects.get())
    assert (first.resolved, first.left) == (2, 3)
    second = definitions_fetch(Location.objects.get())  # pending ones first
    assert (second.resolved, second.left) == (2, 1)


def test_a_repository_location_reads_its_definitions_through_the_host_and_an_unchanged_one_costs_a_304(
        github, admin):  # noqa: F811 - fixtures
    github.seed_repository("acme", "orders", files={
        "catalog-info.yaml": "---\n".join([
            api("orders", "$text: ./openapi.yaml"),
            api("by-url", "$yaml: https://github.com/acme/orders/blob/main/openapi.yaml"),
            api("shared", "$text: https://github.com/acme/specs/blob/main/shared.yaml"),
            api("outside", "$text: https://internal.example.com/x.yaml")]),
        "openapi.yaml": OPENAPI})
    github.seed_repository("acme", "specs", files={"shared.yaml": OPENAPI})
    location = location_register(actor=admin, url="https://github.com/acme/orders", team=None)

    location_refresh_by_id(location.pk)  # the worker's refresh: descriptors, then definitions

    state = {row.slug: row for row in Api.objects.all()}
    assert {slug: row.definition_state for slug, row in state.items()} == {
        "orders": "resolved", "by-url": "resolved", "shared": "resolved", "outside": "unresolved"}
    assert state["orders"].definition == OPENAPI == state["shared"].definition
    assert "internal.example.com" in state["outside"].definition_error
    github.reset_calls()
    done = definitions_fetch(location)
    assert done.unchanged == 3
    assert github.rate_limited_calls() == []  # each unchanged file answered 304
