#!/usr/bin/env python3
"""50 runs submitted at once against the fake GitHub, 100 ms a call, write spacing on (`make bench-github`).

Starts the fake GitHub (tests/fakes/github.py) with GitHub's secondary rate limits enforced (more
than 80 content-creating requests a minute or 500 an hour per credential, a write while another is
in flight, more than 100 concurrent requests: 403 with Retry-After) and 100 ms of latency on every
call; the portal in its production shape (gunicorn, PostgreSQL `slipway_bench_github`, Redis as
broker) configured for it with SLIPWAY_GITHUB_WRITE_SPACING_SECONDS (default 1.0, GitHub's advice);
2-4 Celery worker processes (one with beat). Submits N runs at once through POST /api/v1/runs/, waits
(bounded) for every one to end, then checks: every run succeeded, one repository each, each with
exactly one commit, no repository created twice, no schema violation, and no secondary rate limit
answered. Prints wall time, calls, the highest write rate seen in any minute, and writes
bench/out/github-runs.json. See bench/README.md.

usage: .venv/bin/python bench/github_runs.py [--runs 50] [--workers 4] [--latency 0.1] [--spacing 1.0]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

import run as bench_run  # noqa: E402 - bench/run.py: Server, log, manage

from tests.fakes.github import FakeGitHub, SecondaryLimits  # noqa: E402

PYTHON = sys.executable
PG_HOST, PG_USER, PG_NAME = "127.0.0.1", "postgres", "slipway_bench_github"
REDIS_BROKER = "redis://127.0.0.1:6379/11"
ORG, TEAM, GITHUB_TEAM = "acme", "bench-gh", "bench-gh"
USER = "bench-gh-member"
PREFIX = "ghb"
REQUEST_TIMEOUT = 30
log = bench_run.log

SETUP_SCRIPT = f"""
from django.contrib.auth import get_user_model
from services.models import Membership, Team
team, _ = Team.objects.get_or_create(slug={TEAM!r}, defaults={{"name": "Bench GitHub"}})
team.github_team_slug = {GITHUB_TEAM!r}
team.save()
user, _ = get_user_model().objects.get_or_create(username={USER!r}, defaults={{"email": "bench@example.org"}})
Membership.objects.get_or_create(team=team, user=user)
"""


def prepare(work: Path, fake: FakeGitHub, args: argparse.Namespace) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "SLIPWAY_", "DJANGO_", "CELERY_"))}
    env.update({
        "SLIPWAY_DATA_DIR": str(work / "data"), "DEBUG": "false", "LOG_LEVEL": "WARNING",
        "PYTHONDONTWRITEBYTECODE": "1", "CELERY_BROKER_URL": REDIS_BROKER,
        "SLIPWAY_CELERY_QUEUE": f"bench-github-{os.getpid()}", "SLIPWAY_SWEEP_SECONDS": "15",
        "SLIPWAY_REPO_HOST": "github", "SLIPWAY_GITHUB_API_URL": fake.api_url, "SLIPWAY_GITHUB_ORG": ORG,
        "SLIPWAY_GITHUB_TOKEN": fake.token, "SLIPWAY_GITHUB_WRITE_SPACING_SECONDS": str(args.spacing),
        "SLIPWAY_RUNS_ACTIVE_PER_PERSON": "0", "SLIPWAY_RUNS_ACTIVE_PER_TEAM": "0",
        "SLIPWAY_RUNS_PER_PERSON_PER_DAY": "0", "SLIPWAY_RUNS_PER_TEAM_PER_DAY": "0",  # measures throughput, not limits
    })
    if args.db == "postgres":
        subprocess.run(["dropdb", "--if-exists", "-h", PG_HOST, "-U", PG_USER, PG_NAME], check=True)
        subprocess.run(["createdb", "-h", PG_HOST, "-U", PG_USER, PG_NAME], check=True)
        env["DATABASE_URL"] = f"postgres://{PG_USER}@{PG_HOST}:5432/{PG_NAME}"
    return env


def start_workers(env: dict[str, str], count: int, work: Path) -> list[subprocess.Popen]:
    workers = []
    for index in range(count):
        command = [PYTHON, "-m", "celery", "-A", "config", "worker", "-Q", env["SLIPWAY_CELERY_QUEUE"],
                   "--concurrency", "1", "--pool", "prefork", "--loglevel", "WARNING", "--without-gossip",
                   "--without-mingle", "-n", f"bench-github-{index}@%h"]
        if index == 0:
            command += ["--beat", "--schedule", str(work / "beat-schedule")]
        out = (work / f"worker-{index}.log").open("wb")
        workers.append(subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                        start_new_session=True))
    return workers


def stop_workers(workers: list[subprocess.Popen]) -> None:
    for worker in workers:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=5)


def submit_all(port: int, token: str, count: int) -> list[dict[str, Any]]:
    """POST every run at the same moment (one thread each, released together)."""
    start = threading.Barrier(count)
    answers: list[dict[str, Any]] = [{} for _ in range(count)]

    def submit(index: int) -> None:
        body = {"template": "python-service", "owner": TEAM,
                "inputs": {"service_name": f"{PREFIX}-{index:03d}", "description": "Bench run on the fake GitHub",
                           "lifecycle": "experimental", "python_version": "3.12", "port": 8080}}
        headers = {"Authorization": f"Token {token}", "Idempotency-Key": f"bench-github-{os.getpid()}-{index}"}
        start.wait(timeout=60)
        started = time.perf_counter()
        try:
            response = requests.post(f"http://127.0.0.1:{port}/api/v1/runs/", json=body, headers=headers,
                                     timeout=REQUEST_TIMEOUT)
            answers[index] = {"status": response.status_code, "ms": (time.perf_counter() - started) * 1000,
                              "id": response.json().get("id") if response.status_code in (200, 202) else None,
                              "body": "" if response.status_code == 202 else response.text[:300]}
        except requests.RequestException as error:
            answers[index] = {"status": 0, "ms": (time.perf_counter() - started) * 1000, "id": None,
                              "body": f"{type(error).__name__}: {error}"}

    threads = [threading.Thread(target=submit, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=REQUEST_TIMEOUT + 70)
    return answers


def runs_state(port: int, token: str) -> list[dict[str, Any]]:
    response = requests.get(f"http://127.0.0.1:{port}/api/v1/runs/?page_size=200",
                            headers={"Authorization": f"Token {token}"}, timeout=REQUEST_TIMEOUT)
    response.raise_for_status()
    return response.json()["results"]


def wait_for_runs(port: int, token: str, ids: set[str], timeout: float) -> tuple[list[dict[str, Any]], bool]:
    deadline = time.monotonic() + timeout
    last_report = 0.0
    while True:
        runs = [run for run in runs_state(port, token) if run["id"] in ids]
        states = Counter(run["state"] for run in runs)
        done = sum(states[s] for s in ("succeeded", "failed", "cancelled"))
        if done == len(ids):
            return runs, True
        if time.monotonic() > deadline:
            return runs, False
        if time.monotonic() - last_report > 30:
            log(f"  runs: {dict(states)}")
            last_report = time.monotonic()
        time.sleep(2)


def check(fake: FakeGitHub, runs: list[dict[str, Any]], count: int, finished: bool) -> dict[str, Any]:
    names = [f"{PREFIX}-{index:03d}" for index in range(count)]
    calls = fake.calls
    creates = [c for c in calls if c.method == "POST" and c.path == f"/orgs/{ORG}/repos"]
    created_names = Counter(r.body.get("name") for r in fake.requests
                            if r.method == "POST" and r.path == f"/orgs/{ORG}/repos" and r.status == 201)
    commits = {name: len(fake.commits(ORG, name)) if fake.has_repo(ORG, name) else 0 for name in names}
    statuses = Counter(c.status for c in calls)
    return {
        "all_finished": finished,
        "succeeded": sum(run["state"] == "succeeded" for run in runs),
        "failed": [{"service": run["service_slug"], "state": run["state"], "error": run["error"][:300]}
                   for run in runs if run["state"] != "succeeded"],
        "repositories": sum(fake.has_repo(ORG, name) for name in names),
        "repositories_with_one_commit": sum(n == 1 for n in commits.values()),
        "repository_creations_answered_201": sum(created_names.values()),
        "repositories_created_twice": sorted(name for name, n in created_names.items() if n > 1),
        "create_attempts": len(creates),
        "violations": [str(v) for v in fake.violations],
        "secondary_limit_answers": [vars(hit) for hit in fake.secondary_limit_hits],
        "answers_403": statuses.get(403, 0),
        "answers_429": statuses.get(429, 0),
        "statuses": dict(sorted(statuses.items())),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--workers", type=int, default=4, help="Celery worker processes (1 child each)")
    parser.add_argument("--latency", type=float, default=0.1, help="seconds added to every fake GitHub call")
    parser.add_argument("--spacing", type=float, default=1.0, help="SLIPWAY_GITHUB_WRITE_SPACING_SECONDS")
    parser.add_argument("--timeout", type=float, default=900, help="give up waiting for the runs after this")
    parser.add_argument("--db", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--keep", action="store_true", help="keep the data directory and the database")
    args = parser.parse_args()
    os.chdir(ROOT)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.db == "postgres" and not bench_run.postgres_available():
        raise SystemExit(f"PostgreSQL is not reachable on {PG_HOST}:5432 (use --db sqlite)")

    work = Path(tempfile.mkdtemp(prefix="slipway-bench-github-"))
    fake = FakeGitHub(org=ORG, enforce_secondary_limits=SecondaryLimits()).start()
    fake.add_team(ORG, GITHUB_TEAM, id=77)
    fake.add_latency(args.latency)
    log(f"fake GitHub at {fake.api_url}: {args.latency * 1000:.0f} ms a call, secondary limits enforced; "
        f"working in {work}")
    workers: list[subprocess.Popen] = []
    web = None
    result: dict[str, Any] = {"runs": args.runs, "workers": args.workers, "latency_s": args.latency,
                              "write_spacing_s": args.spacing, "db": args.db,
                              "started_at": datetime.datetime.now().isoformat(timespec="seconds"),
                              "load_average_start": os.getloadavg()}
    try:
        env = prepare(work, fake, args)
        bench_run.manage(env, "migrate", "--noinput", "-v", "0")
        bench_run.manage(env, "shell", "-c", SETUP_SCRIPT)
        token = bench_run.manage(env, "api_token", USER).strip().splitlines()[-1]
        web = bench_run.Server(env, "gthread:8", work / "gunicorn.log")
        workers = start_workers(env, args.workers, work)
        time.sleep(3)  # let the workers connect to the broker
        fake.reset_calls()

        log(f"submitting {args.runs} runs at once")
        started = time.monotonic()
        answers = submit_all(web.port, token, args.runs)
        submitted = time.monotonic() - started
        result["submit"] = {"statuses": dict(Counter(a["status"] for a in answers)),
                            "seconds": round(submitted, 2),
                            "p50_ms": round(statistics.median(a["ms"] for a in answers), 1),
                            "max_ms": round(max(a["ms"] for a in answers), 1),
                            "refused": [a["body"] for a in answers if a["status"] != 202][:5]}
        log(f"  submitted in {submitted:.2f} s: {result['submit']['statuses']}")
        ids = {a["id"] for a in answers if a["id"]}
        runs, finished = wait_for_runs(web.port, token, ids, args.timeout)
        wall = time.monotonic() - started
        cpu_load = os.getloadavg()

        durations = [
            (datetime.datetime.fromisoformat(r["finished_at"]) - datetime.datetime.fromisoformat(r["created_at"]))
            .total_seconds() for r in runs if r["finished_at"]]
        writes = fake.write_calls()
        result.update({
            "wall_seconds": round(wall, 1),
            "run_seconds": {"min": round(min(durations), 1), "median": round(statistics.median(durations), 1),
                            "max": round(max(durations), 1)} if durations else {},
            "calls": len(fake.calls), "writes": len(writes), "reads": len(fake.calls) - len(writes),
            "calls_per_run": round(len(fake.calls) / max(len(ids), 1), 2),
            "api_calls_counted_by_runs": sum(r["api_calls"] or 0 for r in runs),
            "max_writes_in_any_minute": fake.max_content_per_minute(),
            "mean_writes_per_minute": round(len(writes) / wall * 60, 1),
            "load_average_end": cpu_load,
            "checks": check(fake, runs, args.runs, finished),
        })
    finally:
        stop_workers(workers)
        if web is not None:
            web.stop()
        fake.stop()
        if args.db == "postgres" and not args.keep:
            subprocess.run(["dropdb", "--if-exists", "-h", PG_HOST, "-U", PG_USER, PG_NAME], check=False)
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    checks = result["checks"]
    problems = []
    if not checks["all_finished"]:
        problems.append(f"not every run ended within {args.timeout:.0f} s")
    if checks["succeeded"] != args.runs:
        problems.append(f"{checks['succeeded']} of {args.runs} runs succeeded: {checks['failed'][:3]}")
    if checks["repositories"] != args.runs or checks["repositories_with_one_commit"] != args.runs:
        problems.append(f"{checks['repositories']} repositories, {checks['repositories_with_one_commit']} "
                        "with exactly one commit")
    if checks["repositories_created_twice"] or checks["repository_creations_answered_201"] != args.runs:
        problems.append(f"repositories created twice: {checks['repositories_created_twice']}")
    if checks["violations"]:
        problems.append(f"{len(checks['violations'])} schema violations: {checks['violations'][:3]}")
    if checks["secondary_limit_answers"] or checks["answers_403"] or checks["answers_429"]:
        problems.append(f"rate limits answered: {checks['secondary_limit_answers'][:3]}")
    result["problems"] = problems
    out = BENCH / "out"
    out.mkdir(exist_ok=True)
    (out / "github-runs.json").write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "checks"}, indent=2))
    print(json.dumps({k: v for k, v in checks.items() if k != "statuses"}, indent=2))
    print("PASS: every check held" if not problems else "FAIL:\n" + "\n".join(f"- {p}" for p in problems))
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
