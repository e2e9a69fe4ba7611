#!/usr/bin/env python3
"""Discovery and refresh of a GitHub organisation of N repositories against the fake GitHub
(`make bench-sync`): GitHub calls, calls counted against the rate limit, wall time and peak memory of

1. the first refresh (every repository listed and read),
2. a refresh where nothing changed (target: under 2 minutes, under 150 rate-limited calls at 10,000),
   with a share of the repositories (--codeowners, default 70 %) holding a .github/CODEOWNERS, which sync
   reads too (a repository without one costs 3 reads, GitHub's three places, each time it is pushed to),
3. a refresh after 1 % of the repositories changed their descriptor,
4. a signed push webhook for one changed descriptor until the change is in the catalog (target: 5 s;
   measured here in one process: delivery, then the refresh a worker would run).

The portal runs in this process (Django, SQLite by default or PostgreSQL with --db postgres), the fake
GitHub in a thread of it (its memory is resident before the first phase and not counted: each phase
reports the peak resident size reached during it, above what was resident when it started). Writes
bench/out/github-sync.json. See bench/README.md.

usage: .venv/bin/python bench/github_sync.py [--repositories 10000] [--changed 0.01] [--db sqlite|postgres]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = ROOT / "bench" / "out"
PG_HOST, PG_USER, PG_NAME = "127.0.0.1", "postgres", "slipway_bench_sync"
SECRET = "bench-webhook-secret-0123456789abcdef"


def _rss_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _reset_peak() -> None:
    """Linux: writing 5 to clear_refs resets the peak resident size (VmHWM) to the current one."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def descriptor(name: str, kind: str = "service") -> str:
    return (f"apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n"
            f"  description: Service {name}\nspec:\n  type: {kind}\n  lifecycle: production\n"
            f"  owner: team-{int(name.rsplit('-', 1)[1]) % 50}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repositories", type=int, default=10_000)
    parser.add_argument("--changed", type=float, default=0.01, help="share of repositories changed in phase 3")
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--profile", action="store_true", help="print where the webhook's refresh spends its time")
    parser.add_argument("--codeowners", type=float, default=0.7,
                        help="share of repositories with a .github/CODEOWNERS (the others have none: 3 reads each)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="slipway-bench-sync-"))
    os.environ.update({"SLIPWAY_DATA_DIR": str(work), "DJANGO_SETTINGS_MODULE": "config.settings",
                       "LOG_LEVEL": "ERROR", "DEBUG": "false", "SECRET_KEY": "bench-" + "x" * 50})
    if args.db == "postgres":
        subprocess.run(["dropdb", "--if-exists", "-h", PG_HOST, "-U", PG_USER, PG_NAME], check=True)
        subprocess.run(["createdb", "-h", PG_HOST, "-U", PG_USER, PG_NAME], check=True)
        os.environ["DATABASE_URL"] = f"postgres://{PG_USER}@{PG_HOST}:5432/{PG_NAME}"
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from services.catalog.sync.locations import location_refresh_by_id, location_register_organisation
    from services.catalog.sync.webhooks import github_delivery
    from services.models import Location, Service
    from tests.fakes.github import FakeGitHub

    call_command("migrate", verbosity=0)
    settings.CELERY_BROKER_URL = "memory://"  # the bench calls the refresh itself; nothing is queued
    fake = FakeGitHub()
    fake.rate_limit = 1_000_000  # the bench counts the calls; the fake must not refuse them
    fake.start()
    settings.SLIPWAY_REPO_HOST = "github"
    settings.SLIPWAY_GITHUB_API_URL, settings.SLIPWAY_GITHUB_ORG = fake.api_url, "acme"
    settings.SLIPWAY_GITHUB_TOKEN, settings.SLIPWAY_GITHUB_WEBHOOK_SECRET = fake.token, SECRET

    started = time.monotonic()
    names = [f"svc-{number:05d}" for number in range(args.repositories)]
    for number, name in enumerate(names):
        files = {"catalog-info.yaml": descriptor(name)}
        if args.codeowners and (args.codeowners >= 1 or number % 10 < round(args.codeowners * 10)):
            files[".github/CODEOWNERS"] = f"* @acme/team-{number % 50}\n/docs/ @acme/writers\n"
        fake.seed_repository("acme", name, files=files)
    print(f"seeded {len(names):,} repositories in {time.monotonic() - started:.1f} s", flush=True)
    location = location_register_organisation(actor=None, organisation="acme")
    results: dict[str, Any] = {"repositories": args.repositories, "db": args.db, "codeowners_share": args.codeowners}

    def phase(label: str) -> dict[str, Any]:
        fake.reset_calls()
        _reset_peak()
        before = _rss_kb("VmRSS")
        start = time.monotonic()
        result = location_refresh_by_id(location.pk)
        seconds = time.monotonic() - start
        figures = {"seconds": round(seconds, 2), "calls": len(fake.calls),
                   "rate_limited_calls": len(fake.rate_limited_calls()),
                   "peak_rss_above_start_mb": round((_rss_kb("VmHWM") - before) / 1024, 1),
                   "skipped": result.skipped, "changed": result.changed, "state": result.state,
                   "documents": result.report.counts()}
        print(f"{label}: {json.dumps(figures)}", flush=True)
        return figures

    results["first"] = phase("first refresh")
    assert Service.objects.count() == args.repositories, Service.objects.count()
    results["no_change"] = phase("no-change refresh")
    changed = names[:: max(1, round(1 / args.changed))] if args.changed else []
    for name in changed:
        fake.push_files("acme", name, {"catalog-info.yaml": descriptor(name, "worker")})
    results["changed_share"] = args.changed
    results["after_changes"] = phase(f"refresh after {len(changed):,} changed")
    assert Service.objects.filter(type="worker").count() == len(changed)

    # A webhook: push, deliver (signature checked), refresh, visible.
    from tests.fakes.github import sign_webhook

    target = names[-1]
    before_sha = fake.repo("acme", target).refs["refs/heads/main"]
    start = time.monotonic()
    after_sha = fake.push_files("acme", target, {"catalog-info.yaml": descriptor(target, "website")})
    payload = fake.push_event("acme", target, before=before_sha, after=after_sha)
    body = json.dumps(payload).encode()
    delivered = github_delivery(event="push", delivery="bench-1", body=body, signature=sign_webhook(SECRET, body))
    assert delivered.locations == [location.pk], delivered
    fake.reset_calls()
    pushed = time.monotonic() - start
    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
    location_refresh_by_id(location.pk, [f"acme/{target}"])  # the task the webhook queued, with its arguments
    if args.profile:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    visible = Service.objects.get(slug=target).type == "website"
    results["webhook"] = {"seconds_to_visible": round(time.monotonic() - start, 2), "visible": visible,
                          "seconds_push_and_delivery": round(pushed, 2),
                          "calls": len(fake.calls), "rate_limited_calls": len(fake.rate_limited_calls())}
    print(f"webhook: {json.dumps(results['webhook'])}", flush=True)
    results["location_state"] = Location.objects.get(pk=location.pk).state
    fake.assert_no_violations()
    fake.stop()
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "github-sync.json").write_text(json.dumps(results, indent=2))
    print(f"wrote {OUT / 'github-sync.json'}")


if __name__ == "__main__":
    main()
