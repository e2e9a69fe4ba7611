#!/usr/bin/env python3
"""Search bench (`make bench-search`): one search over everything, uncached, on SQLite and PostgreSQL.

For each database and size it starts from nothing (a fresh data directory; for PostgreSQL the database
`slipway_bench_search`, dropped and recreated), migrates, imports a generated organisation with
`manage.py import_catalog` (bench/gen_catalog.py), adds runbooks (generated Markdown, inserted with
bulk_create: the write path an import takes) and a few tags, then starts gunicorn on loopback with the
answer cache off (SLIPWAY_RESPONSE_CACHE_SECONDS=0) and loads each search URL with `hey`:
p50/p99 at c=1 and req/s at c=16. Every load is bounded by a request count and a time limit.

Sizes: `10k` = 10,000 services, 500 teams, 30,000 runbooks; `100k` = 100,000 services, 5,000 teams,
30,000 runbooks (gen_catalog.py --services 100000 --teams 5000).

The URLs measured are those the code under test has: the API search (`/api/v1/search/`) and the web
page's suggestions (`/search/?fragment=suggestions`, what the home page asks as one types) when they
exist; before them, the home page's search (`/search/`) and the catalog's `?q=` filter.

usage: python bench/search.py [--db sqlite|postgres|both] [--size 10k|100k|both] [--label after]
       [--requests-c1 200] [--requests 800] [--queries payments,kaf,...]
"""

from __future__ import annotations

import argparse
import datetime
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path.insert(0, str(BENCH))
import run as shared  # noqa: E402 - bench/run.py: processes, gunicorn, hey

OUT = BENCH / "out"
DATA = BENCH / "data"
PG_NAME = "slipway_bench_search"
PG_URL = f"postgres://{shared.PG_USER}@{shared.PG_HOST}:5432/{PG_NAME}"
SIZES = {"10k": (10_000, 500), "100k": (100_000, 5_000)}
RUNBOOKS = 30_000
# What people type: whole names, prefixes as they type, typos, tags, runbook words, people and teams.
QUERIES = {
    "name": "payments",
    "prefix": "kaf",
    "word": "kafka",
    "tag": "pci",
    "body": "card",
    "typo": "paymnets",
    "typo2": "chekout",
    "two_words": "billing ledger",
    "team": "team-42",
    "person": "user 3",
}
HEY_TIMEOUT = 240

SEED_SCRIPT = """
import json, random, secrets
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.auth import SESSION_KEY, BACKEND_SESSION_KEY, HASH_SESSION_KEY
from services.models import CatalogGeneration, Runbook, Service
rnd = random.Random(7)
RUNBOOKS = __RUNBOOKS__
ids = list(Service.objects.values_list("id", flat=True))
TOPICS = ("kafka consumer lag", "card payments declined", "pci audit evidence", "database failover",
          "certificate rotation", "cache stampede", "rollback a release", "disk full", "dns outage",
          "queue backlog", "rate limit exceeded", "memory leak")
VERBS = "restart drain check page escalate rotate scale verify rollback flush inspect".split()
NOUNS = "consumer broker pod node replica shard certificate token queue cache dashboard alert".split()
def body(topic):
    lines = [f"# {topic.capitalize()}", "", f"When {topic} happens, follow these steps.", ""]
    for step in range(1, rnd.randint(6, 14)):
        lines.append(f"{step}. {rnd.choice(VERBS).capitalize()} the {rnd.choice(NOUNS)} "
                     f"and {rnd.choice(VERBS)} the {rnd.choice(NOUNS)} of the {rnd.choice(NOUNS)}.")
    return "\\n".join(lines)
batch = []
for n in range(RUNBOOKS):
    topic = TOPICS[n % len(TOPICS)]
    batch.append(Runbook(service_id=ids[n % len(ids)], slug=f"rb-{n}", title=topic.capitalize(), body=body(topic)))
    if len(batch) == 2000:
        Runbook.objects.bulk_create(batch); batch = []
Runbook.objects.bulk_create(batch)
# 2 % of services are tagged pci, 2 % kafka (a bulk update: the importer's kind of write).
tagged = []
for service in Service.objects.filter(id__in=rnd.sample(ids, len(ids) // 25)).only("id", "tags"):
    service.tags = [*service.tags, rnd.choice(["pci", "kafka"])]
    tagged.append(service)
Service.objects.bulk_update(tagged, ["tags"], batch_size=2000)
User = get_user_model()
reader, _ = User.objects.get_or_create(username="bench-reader", defaults={"email": "bench@example.org"})
session = SessionStore()
session[SESSION_KEY] = str(reader.pk)
session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
session[HASH_SESSION_KEY] = reader.get_session_auth_hash()
session.create()
CatalogGeneration.objects.filter(pk=1).update(value=secrets.randbelow(2**40) + 2**40)
print(json.dumps({"session": session.session_key, "runbooks": Runbook.objects.count(),
                  "services": Service.objects.count()}))
"""


def log(message: str) -> None:
    print(f"[bench-search {datetime.datetime.now():%H:%M:%S}] {message}", flush=True)


def catalog_for(size: str) -> Path:
    """The generated organisation of this size, made once and reused: bench/data/search-<size>/, the
    generator's stream cut into files of at most 10 MB (one descriptor file is refused above 32 MB;
    import_catalog takes a folder)."""
    services, teams = SIZES[size]
    folder = DATA / f"search-{size}"
    if not (folder / "done").exists():
        log(f"generating {folder.name}: {services} services, {teams} teams")
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        text = subprocess.run([shared.PYTHON, str(BENCH / "gen_catalog.py"), "--services", str(services),
                               "--teams", str(teams)], capture_output=True, text=True, check=True, timeout=900).stdout
        documents = text.split("\n---\n")
        part: list[str] = []
        size_now = 0
        for document in documents:
            part.append(document)
            size_now += len(document)
            if size_now > 10_000_000:
                (folder / f"part-{len(list(folder.iterdir())):03}.yaml").write_text("\n---\n".join(part) + "\n")
                part, size_now = [], 0
        if part:
            (folder / f"part-{len(list(folder.iterdir())):03}.yaml").write_text("\n---\n".join(part) + "\n")
        (folder / "done").write_text("")
    return folder


def prepare(db: str, work: Path) -> dict[str, str]:
    env = shared.prepare_database("sqlite", work)  # the environment without touching slipway_bench
    if db == "postgres":
        subprocess.run(["dropdb", "--if-exists", "-h", shared.PG_HOST, "-U", shared.PG_USER, PG_NAME], check=True)
        subprocess.run(["createdb", "-h", shared.PG_HOST, "-U", shared.PG_USER, PG_NAME], check=True)
        env["DATABASE_URL"] = PG_URL
    return env


def hey(port: int, path: str, headers: list[str], requests: int, concurrency: int) -> dict[str, Any]:
    """One bounded hey run on loopback: (req/s, p50, p99, errors)."""
    requests = max(concurrency, requests // concurrency * concurrency)
    cmd = ["hey", "-n", str(requests), "-c", str(concurrency), "-t", "10"]
    for header in headers:
        cmd += ["-H", header]
    result = subprocess.run([*cmd, f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True,
                            timeout=HEY_TIMEOUT)
    text = result.stdout
    rps = shared._RPS.search(text)
    if rps is None:
        raise SystemExit(f"hey {path} printed no summary:\n{text}\n{result.stderr}")
    percentiles = {int(p): float(s) * 1000 for p, s in shared._PERCENTILE.findall(text)}
    statuses = {int(code): int(count) for code, count in shared._STATUS.findall(text)}
    errors = requests - statuses.get(200, 0)
    if errors:
        log(f"  !! {errors} of {requests} requests to {path} were not 200 ({statuses})")
    return {"rps": round(float(rps.group(1)), 1), "p50_ms": round(percentiles.get(50, 0), 2),
            "p99_ms": round(percentiles.get(99, 0), 2), "errors": errors}


def urls(port: int, headers: list[str]) -> dict[str, str]:
    """The search URLs the code under test answers (probed: before and after the search index)."""
    found = {}
    for name, template in (("api", "/api/v1/search/?q={}"), ("suggest", "/search/?fragment=suggestions&q={}"),
                           ("page", "/search/?q={}"), ("catalog_q", "/api/v1/services/?q={}")):
        status = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", *sum((["-H", h] for h in headers), []),
                                 "-H", "HX-Request: true", f"http://127.0.0.1:{port}{template.format('x')}"],
                                capture_output=True, text=True, timeout=30).stdout
        if status == "200":
            found[name] = template
        else:
            log(f"  {name}: {template} answers {status}: not measured")
    return found


def bench(db: str, size: str, args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix=f"slipway-bench-search-{db}-"))
    result: dict[str, Any] = {"db": db, "size": size, "label": args.label,
                              "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                                       capture_output=True, text=True).stdout.strip()}
    try:
        env = prepare(db, work)
        shared.manage(env, "migrate", "--noinput", "-v", "0")
        catalog = catalog_for(size)
        log(f"{db} {size}: import_catalog {catalog.name}")
        result["import"] = shared.run_measured([shared.PYTHON, "manage.py", "import_catalog", str(catalog)], env,
                                               work / "import.log", timeout=1800)
        log(f"  imported in {result['import']['seconds']} s")
        started = time.perf_counter()
        seeded = json.loads(shared.manage(env, "shell", "-c", SEED_SCRIPT.replace("__RUNBOOKS__", str(args.runbooks)),
                                          timeout=1800).strip().splitlines()[-1])
        result["seed_s"] = round(time.perf_counter() - started, 1)
        result["counts"] = {"services": seeded["services"], "runbooks": seeded["runbooks"]}
        log(f"  {seeded['runbooks']} runbooks and tags in {result['seed_s']} s")
        token = shared.manage(env, "api_token", "bench-reader").strip().splitlines()[-1]
        api_headers = [f"Authorization: Token {token}"]
        page_headers = [f"Cookie: sessionid={seeded['session']}", "HX-Request: true"]
        uncached = {**env, "SLIPWAY_RESPONSE_CACHE_SECONDS": "0"}
        figures: dict[str, dict[str, Any]] = {}
        with shared.server(uncached, "sync", work / "gunicorn.log") as web:
            available = urls(web.port, api_headers + page_headers)
            chosen = [name for name in args.endpoints.split(",") if name in available]
            log(f"  endpoints: {', '.join(chosen)}")
            for endpoint in chosen:
                headers = api_headers if endpoint in ("api", "catalog_q") else page_headers
                for label, text in QUERIES.items():
                    if args.queries and label not in args.queries.split(","):
                        continue
                    path = available[endpoint].format(quote(text))
                    hey(web.port, path, headers, 20, 1)  # warm the workers (imports, connections)
                    c1 = hey(web.port, path, headers, args.requests_c1, 1)
                    c16 = hey(web.port, path, headers, args.requests, 16)
                    figures[f"{endpoint}:{label}"] = {"q": text, "p50_ms": c1["p50_ms"], "p99_ms": c1["p99_ms"],
                                                      "rps_c16": c16["rps"], "errors": c1["errors"] + c16["errors"]}
                    log(f"  {endpoint:9} {text!r:18} p50 {c1['p50_ms']:7.2f} ms  p99 {c1['p99_ms']:7.2f} ms  "
                        f"c=16 {c16['rps']:7.1f} req/s")
        result["figures"] = figures
        return result
    finally:
        if db == "postgres" and not args.keep:
            subprocess.run(["dropdb", "--if-exists", "-h", shared.PG_HOST, "-U", shared.PG_USER, PG_NAME], check=False)
        shutil.rmtree(work, ignore_errors=True)


def markdown(results: list[dict[str, Any]]) -> str:
    lines = ["| db | size | endpoint | q | p50 ms (c=1) | p99 ms (c=1) | req/s (c=16) |", "|---|---|---|---|---:|---:|---:|"]
    for result in results:
        for key, row in result["figures"].items():
            endpoint = key.split(":")[0]
            lines.append(f"| {result['db']} | {result['size']} | {endpoint} | `{row['q']}` | {row['p50_ms']:.1f} | "
                         f"{row['p99_ms']:.1f} | {row['rps_c16']:.0f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--size", choices=["10k", "100k", "both"], default="both")
    parser.add_argument("--label", default="after", help="names the output file: bench/out/search-<label>.json")
    parser.add_argument("--runbooks", type=int, default=RUNBOOKS)
    parser.add_argument("--requests-c1", type=int, default=200, help="requests per c=1 run (p50/p99)")
    parser.add_argument("--requests", type=int, default=800, help="requests per c=16 run (req/s)")
    parser.add_argument("--endpoints", default="api,suggest,page,catalog_q",
                        help="which of api, suggest, page, catalog_q to load (those the code has)")
    parser.add_argument("--queries", default="", help="comma-separated labels of: " + ", ".join(QUERIES))
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database afterwards")
    args = parser.parse_args()
    if not shutil.which("hey"):
        raise SystemExit("the search bench needs `hey` (Debian: apt-get install hey)")
    dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    if "postgres" in dbs and not shared.postgres_available():
        log("PostgreSQL is not reachable on 127.0.0.1: measuring SQLite alone")
        dbs = ["sqlite"]
    sizes = list(SIZES) if args.size == "both" else [args.size]
    results = [bench(db, size, args) for size in sizes for db in dbs]
    OUT.mkdir(parents=True, exist_ok=True)
    out = OUT / f"search-{args.label}.json"
    out.write_text(json.dumps(results, indent=2))
    print(markdown(results))
    log(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
