"""The dependency graph page of a service with a 200-node neighbourhood (`make bench-graph`): server time
of GET /services/<slug>/dependencies/?depth=4 (read, layout and SVG; pages are not cached) over a
catalog of --services services, each depending on --fanout others, p50/p99 of --runs requests at
c=1, and the same for the layout and SVG alone. Target (issue #14): under 200 ms at 200 nodes.

The portal runs in this process (Django's test client, no network), on SQLite by default or PostgreSQL
with --db postgres. Writes bench/out/graph.json. See bench/README.md.

usage: .venv/bin/python bench/graph.py [--services 10000] [--fanout 6] [--runs 50] [--db sqlite|postgres]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = ROOT / "bench" / "out"
PG_HOST, PG_USER, PG_NAME = "127.0.0.1", "postgres", "slipway_bench_graph"
MOST_SECONDS = 300  # the measuring loop stops here whatever --runs says


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"p50_ms": round(statistics.median(ordered) * 1000, 1),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 1),
            "runs": len(ordered)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", type=int, default=10_000)
    parser.add_argument("--fanout", type=int, default=6, help="dependencies of each service")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="slipway-bench-graph-"))
    os.environ.update({"SLIPWAY_DATA_DIR": str(work), "DJANGO_SETTINGS_MODULE": "config.settings",
                       "CELERY_BROKER_URL": "memory://"})
    os.environ.pop("SLIPWAY_CACHE_URL", None)
    if args.db == "postgres":
        subprocess.run(["dropdb", "-h", PG_HOST, "-U", PG_USER, "--if-exists", PG_NAME], check=True)
        subprocess.run(["createdb", "-h", PG_HOST, "-U", PG_USER, PG_NAME], check=True)
        os.environ["DATABASE_URL"] = f"postgres://{PG_USER}@{PG_HOST}:5432/{PG_NAME}"
    else:
        os.environ.pop("DATABASE_URL", None)

    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    from services.catalog import graph
    from services.catalog.generation import bump_generation
    from services.models import Service, ServiceDependency, Team

    call_command("migrate", verbosity=0)
    settings.ALLOWED_HOSTS = ["*"]
    team = Team.objects.create(slug="platform", name="Platform")
    Service.objects.bulk_create(Service(slug=f"svc-{n:05d}", name=f"Service {n}", owner_team=team)
                                for n in range(args.services))
    ids = list(Service.objects.order_by("slug").values_list("pk", "slug"))
    rng = random.Random(14)
    edges = []
    for index, (pk, _) in enumerate(ids):
        # Mostly "downhill" (to services later in the list), as real call graphs are mostly layered.
        later = ids[index + 1:index + 400]
        for target_pk, target_slug in rng.sample(later, min(args.fanout, len(later))):
            edges.append(ServiceDependency(service_id=pk, target_id=target_pk,
                                           target_ref=f"component:default/{target_slug}"))
    ServiceDependency.objects.bulk_create(edges, batch_size=2000, ignore_conflicts=True)
    bump_generation()
    center = Service.objects.get(slug=ids[len(ids) // 2][1])
    drawn = graph.service_graph(center, depth=4)
    print(f"{args.services:,} services, {len(edges):,} dependencies; the neighbourhood of {center.slug} at depth 4: "
          f"{len(drawn.nodes)} nodes, {len(drawn.edges)} edges, {drawn.left_out} left out", flush=True)

    user = get_user_model().objects.create_user("bench", password="x" * 20)
    client = Client()
    client.force_login(user)
    url = f"/services/{center.slug}/dependencies/?depth=4"
    assert client.get(url).status_code == 200
    page, drawing = [], []
    deadline = time.monotonic() + MOST_SECONDS
    for _ in range(args.runs):
        if time.monotonic() > deadline:
            break
        start = time.perf_counter()
        response = client.get(url)
        page.append(time.perf_counter() - start)
        assert response.status_code == 200
        start = time.perf_counter()
        graph.render_svg(graph.service_graph(center, depth=4), title="bench")  # read and laid out, drawn
        drawing.append(time.perf_counter() - start)
    results = {"services": args.services, "dependencies": len(edges), "db": args.db, "nodes": len(drawn.nodes),
               "edges": len(drawn.edges), "page": _percentiles(page), "graph_and_svg": _percentiles(drawing)}
    print(json.dumps(results), flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "graph.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
