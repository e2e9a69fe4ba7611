#!/usr/bin/env python3
"""Scaffolder benchmarks: render time per template, GitHub calls per run, wall time of one
local-host run, and 20 runs submitted at once to 2 worker processes (all must succeed once).

usage: .venv/bin/python bench/scaffold.py [--runs 20] [--workers 2] [--db sqlite|postgres]

Runs on loopback only, in a throwaway data directory; every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def setup(db: str) -> dict[str, str]:
    data = tempfile.mkdtemp(prefix="slipway-bench-scaffold-")
    env = {"SLIPWAY_DATA_DIR": data, "DJANGO_SETTINGS_MODULE": "config.settings",
           "SLIPWAY_CELERY_QUEUE": f"bench-{os.getpid()}", "SLIPWAY_SWEEP_SECONDS": "2",
           "SLIPWAY_RUNS_ACTIVE_PER_PERSON": "0", "SLIPWAY_RUNS_ACTIVE_PER_TEAM": "0",  # throughput, not limits
           "SLIPWAY_RUNS_PER_PERSON_PER_DAY": "0", "SLIPWAY_RUNS_PER_TEAM_PER_DAY": "0"}
    if db == "postgres":
        subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", "slipway_bench_scaffold"],
                       check=True)
        subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", "slipway_bench_scaffold"], check=True)
        env["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/slipway_bench_scaffold"
        env["CELERY_BROKER_URL"] = "redis://127.0.0.1:6379/5"
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return env


def render_times() -> dict[str, float]:
    from services.scaffolder import templates

    results = {}
    for template in templates.template_list():
        inputs = {spec.name: spec.default for spec in template.inputs}
        inputs[templates.NAME_INPUT] = "bench-service"
        values = templates.inputs_validate(template, inputs)
        portal = templates.portal_values(template, owner="bench")
        samples = []
        for _ in range(20):
            started = time.perf_counter()
            templates.scaffold_render(template, values, portal=portal)
            samples.append(time.perf_counter() - started)
        results[template.name] = round(statistics.median(samples) * 1000, 1)
    return results


def github_calls() -> dict[str, int]:
    """One run's calls on the fake GitHub (the same code path as a worker, run in-process)."""
    from django.conf import settings

    from services.models import ProvisioningRun, Team
    from services.scaffolder.runner import run_advance
    from services.scaffolder.runs import run_create
    from tests.fakes.github import FakeGitHub

    with FakeGitHub() as fake:
        fake.add_team(fake.org if hasattr(fake, "org") else "acme", "bench", id=9)
        settings.SLIPWAY_REPO_HOST = "github"
        settings.SLIPWAY_GITHUB_API_URL = fake.api_url
        settings.SLIPWAY_GITHUB_ORG = "acme"
        settings.SLIPWAY_GITHUB_TOKEN = fake.token
        settings.SLIPWAY_GITHUB_WRITE_SPACING_SECONDS = 0
        Team.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
        run, _ = run_create(actor=None, template="python-service", owner="bench",
                            inputs={"service_name": "bench-github", "description": "bench"})
        run_advance(run.pk)
        run = ProvisioningRun.objects.get(pk=run.pk)
        settings.SLIPWAY_REPO_HOST = "local"
        return {"state": run.state, "calls": run.api_calls, "writes": len(fake.write_calls()),
                "files": len(fake.files("acme", "bench-github"))}


def start_workers(count: int, env: dict[str, str]) -> list[subprocess.Popen]:
    workers = []
    for index in range(count):
        command = [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", env["SLIPWAY_CELERY_QUEUE"],
                   "--concurrency", "1", "--loglevel", "WARNING", "-n", f"bench{index}@%h"]
        if index == 0:
            command += ["--beat", "--schedule", str(Path(env["SLIPWAY_DATA_DIR"]) / "beat")]
        workers.append(subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, start_new_session=True,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    time.sleep(3)  # let them connect
    return workers


def stop_workers(workers: list[subprocess.Popen]) -> None:
    for worker in workers:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)


def local_runs(count: int, prefix: str, timeout: float = 300) -> dict[str, float]:
    from django.db import transaction

    from services.models import ProvisioningRun, Team
    from services.scaffolder.runs import run_create

    Team.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
    started = time.monotonic()
    ids = []
    for index in range(count):
        with transaction.atomic():
            run, _ = run_create(actor=None, template="python-service", owner="bench",
                                inputs={"service_name": f"{prefix}-{index}", "description": "bench"})
        ids.append(run.pk)
    deadline = started + timeout
    while time.monotonic() < deadline:
        done = ProvisioningRun.objects.filter(pk__in=ids, state__in=["succeeded", "failed", "cancelled"]).count()
        if done == count:
            break
        time.sleep(0.05)
    total = time.monotonic() - started
    runs = list(ProvisioningRun.objects.filter(pk__in=ids))
    durations = [(r.finished_at - r.created_at).total_seconds() for r in runs if r.finished_at]
    repos = Path(os.environ["SLIPWAY_DATA_DIR"]) / "repositories" / "slipway"
    return {"runs": count, "succeeded": sum(r.state == "succeeded" for r in runs), "total_seconds": round(total, 2),
            "median_run_seconds": round(statistics.median(durations), 2) if durations else None,
            "repositories": len(list(repos.glob(f"{prefix}-*.git"))),
            "commits": sum(int(subprocess.run(["git", "--git-dir", str(p), "rev-list", "--count", "main"],
                                              capture_output=True, text=True).stdout.strip() or 0)
                           for p in repos.glob(f"{prefix}-*.git"))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    env = setup(args.db)
    results: dict[str, object] = {"db": args.db, "render_ms": render_times(), "github": github_calls()}
    workers = start_workers(args.workers, env)
    try:
        results["one_local_run"] = local_runs(1, "single")
        results["concurrent_local_runs"] = local_runs(args.runs, "batch")
    finally:
        stop_workers(workers)
    print(json.dumps(results, indent=2))
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / f"scaffold-{args.db}.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
