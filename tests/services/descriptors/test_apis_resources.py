"""API and Resource entities: what an import keeps of them, their namespaces, their definitions
(inline, a placeholder for a worker, none), the relations naming them, origins, and the export."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.catalog.sync.locations import catalog_import
from services.descriptors.exporter import catalog_export
from services.models import Api, CatalogConflict, EntityLink, Resource, Service

pytestmark = pytest.mark.django_db


def api(name: str, *, namespace: str = "", definition: str = "definition: |\n    openapi: 3.0.0\n",
        owner: str = "team-a", extra: str = "") -> str:
    ns = f"  namespace: {namespace}\n" if namespace else ""
    return (f"apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata:\n  name: {name}\n{ns}"
            f"  description: The {name} API\n  tags: [rest, pci]\n"
            f"spec:\n  type: openapi\n  lifecycle: production\n  owner: {owner}\n  {definition}{extra}")


def resource(name: str, *, extra: str = "", namespace: str = "") -> str:
    ns = f"  namespace: {namespace}\n" if namespace else ""
    return (f"apiVersion: backstage.io/v1alpha1\nkind: Resource\nmetadata:\n  name: {name}\n{ns}"
            f"spec:\n  type: database\n  owner: team-a\n{extra}")


def component(name: str, extra: str = "") -> str:
    return (f"apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n"
            f"spec:\n  type: service\n  lifecycle: production\n  owner: team-a\n{extra}")


def run_import(folder: Path, *documents: str, name: str = "catalog-info.yaml"):
    path = folder / name
    path.write_text("---\n".join(documents))
    return catalog_import(path=path)


def test_an_api_keeps_its_fields_and_inline_definition_and_reimporting_changes_nothing(tmp_path):
    report = run_import(tmp_path, api("Payments-API", extra="  system: payments\n"))

    assert [r.outcome for r in report.documents] == ["created"]
    row = Api.objects.get()
    assert (row.namespace, row.slug, row.name, row.type, row.lifecycle, row.owner_team.slug) == (
        "default", "payments-api", "Payments-API", "openapi", "production", "team-a")
    assert row.definition == "openapi: 3.0.0\n"
    assert row.definition_state == Api.DefinitionState.INLINE
    assert row.tags == ["rest", "pci"] and row.description == "The Payments-API API"
    assert [r.outcome for r in run_import(tmp_path, api("Payments-API", extra="  system: payments\n")).documents] \
        == ["unchanged"]


def test_the_same_name_in_two_namespaces_is_two_apis_and_two_resources(tmp_path):
    report = run_import(tmp_path, api("orders"), api("orders", namespace="billing"), resource("db"),
                        resource("db", namespace="billing"))

    assert [r.outcome for r in report.documents] == ["created"] * 4
    assert sorted(Api.objects.values_list("namespace", "slug")) == [("billing", "orders"), ("default", "orders")]
    assert sorted(Resource.objects.values_list("namespace", "slug")) == [("billing", "db"), ("default", "db")]
    # The same name twice in one namespace is refused, naming where it was first defined.
    again = run_import(tmp_path, api("orders"), api("Orders"), name="twice.yaml")
    assert again.documents[1].outcome == "invalid"
    assert "already defined at twice.yaml:1" in again.documents[1].reasons[0]


def test_a_placeholder_waits_for_a_worker_and_what_it_fetched_is_kept_until_the_target_changes(tmp_path):
    run_import(tmp_path, api("orders", definition="definition:\n    $text: ./orders.oas.yaml\n"))
    row = Api.objects.get()
    assert (row.definition_state, row.definition_placeholder, row.definition_target, row.definition) == (
        Api.DefinitionState.PENDING, "$text", "./orders.oas.yaml", "")

    Api.objects.filter(pk=row.pk).update(definition="openapi: 3.1.0", definition_state="resolved")
    run_import(tmp_path, api("orders", definition="definition:\n    $text: ./orders.oas.yaml\n"))
    assert Api.objects.get().definition == "openapi: 3.1.0"  # same target: the fetched text stays

    run_import(tmp_path, api("orders", definition="definition:\n    $yaml: ./v2.yaml\n"))
    row = Api.objects.get()
    assert (row.definition_state, row.definition_placeholder, row.definition) == ("pending", "$yaml", "")


def test_an_api_without_a_definition_is_kept_with_its_remotes(tmp_path):
    report = run_import(tmp_path, api("mcp", definition="remotes:\n    - {type: streamable-http, url: "
                                                        "'https://mcp.example.com/v1'}\n"))

    assert [r.outcome for r in report.documents] == ["created"]
    row = Api.objects.get()
    assert row.definition_state == Api.DefinitionState.NONE
    assert row.remotes == [{"type": "streamable-http", "url": "https://mcp.example.com/v1"}]


@pytest.mark.parametrize(("definition", "reason"), [
    ("definition:\n    $text: a\n    $json: b\n", "spec.definition must be the definition's text or one of"),
    ("definition:\n    $file: ./a.yaml\n", "spec.definition must be the definition's text or one of"),
    ("definition:\n    $text: ''\n", "spec.definition.$text must name a file or URL"),
    ("definition: ''\n", "spec.definition is empty"),
    ("definition: [1, 2]\n", "spec.definition must be the definition's text or one of"),
    ("remotes: {a: b}\n", "spec.remotes must be a list"),
])
def test_a_bad_definition_is_refused_with_the_field_named(tmp_path, definition, reason):
    report = run_import(tmp_path, api("orders", definition=definition))

    assert report.documents[0].outcome == "invalid"
    assert any(r.startswith(reason) for r in report.documents[0].reasons), report.documents[0].reasons
    assert not Api.objects.exists()


def test_relations_are_kept_by_reference_and_follow_the_descriptor(tmp_path):
    links = ("  providesApis: [orders]\n  consumesApis: ['api:billing/orders']\n"
             "  dependsOn: ['resource:db']\n  dependencyOf: ['component:shop']\n")
    run_import(tmp_path, component("orders-service", links), api("orders"),
               resource("db", extra="  dependsOn: ['resource:disk']\n  dependencyOf: [component:orders-service]\n"))

    service = Service.objects.get(slug="orders-service")
    assert set(EntityLink.objects.filter(service=service).values_list("relation", "target_ref")) == {
        ("providesApis", "api:default/orders"), ("consumesApis", "api:billing/orders"),
        ("dependencyOf", "component:default/shop")}
    assert list(service.dependencies.values_list("target_ref", flat=True)) == ["resource:default/db"]
    assert set(EntityLink.objects.filter(resource__slug="db").values_list("relation", "target_ref")) == {
        ("dependsOn", "resource:default/disk"), ("dependencyOf", "component:default/orders-service")}

    report = run_import(tmp_path, component("orders-service", "  providesApis: [orders]\n"), api("orders"),
                        resource("db"))
    assert [r.outcome for r in report.documents] == ["updated", "unchanged", "updated"]
    assert report.documents[0].changes == ["consumes_apis", "dependency_of", "depends_on"]
    assert list(EntityLink.objects.values_list("relation", "target_ref")) == [("providesApis", "api:default/orders")]


def test_an_api_another_location_holds_is_a_conflict_and_one_no_longer_produced_is_an_orphan(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    run_import(first, api("orders"), resource("db"))

    report = run_import(second, api("orders"))
    assert report.documents[0].outcome == "conflict"
    assert CatalogConflict.objects.get().name == "default/orders"

    run_import(first, api("other"))
    assert Api.objects.get(slug="orders").orphaned_at is not None
    assert Resource.objects.get(slug="db").orphaned_at is not None
    assert Api.objects.get(slug="other").orphaned_at is None


def test_export_writes_apis_resources_and_relations_that_import_again_unchanged(tmp_path):
    links = "  providesApis: [orders]\n  dependsOn: ['resource:billing/db']\n"
    run_import(tmp_path, component("orders-service", links), api("orders"),
               api("hooks", definition="definition:\n    $text: https://example.com/hooks.yaml\n"),
               api("mcp", definition="remotes:\n    - {type: sse, url: 'https://mcp.example.com'}\n"),
               resource("db", namespace="billing", extra="  dependsOn: ['resource:disk']\n"))
    documents = {(d["kind"], d["metadata"]["name"]): d for d in catalog_export().documents}

    assert documents[("API", "hooks")]["spec"]["definition"] == {"$text": "https://example.com/hooks.yaml"}
    assert documents[("API", "mcp")]["spec"]["remotes"] == [{"type": "sse", "url": "https://mcp.example.com"}]
    assert documents[("Resource", "db")]["metadata"]["namespace"] == "billing"
    assert documents[("Resource", "db")]["spec"]["dependsOn"] == ["resource:default/disk"]
    assert documents[("Component", "orders-service")]["spec"]["providesApis"] == ["api:default/orders"]

    again = run_import(tmp_path, catalog_export().dump())
    assert {r.outcome for r in again.documents if r.kind in ("API", "Resource", "Component")} == {"unchanged"}
