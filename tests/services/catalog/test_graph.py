"""Dependency graphs: the neighbourhood to a depth, columns in dependency order, cycles drawn, a bound on
nodes, labels escaped, a fixed number of queries per step."""

from __future__ import annotations

import re

import pytest

from services.catalog import graph, writes
from tests.factories import ServiceFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def chain():
    """web -> api -> ledger -> db (db not in the catalog); jobs -> ledger; ledger's owner is payments."""
    team = TeamFactory(slug="payments")
    actor = UserFactory(is_staff=True)
    for slug in ("ledger", "api", "web", "jobs", "far"):
        ServiceFactory(slug=slug, name=slug.title(), owner_team=team)
    for slug, deps in (("web", ["api"]), ("api", ["ledger"]), ("ledger", ["resource:default/db"]),
                       ("jobs", ["ledger"]), ("far", ["web"])):
        writes.service_update(actor=actor, service=writes.Service.objects.get(slug=slug), data={"depends_on": deps})
    return team


def _service(slug):
    return writes.Service.objects.get(slug=slug)


def test_depth_one_is_the_direct_neighbours_in_columns(chain):
    drawn = graph.service_graph(_service("ledger"), depth=1)

    assert set(drawn.nodes) == {"ledger", "api", "jobs", "resource:default/db"}
    assert drawn.edges == {("api", "ledger"), ("jobs", "ledger"), ("ledger", "resource:default/db")}
    layer = {key: node.layer for key, node in drawn.nodes.items()}
    assert layer["api"] == layer["jobs"] < layer["ledger"] < layer["resource:default/db"]
    assert drawn.nodes["ledger"].focus and not drawn.nodes["resource:default/db"].in_catalog


def test_deeper_steps_reach_further_each_way(chain):
    assert "web" not in graph.service_graph(_service("ledger"), depth=1).nodes
    assert {"web", "far"} <= set(graph.service_graph(_service("ledger"), depth=3).nodes)


def test_each_step_costs_a_fixed_number_of_queries(chain, django_assert_max_num_queries):
    # Each way and each step: the edges (1), the slugs of the services reached (1).
    with django_assert_max_num_queries(2 * 2 * 2):
        graph.service_graph(_service("ledger"), depth=2)


def test_a_cycle_is_drawn_and_does_not_loop(chain):
    actor = UserFactory(is_staff=True)
    writes.service_update(actor=actor, service=_service("ledger"), data={"depends_on": ["web"]})

    drawn = graph.service_graph(_service("ledger"), depth=4)

    assert ("ledger", "web") in drawn.edges and ("web", "api") in drawn.edges
    assert graph.render_svg(drawn, title="t").count("graph-edge") == len(drawn.edges)


def test_a_graph_shows_at_most_max_nodes_and_counts_the_rest():
    team = TeamFactory()
    hub = ServiceFactory(slug="hub", owner_team=team)
    actor = UserFactory(is_staff=True)
    for number in range(graph.MAX_NODES + 10):
        dependent = ServiceFactory(slug=f"d{number}", owner_team=team)
        writes.service_update(actor=actor, service=dependent, data={"depends_on": ["hub"]})

    drawn = graph.service_graph(hub, depth=1)

    assert len(drawn.nodes) == graph.MAX_NODES and drawn.left_out == 11


def test_labels_are_escaped_and_nodes_link_to_their_pages(chain):
    service = _service("api")
    service.name = '<script>alert(1)</script>"x'
    service.save()

    svg = graph.render_svg(graph.service_graph(_service("ledger"), depth=1), title="<b>")

    assert "<script>" not in svg and "<b>" not in svg and "&lt;script&gt;" in svg
    assert '<a href="/services/api/">' in svg and 'href="/services/resource' not in svg
    boxes = [tuple(map(int, m)) for m in re.findall(r'<rect x="(\d+)" y="(\d+)"', svg)]
    assert len(boxes) == len(set(boxes)) == 4  # no two boxes on the same spot


def test_the_pages(client, chain):
    client.force_login(UserFactory())
    page = client.get("/services/ledger/dependencies/?depth=9")
    assert page.status_code == 200 and "4 steps each way" in page.content.decode()
    assert client.get("/teams/payments/dependencies/").status_code == 200
    assert client.get("/services/nope/dependencies/").status_code == 404
