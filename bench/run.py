#!/usr/bin/env python3
"""Slipway's benchmark (`make bench`): catalog import, then API reads under load, on SQLite and PostgreSQL.

For each database it starts from nothing (a fresh data directory; for PostgreSQL the database
`slipway_bench`, dropped and recreated), migrates, times `manage.py import_catalog` on a synthetic
organisation (bench/gen_catalog.py: 10,000 services, 500 teams, 2,000 people, 100 systems,
20 domains) with its peak memory, then starts gunicorn on loopback and loads it with `hey`:

  cached    the answers as a client sees them in steady state (served from the per-generation cache)
  uncached  the same requests with the answer cache switched off (SLIPWAY_RESPONSE_CACHE_SECONDS=0):
            what a request costs when its answer must be computed
  sweep     one request to each of many different URLs (cache on, none seen before): first-hit
            latency, and how big the web workers grow as their cache fills

Each load is bounded by a request count and a time limit, and targets 127.0.0.1 only. Results go
to bench/out/results-<db>.json and a Markdown table is printed. See bench/README.md.

usage: python bench/run.py [--db sqlite|postgres|both] [--quick] [--runs N] [--server auto|sync|gthread:N]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import hashlib
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
DATA = BENCH / "data"
OUT = BENCH / "out"
PYTHON = sys.executable
CATALOG = DATA / "catalog.yaml"

PG_HOST, PG_USER, PG_NAME = "127.0.0.1", "postgres", "slipway_bench"
PG_URL = f"postgres://{PG_USER}@{PG_HOST}:5432/{PG_NAME}"
NEVER_TOUCH = {"test", "test_test", "postgres", "template0", "template1"}
READER = "bench-reader"

HEY_TIMEOUT = 240  # seconds: no single load run may take longer
REQUEST_TIMEOUT = 10  # seconds, per request
STALL_MS = 1000  # a server configuration that leaves any request waiting this long is not chosen

# Targets (bench/README.md): what each endpoint must reach at c=16, and p99 at c=1 (ms).
TARGETS = {
    "ownership_service": {"rps": 870, "aim_rps": 1740, "p99_ms": 10},
    "ownership_repo": {"rps": 870, "aim_rps": 1740, "p99_ms": 10},
    "team_services": {"rps": 870},
    "ownership_team": {"rps": 870},
    "list_page": {"rps": 525},
    "search": {"rps": 525},
}
IMPORT_TARGET_S = 8.0
WORKER_RSS_TARGET_MB = 150.0
BACKSTAGE = {  # Backstage's catalog backend on the same kind of machine (req/s at c=16, p99 ms at c=1)
    "import_s": 160,
    "ownership_service": (870, 6),
    "team_services": (290, 9),
    "list_page": (105, 23),
    "search": (95, 23),
}

ENDPOINTS = {
    "ownership_service": "Ownership by service",
    "ownership_repo": "Ownership by repository URL",
    "team_services": "Team's services (list, owner=team-42)",
    "ownership_team": "Ownership by team (team-42)",
    "list_page": "First page of 50 services",
    "search": "Name search (q=<word>)",
}
SEARCH_WORDS = ("billing", "ledger", "checkout")


def log(message: str) -> None:
    print(f"[bench {datetime.datetime.now():%H:%M:%S}] {message}", flush=True)


# ------------------------------------------------------------------------------------------------
# The synthetic organisation.


def generator_args(args: argparse.Namespace) -> list[str]:
    return ["--services", str(args.services), "--teams", str(args.teams), "--seed", str(args.seed)]


def ensure_catalog(args: argparse.Namespace) -> dict[str, Any]:
    """Generate bench/data/catalog.yaml unless one made by the same generator and arguments is there."""
    DATA.mkdir(parents=True, exist_ok=True)
    generator = BENCH / "gen_catalog.py"
    stamp = {"args": generator_args(args), "generator_sha256": hashlib.sha256(generator.read_bytes()).hexdigest()}
    stamp_file = DATA / "catalog.stamp.json"
    if CATALOG.exists() and stamp_file.exists() and json.loads(stamp_file.read_text()) == stamp:
        log(f"reusing {CATALOG.relative_to(ROOT)} ({CATALOG.stat().st_size / 1e6:.1f} MB)")
    else:
        log(f"generating {CATALOG.relative_to(ROOT)} ({args.services} services, {args.teams} teams)")
        started = time.perf_counter()
        partial = CATALOG.with_suffix(".yaml.partial")
        with partial.open("wb") as out:
            subprocess.run([PYTHON, str(generator), *generator_args(args)], stdout=out, check=True)
        partial.replace(CATALOG)
        stamp_file.write_text(json.dumps(stamp))
        log(f"generated in {time.perf_counter() - started:.1f} s ({CATALOG.stat().st_size / 1e6:.1f} MB)")
    # The same generator, in process, tells which names exist (without parsing the YAML).
    sys.path.insert(0, str(BENCH))
    try:
        import gen_catalog
    finally:
        sys.path.pop(0)
    docs = gen_catalog.generate(args.services, args.teams, args.seed)
    kinds: dict[str, list[dict[str, Any]]] = {}
    for doc in docs:
        kinds.setdefault(doc["kind"], []).append(doc)
    return {
        "services": [d["metadata"]["name"] for d in kinds["Component"]],
        "teams": [d["metadata"]["name"] for d in kinds["Group"]],
        "words": list(gen_catalog.WORDS),
        "counts": {kind: len(items) for kind, items in kinds.items()},
    }


# ------------------------------------------------------------------------------------------------
# Processes.


def manage(env: dict[str, str], *argv: str, capture: bool = True, timeout: int = 600) -> str:
    result = subprocess.run([PYTHON, "manage.py", *argv], cwd=ROOT, env=env, timeout=timeout,
                            capture_output=capture, text=True)
    if result.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(argv)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result.stdout if capture else ""


def run_measured(cmd: list[str], env: dict[str, str], log_file: Path, timeout: int) -> dict[str, Any]:
    """Run cmd to completion; wall time, CPU time and the peak RSS of the process (wait4's rusage)."""
    with log_file.open("wb") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = started + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                pid, status, usage = os.wait4(proc.pid, 0)
                raise SystemExit(f"{' '.join(cmd)} took longer than {timeout} s; see {log_file}")
            time.sleep(0.02)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{log_file.read_text()[-4000:]}")
    return {
        "seconds": round(wall, 2),
        "cpu_user_s": round(usage.ru_utime, 2),
        "cpu_system_s": round(usage.ru_stime, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),  # Linux reports KiB
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    found.append(int(entry.name))
    return sorted(found)


class Server:
    """gunicorn on 127.0.0.1 in its own process group; stopped (the whole group) on exit."""

    def __init__(self, env: dict[str, str], config: str, log_file: Path, workers: int = 2,
                 keep_alive: float = 2) -> None:
        self.port = free_port()
        self.config = config
        worker_class, _, threads = config.partition(":")
        cmd = [PYTHON, "-m", "gunicorn", "config.wsgi", "-w", str(workers), "-b", f"127.0.0.1:{self.port}",
               "--worker-class", worker_class, "--log-level", "warning", "--timeout", "60",
               "--keep-alive", str(int(keep_alive))]
        if worker_class == "gthread":
            cmd += ["--threads", threads or "4"]
        self.log_file = log_file
        self.out = log_file.open("ab")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=self.out, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.workers = workers
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"gunicorn exited ({self.proc.returncode}); see {self.log_file}")
            if len(children(self.proc.pid)) >= self.workers:
                with contextlib.suppress(OSError):
                    if http_get(self.port, "/healthz")[0] == 200:
                        return
            time.sleep(0.2)
        self.stop()
        raise SystemExit(f"gunicorn did not answer within {timeout} s; see {self.log_file}")

    def worker_rss(self) -> dict[str, float]:
        return {"master": rss_mb(self.proc.pid), **{f"worker-{i}": rss_mb(pid)
                                                     for i, pid in enumerate(children(self.proc.pid), 1)}}

    def cpu_seconds(self) -> float:
        """User + system CPU time used so far by the master and its workers."""
        total = 0
        for pid in (self.proc.pid, *children(self.proc.pid)):
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
        return total / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self.out.close()


@contextlib.contextmanager
def server(env: dict[str, str], config: str, log_file: Path) -> Iterator[Server]:
    running = Server(env, config, log_file)
    try:
        yield running
    finally:
        running.stop()


def http_get(port: int, path: str, token: str = "") -> tuple[int, bytes, float]:
    """One GET on a new connection; (status, body, seconds)."""
    headers = {"Authorization": f"Token {token}"} if token else {}
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    return response.status, body, time.perf_counter() - started


# ------------------------------------------------------------------------------------------------
# Load.

_RPS = re.compile(r"Requests/sec:\s+([\d.]+)")
_PERCENTILE = re.compile(r"^\s+(\d+)% in ([\d.]+) secs", re.M)
_STATUS = re.compile(r"^\s+\[(\d+)\]\s+(\d+) responses", re.M)
_SLOWEST = re.compile(r"Slowest:\s+([\d.]+) secs")


def hey(web: Server, path: str, token: str, requests: int, concurrency: int) -> dict[str, Any]:
    """One bounded `hey` run against 127.0.0.1 (count-bounded, and killed past HEY_TIMEOUT).

    Besides hey's figures: the server's CPU time per request (robust to other load on the machine)
    and the load average, to judge how quiet the machine was.
    """
    requests = max(concurrency, requests // concurrency * concurrency)  # hey sends n // c per worker
    url = f"http://127.0.0.1:{web.port}{path}"
    cpu_before = web.cpu_seconds()
    cmd = ["hey", "-n", str(requests), "-c", str(concurrency), "-t", str(REQUEST_TIMEOUT),
           "-H", f"Authorization: Token {token}", url]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=HEY_TIMEOUT)
    server_cpu = web.cpu_seconds() - cpu_before
    text = result.stdout
    rps = _RPS.search(text)
    slowest = _SLOWEST.search(text)
    percentiles = {int(p): float(s) * 1000 for p, s in _PERCENTILE.findall(text)}
    statuses = {int(code): int(count) for code, count in _STATUS.findall(text)}
    if rps is None:
        raise SystemExit(f"hey {url} printed no summary:\n{text}\n{result.stderr}")
    errors = requests - statuses.get(200, 0)
    if errors:
        log(f"  !! {errors} of {requests} requests to {path} failed or were not 200 (statuses {statuses})")
    return {"requests": requests, "concurrency": concurrency, "rps": round(float(rps.group(1)), 1),
            # hey prints a percentile only when the run has enough requests for it (p99: 100 or more)
            **{f"p{p}_ms": round(percentiles[p], 2) if p in percentiles else None for p in (50, 90, 99)},
            "slowest_ms": round(float(slowest.group(1)) * 1000, 2) if slowest else None,
            "errors": errors, "statuses": statuses,
            "server_cpu_ms_per_request": round(server_cpu * 1000 / requests, 3),
            "load_average_1m": round(os.getloadavg()[0], 2)}


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("rps", "p50_ms", "p99_ms", "server_cpu_ms_per_request")
    median = {key: round(statistics.median(values), 3) if (values := [r[key] for r in runs if r[key] is not None])
              else None for key in keys}
    median["errors"] = sum(r["errors"] for r in runs)
    median["slowest_ms"] = max((r["slowest_ms"] or 0) for r in runs)
    return median


def endpoint_paths(names: dict[str, Any], run: int, offset: int) -> dict[str, str]:
    """The URL of each endpoint for one run: lookups ask about a different service every run."""
    services = names["services"]
    slug = services[(4242 + 997 * (run + offset)) % len(services)]
    return {
        "ownership_service": f"/api/v1/ownership/?service={slug}",
        "ownership_repo": f"/api/v1/ownership/?repo=https://github.com/acme/{slug}.git",
        "team_services": "/api/v1/services/?owner=team-42",
        "ownership_team": "/api/v1/ownership/?team=team-42",
        "list_page": "/api/v1/services/?page_size=50",
        "search": f"/api/v1/services/?q={SEARCH_WORDS[run % len(SEARCH_WORDS)]}",
    }


def check_answer(port: int, token: str, path: str) -> dict[str, Any]:
    status, body, _ = http_get(port, path, token)
    if status != 200:
        raise SystemExit(f"GET {path} answered {status}: {body[:500]!r}")
    return json.loads(body)


def load_pass(web: Server, token: str, names: dict[str, Any], args: argparse.Namespace, *, cached: bool,
              offset: int, only: list[str]) -> dict[str, Any]:
    """c=16 (throughput) and c=1 (latency) runs of every endpoint; the median of the runs."""
    c16_requests = args.requests if cached else args.uncached_requests
    c1_requests = args.requests_c1 if cached else args.uncached_requests_c1
    results: dict[str, Any] = {}
    for name in only:
        runs16, runs1 = [], []
        for run in range(args.runs):
            path = endpoint_paths(names, run, offset)[name]
            answer = check_answer(web.port, token, path)
            if name in ("team_services", "list_page", "search") and not answer.get("results"):
                raise SystemExit(f"GET {path} found nothing: the benchmark would measure an empty answer")
            if cached:
                for _ in range(8):  # every worker computes and caches the answer before the clock starts
                    http_get(web.port, path, token)
            runs16.append(hey(web, path, token, c16_requests, 16))
            runs1.append(hey(web, path, token, c1_requests, 1))
        results[name] = {"path_example": endpoint_paths(names, 0, offset)[name],
                         "c16": {"median": median_of(runs16), "runs": runs16},
                         "c1": {"median": median_of(runs1), "runs": runs1}}
        c16, c1 = results[name]["c16"]["median"], results[name]["c1"]["median"]
        log(f"  {name:18} c16 {c16['rps']:8.1f} req/s ({c16['server_cpu_ms_per_request']:.2f} ms CPU/req)   "
            f"c1 p50 {_ms(c1['p50_ms'])} ms  p99 {_ms(c1['p99_ms'])} ms")
    return results


def sweep(port: int, token: str, names: dict[str, Any], count: int) -> dict[str, Any]:
    """One request to each of many URLs none asked before (cache on): first-hit latency, c=1."""
    services, teams, words = names["services"], names["teams"], names["words"]
    plans = {
        "ownership_service": [f"/api/v1/ownership/?service={s}" for s in services[1::37][:count]],
        "ownership_repo": [f"/api/v1/ownership/?repo=https://github.com/acme/{s}.git" for s in services[2::37][:count]],
        "team_services": [f"/api/v1/services/?owner={t}" for t in teams[100:100 + count // 2]],
        "ownership_team": [f"/api/v1/ownership/?team={t}" for t in teams[300:300 + count // 2]],
        "list_page": [f"/api/v1/services/?page_size=50&page={p}" for p in range(2, 2 + count // 2)],
        "search": [f"/api/v1/services/?q={w}" for w in words if w not in SEARCH_WORDS][: count // 2],
    }
    results = {}
    for name, paths in plans.items():
        times = []
        for path in paths:
            status, body, seconds = http_get(port, path, token)
            if status != 200:
                raise SystemExit(f"GET {path} answered {status}: {body[:300]!r}")
            times.append(seconds * 1000)
        times.sort()
        results[name] = {"urls": len(paths), "p50_ms": round(statistics.median(times), 2),
                         "p99_ms": round(times[min(len(times) - 1, int(len(times) * 0.99))], 2),
                         "max_ms": round(times[-1], 2)}
        log(f"  sweep {name:18} {len(paths):4} URLs  p50 {results[name]['p50_ms']:6.2f} ms  "
            f"p99 {results[name]['p99_ms']:6.2f} ms")
    return results


def choose_server(env: dict[str, str], token: str, names: dict[str, Any], work: Path,
                  candidates: list[str]) -> tuple[str, dict[str, Any]]:
    """Try each gunicorn configuration (2 workers each) on two cached endpoints at c=16; keep the
    fastest that answered every request with no stall (no request slower than STALL_MS)."""
    trial: dict[str, Any] = {}
    for config in candidates:
        with server(env, config, work / "gunicorn-trial.log") as web:
            runs = {}
            for name in ("ownership_service", "list_page"):
                path = endpoint_paths(names, 0, 50)[name]
                for _ in range(8):
                    http_get(web.port, path, token)
                runs[name] = [hey(web, path, token, 3200, 16) for _ in range(2)]
            rps = statistics.mean(r["rps"] for rs in runs.values() for r in rs)
            slowest = max(r["slowest_ms"] or 0 for rs in runs.values() for r in rs)
            errors = sum(r["errors"] for rs in runs.values() for r in rs)
            trial[config] = {"mean_rps": round(rps, 1), "slowest_ms": slowest, "errors": errors,
                             "runs": {name: [r["rps"] for r in rs] for name, rs in runs.items()},
                             "eligible": errors == 0 and slowest < STALL_MS}
            log(f"  server {config:10} mean {rps:8.1f} req/s   slowest {slowest:8.1f} ms   errors {errors}")
    eligible = [c for c in trial if trial[c]["eligible"]] or list(trial)
    best = max(eligible, key=lambda c: trial[c]["mean_rps"])
    return best, trial


# ------------------------------------------------------------------------------------------------
# One database.


def prepare_database(db: str, work: Path, cache_url: str = "") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "SLIPWAY_", "DJANGO_"))}
    env.update({"SLIPWAY_DATA_DIR": str(work / "data"), "DEBUG": "false", "LOG_LEVEL": "WARNING",
                "PYTHONDONTWRITEBYTECODE": "1",
                # One token sends >1,000 req/s here: still counted (its cost is measured), never refused.
                "SLIPWAY_THROTTLE_TOKEN_RATE": "100000000/min"})
    if cache_url:
        env["SLIPWAY_CACHE_URL"] = cache_url
    if db == "postgres":
        if PG_NAME in NEVER_TOUCH:
            raise SystemExit(f"refusing to drop database {PG_NAME}")
        subprocess.run(["dropdb", "--if-exists", "-h", PG_HOST, "-U", PG_USER, PG_NAME], check=True)
        subprocess.run(["createdb", "-h", PG_HOST, "-U", PG_USER, PG_NAME], check=True)
        env["DATABASE_URL"] = PG_URL
    return env


def postgres_available() -> bool:
    if not shutil.which("createdb") or not shutil.which("pg_isready"):
        return False
    return subprocess.run(["pg_isready", "-h", PG_HOST, "-q"], check=False).returncode == 0


def import_command_exists() -> bool:
    return (ROOT / "services/management/commands/import_catalog.py").exists()


def bench_database(db: str, args: argparse.Namespace, names: dict[str, Any]) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix=f"slipway-bench-{db}-"))
    log(f"== {db}: working in {work}")
    try:
        env = prepare_database(db, work, args.cache_url)
        result: dict[str, Any] = {"db": db, "started_at": datetime.datetime.now().isoformat(timespec="seconds")}
        started = time.perf_counter()
        manage(env, "migrate", "--noinput", "-v", "0")
        result["migrate_s"] = round(time.perf_counter() - started, 2)

        log(f"import_catalog {CATALOG.relative_to(ROOT)}")
        result["import"] = run_measured([PYTHON, "manage.py", "import_catalog", str(CATALOG)], env,
                                        work / "import.log", timeout=900)
        result["import"]["output_tail"] = (work / "import.log").read_text()[-800:]
        log(f"imported in {result['import']['seconds']} s, peak RSS {result['import']['peak_rss_mb']} MB")

        counts = json.loads(manage(env, "shell", "-c", COUNT_SCRIPT).strip().splitlines()[-1])
        result["counts"] = counts
        expected = names["counts"]
        if (counts["services"], counts["teams"], counts["systems"], counts["domains"]) != (
                expected["Component"], expected["Group"], expected["System"], expected["Domain"]):
            raise SystemExit(f"the import did not load the whole catalog: {counts} vs {expected}")
        manage(env, "shell", "-c", READER_SCRIPT)
        token = manage(env, "api_token", READER).strip().splitlines()[-1]

        only = args.only or list(ENDPOINTS)
        if args.server == "auto":
            log("choosing the gunicorn configuration (2 workers each)")
            config, trial = choose_server(env, token, names, work, SERVER_CANDIDATES)
            result["server_trial"] = trial
        else:
            config = args.server
        result["cache"] = args.cache_url or "locmem (per process)"
        result["server"] = {"config": config, "workers": 2, "bind": "127.0.0.1",
                            "command": f"gunicorn config.wsgi -w 2 --worker-class {config.split(':')[0]}"
                                       + (f" --threads {config.split(':')[1]}" if ":" in config else "")}
        log(f"server: {result['server']['command']}")

        if "cached" in args.passes:
            log("cached pass")
            with server(env, config, work / "gunicorn.log") as web:
                result["cached"] = load_pass(web, token, names, args, cached=True, offset=0, only=only)
                result["worker_rss_mb_after_cached"] = web.worker_rss()
                if "sweep" in args.passes:
                    log("sweep (first hits of many URLs, cache on)")
                    result["sweep"] = sweep(web.port, token, names, args.sweep)
                    result["worker_rss_mb_after_sweep"] = web.worker_rss()
        if "uncached" in args.passes:
            log("uncached pass (SLIPWAY_RESPONSE_CACHE_SECONDS=0)")
            with server({**env, "SLIPWAY_RESPONSE_CACHE_SECONDS": "0"}, config, work / "gunicorn.log") as web:
                result["uncached"] = load_pass(web, token, names, args, cached=False, offset=10, only=only)
                result["worker_rss_mb_after_uncached"] = web.worker_rss()
        result["finished_at"] = datetime.datetime.now().isoformat(timespec="seconds")
        return result
    finally:
        if db == "postgres" and not args.keep:
            subprocess.run(["dropdb", "--if-exists", "-h", PG_HOST, "-U", PG_USER, PG_NAME], check=False)
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


COUNT_SCRIPT = """
import json
from django.contrib.auth import get_user_model
from services.models import Domain, Membership, Service, ServiceDependency, System, Team
print(json.dumps({"services": Service.objects.count(), "teams": Team.objects.count(),
                  "users": get_user_model().objects.count(), "memberships": Membership.objects.count(),
                  "systems": System.objects.count(), "domains": Domain.objects.count(),
                  "dependencies": ServiceDependency.objects.count()}))
"""
READER_SCRIPT = f"""
import secrets
from django.contrib.auth import get_user_model
from services.models import CatalogGeneration
get_user_model().objects.get_or_create(username={READER!r}, defaults={{"email": "bench@example.org"}})
# A fresh database counts generations from 1 again: start this one at a random point so that a
# shared cache (--cache-url) cannot hold an answer of an earlier run under the same generation.
CatalogGeneration.objects.filter(pk=1).update(value=secrets.randbelow(2**40) + 2**40)
"""


# ------------------------------------------------------------------------------------------------
# Reporting.


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def verdict(value: float, target: float, higher_is_better: bool = True) -> str:
    met = value >= target if higher_is_better else value <= target
    return "met" if met else "MISSED"


def markdown(result: dict[str, Any]) -> str:
    db = result["db"]
    imp = result["import"]
    rss = result.get("worker_rss_mb_after_cached", {})
    workers = [v for k, v in rss.items() if k.startswith("worker")]
    lines = [
        f"### {db} — {result['server']['command']}; cache: {result.get('cache', 'locmem (per process)')}",
        "",
        f"Import of {result['counts']['services']:,} services: **{imp['seconds']} s**, peak RSS "
        f"{imp['peak_rss_mb']} MB (target < {IMPORT_TARGET_S:g} s: {verdict(imp['seconds'], IMPORT_TARGET_S, False)}; "
        f"Backstage ~{BACKSTAGE['import_s']} s).",
        "",
        "| Endpoint | cached req/s c=16 | cached p50 / p99 ms c=1 | uncached req/s c=16 | uncached p50 / p99 ms c=1 "
        "| first hit p50 / p99 ms | target req/s (p99) | Backstage req/s (p99) |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for name, label in ENDPOINTS.items():
        cached = result.get("cached", {}).get(name)
        uncached = result.get("uncached", {}).get(name)
        first = result.get("sweep", {}).get(name)
        target = TARGETS[name]
        peer = BACKSTAGE.get(name)
        cells = [label]
        for measured in (cached, uncached):
            if measured:
                c16, c1 = measured["c16"]["median"], measured["c1"]["median"]
                failed = c16["errors"] + c1["errors"]
                cells += [f"{c16['rps']:,.0f}" + (f" ({failed} failed)" if failed else ""),
                          f"{_ms(c1['p50_ms'])} / {_ms(c1['p99_ms'])}"]
            else:
                cells += ["–", "–"]
        cells.append(f"{first['p50_ms']:.1f} / {first['p99_ms']:.1f}" if first else "–")
        cells.append(f"≥ {target['rps']:,}" + (f" (< {target['p99_ms']})" if "p99_ms" in target else ""))
        cells.append(f"{peer[0]:,} ({peer[1]})" if peer else "–")
        lines.append("| " + " | ".join(cells) + " |")
    if workers:
        lines += ["", f"Web worker RSS after the cached pass: {', '.join(f'{w:.0f}' for w in workers)} MB "
                      f"(target < {WORKER_RSS_TARGET_MB:g} MB: {verdict(max(workers), WORKER_RSS_TARGET_MB, False)})"]
    for label, key in (("sweep", "worker_rss_mb_after_sweep"), ("uncached pass", "worker_rss_mb_after_uncached")):
        after = [v for k, v in result.get(key, {}).items() if k.startswith("worker")]
        if after:
            lines[-1] += f"; after the {label}: {', '.join(f'{w:.0f}' for w in after)} MB"
    cached = result.get("cached", {})
    if cached:
        cpu = ", ".join(f"{name} {v['c16']['median']['server_cpu_ms_per_request']:.2f}" for name, v in cached.items())
        loads = [r["load_average_1m"] for v in cached.values() for r in v["c16"]["runs"]]
        lines += ["", f"Server CPU per cached request (ms, c=16): {cpu}. Load average during the runs: "
                      f"{min(loads):.1f}–{max(loads):.1f} (2 cores)."]
    if "server_trial" in result:
        trial = ", ".join(f"{config} {t['mean_rps']:,.0f} req/s (slowest {t['slowest_ms']:,.0f} ms)"
                          for config, t in result["server_trial"].items())
        lines += ["", f"Server trial (cached ownership + list page, c=16): {trial}; chosen: {result['server']['config']}."]
    return "\n".join(lines)


def check_targets(result: dict[str, Any]) -> list[str]:
    misses = []
    if result["import"]["seconds"] >= IMPORT_TARGET_S:
        misses.append(f"{result['db']}: import {result['import']['seconds']} s >= {IMPORT_TARGET_S} s")
    for name, target in TARGETS.items():
        cached = result.get("cached", {}).get(name)
        if not cached:
            continue
        if cached["c16"]["median"]["errors"] or cached["c1"]["median"]["errors"]:
            misses.append(f"{result['db']}: {name} had failed requests")
        if cached["c16"]["median"]["rps"] < target["rps"]:
            misses.append(f"{result['db']}: {name} {cached['c16']['median']['rps']} req/s < {target['rps']}")
        if "p99_ms" in target and (cached["c1"]["median"]["p99_ms"] or 0) >= target["p99_ms"]:
            misses.append(f"{result['db']}: {name} p99 {cached['c1']['median']['p99_ms']} ms >= {target['p99_ms']}")
    workers = [v for k, v in result.get("worker_rss_mb_after_cached", {}).items() if k.startswith("worker")]
    if workers and max(workers) >= WORKER_RSS_TARGET_MB:
        misses.append(f"{result['db']}: worker RSS {max(workers)} MB >= {WORKER_RSS_TARGET_MB}")
    return misses


def environment_facts() -> dict[str, Any]:
    def version(cmd: list[str]) -> str:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip().splitlines()[0]
        return "?"

    import django

    return {"cpus": os.cpu_count(), "python": platform.python_version(), "django": django.get_version(),
            "machine": platform.machine(), "kernel": platform.release(),
            "postgres": version(["psql", "--version"]), "hey": shutil.which("hey") or "?",
            "git_commit": version(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])}


def ensure_hey() -> None:
    if shutil.which("hey"):
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log("hey is missing: apt-get install -y hey")
        subprocess.run(["apt-get", "install", "-y", "-q", "hey"], check=False)
    if not shutil.which("hey"):
        raise SystemExit("the benchmark needs `hey` (Debian: apt-get install hey)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--quick", action="store_true",
                        help="one run per measurement, fewer requests, no server trial (a smoke run, ~2 min a database)")
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement; the median is reported (default 3)")
    parser.add_argument("--requests", type=int, default=6400, help="requests per c=16 run (default 6400)")
    parser.add_argument("--requests-c1", type=int, default=2000, help="requests per c=1 run (default 2000)")
    parser.add_argument("--uncached-requests", type=int, default=480, help="requests per c=16 run, uncached (default 480)")
    parser.add_argument("--uncached-requests-c1", type=int, default=200, help="requests per c=1 run, uncached (default 200)")
    parser.add_argument("--sweep", type=int, default=200, help="distinct URLs per lookup in the sweep (default 200)")
    parser.add_argument("--server", default="auto",
                        help="gunicorn worker configuration: sync, gthread:N (N threads), or auto (try and keep the fastest)")
    parser.add_argument("--passes", default="cached,uncached,sweep", help="comma-separated: cached, uncached, sweep")
    parser.add_argument("--only", default="", help="comma-separated endpoints: " + ", ".join(ENDPOINTS))
    parser.add_argument("--services", type=int, default=10_000)
    parser.add_argument("--teams", type=int, default=500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cache-url", default="",
                        help="SLIPWAY_CACHE_URL for the server (e.g. redis://127.0.0.1:6379/15, as in production); "
                             "default: the embedded per-process memory cache")
    parser.add_argument("--keep", action="store_true", help="keep the data directory (and the PostgreSQL database)")
    args = parser.parse_args()
    args.passes = [p for p in args.passes.split(",") if p]
    args.only = [e for e in args.only.split(",") if e]
    if unknown := set(args.only) - set(ENDPOINTS):
        parser.error(f"unknown endpoints: {', '.join(sorted(unknown))}")
    if args.quick:
        args.runs = 1
        args.requests, args.requests_c1, args.sweep = 1600, 500, 60
        args.uncached_requests, args.uncached_requests_c1 = 160, 100
        if args.server == "auto":
            args.server = DEFAULT_SERVER
    os.chdir(ROOT)
    # Stopped from outside, still stop the servers started (the `finally` blocks run on SystemExit).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started in the background
    ensure_hey()
    if not import_command_exists():
        raise SystemExit("services/management/commands/import_catalog.py is missing: nothing to benchmark the import with")

    databases = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    if "postgres" in databases and not postgres_available():
        if args.db == "postgres":
            raise SystemExit(f"PostgreSQL is not reachable on {PG_HOST}:5432")
        log(f"PostgreSQL is not reachable on {PG_HOST}:5432: measuring SQLite only")
        databases = ["sqlite"]

    names = ensure_catalog(args)
    OUT.mkdir(parents=True, exist_ok=True)
    facts = environment_facts()
    tables, misses = [], []
    for db in databases:
        result = bench_database(db, args, names)
        result["environment"] = facts
        result["settings"] = {k: v for k, v in vars(args).items()}
        out = OUT / f"results-{db}.json"
        out.write_text(json.dumps(result, indent=2))
        log(f"wrote {out.relative_to(ROOT)}")
        tables.append(markdown(result))
        misses += check_targets(result)
    print()
    print("\n\n".join(tables))
    print()
    if misses:
        print("Targets missed:\n" + "\n".join(f"- {m}" for m in misses))
    else:
        print("All targets met.")
    return 0


DEFAULT_SERVER = "gthread:8"
SERVER_CANDIDATES = ["sync", "gthread:4", "gthread:8"]

if __name__ == "__main__":
    sys.exit(main())
