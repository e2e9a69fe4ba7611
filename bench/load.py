#!/usr/bin/env python3
"""Mixed load on the production shape (`make bench-load`): 64 clients for 60 s, per-class figures.

Starts from nothing: PostgreSQL database `slipway_bench_load` (dropped and recreated), the generated
organisation of bench/gen_catalog.py (10,000 services by default) imported, gunicorn on 127.0.0.1,
Redis as the cache (db 9) and the broker (db 10, a queue of this run's own), one Celery worker
(with beat) on the local git host. Then `wrk` drives C clients (one connection each, one wrk thread
each, so a response is matched with its request) for D seconds with a weighted mix:

  ownership_service  GET /api/v1/ownership/?service=<slug>                        API token
  ownership_repo     GET /api/v1/ownership/?repo=https://github.com/acme/<slug>.git  API token
  catalog_page       GET /services/?page=N (some filtered by owner or name)         signed-in session
  service_page       GET /services/<slug>/                                        signed-in session
  api_services       GET /api/v1/services/?owner=team-N&lifecycle=... / ?q= / ?page= API token
  api_teams          GET /api/v1/teams/?page=N                                    API token
  run_submit         POST /api/v1/runs/ (fresh Idempotency-Key, unique name)      API token
                     --runs N of them spread evenly over the load ("a few": default 5), and
                     optionally --run-share percent of all requests on top (a stress of writes)

Slugs, teams and pages are drawn with a skew (a few are asked often, most rarely): index = N * u^3.
Each session client signs in once (Django's login form) and reuses its cookie. Latency is measured
per request inside wrk (LuaJIT's clock_gettime, request() to response()), written per thread, and
summarised per class: requests/s, p50, p99, max, errors (status outside 2xx/3xx; wrk's socket errors
are reported in total). Afterwards every submitted run must end `succeeded` (bounded wait).

Also reported: the load average, gunicorn's CPU time per request (from /proc), the worker's and
wrk's CPU time. Results: bench/out/load.json and a Markdown table on stdout. See bench/README.md.

usage: .venv/bin/python bench/load.py [--clients 64] [--duration 60] [--server sync|gthread:N]
       [--web-workers 2] [--think-ms 0] [--runs 5] [--run-share 0] [--services 10000]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
OUT = BENCH / "out"
sys.path.insert(0, str(BENCH))

import run as bench_run  # noqa: E402 - bench/run.py: catalog generation, Server, manage, log

PYTHON = sys.executable
PG_HOST, PG_USER, PG_NAME = "127.0.0.1", "postgres", "slipway_bench_load"
NEVER_TOUCH = bench_run.NEVER_TOUCH
CACHE_URL = "redis://127.0.0.1:6379/9"
BROKER_URL = "redis://127.0.0.1:6379/10"
USER, RUN_TEAM = "bench-load", "bench-runs"
REQUEST_TIMEOUT = 10  # seconds, per request (wrk --timeout)
log = bench_run.log

# Weights in percent of requests; run_submit's is --run-share (0 by default: --runs schedules a few).
READ_WEIGHTS = {"ownership_service": 20, "ownership_repo": 12, "catalog_page": 15, "service_page": 25,
                "api_services": 17, "api_teams": 10}
LABELS = {
    "ownership_service": "Ownership by service (API)",
    "ownership_repo": "Ownership by repository URL (API)",
    "catalog_page": "Catalog page (web, session)",
    "service_page": "Service page (web, session)",
    "api_services": "Service list with filters (API)",
    "api_teams": "Team list (API)",
    "run_submit": "Run submission (API, POST)",
}
P99_READ_TARGET_MS = 100

SETUP_SCRIPT = """
import secrets, sys
from django.contrib.auth import get_user_model
from services.models import CatalogGeneration, Membership, Team
user, _ = get_user_model().objects.get_or_create(username={user!r}, defaults={{"email": "load@example.org"}})
user.set_password({password!r})
user.save()
team, _ = Team.objects.get_or_create(slug={team!r}, defaults={{"name": "Bench runs"}})
Membership.objects.get_or_create(team=team, user=user)
# The Redis cache is shared with earlier runs: start the generation at a random point so that no
# answer cached by an earlier run (under the same generation number) can be served.
CatalogGeneration.objects.update_or_create(pk=1, defaults={{"value": secrets.randbelow(2**40) + 2**40}})
"""
RUNS_SCRIPT = """
import json
from collections import Counter
from services.models import ProvisioningRun
runs = ProvisioningRun.objects.filter(service_slug__startswith={prefix!r})
print(json.dumps({{"states": dict(Counter(runs.values_list("state", flat=True))),
                  "errors": list(runs.exclude(error="").values_list("error", flat=True)[:5])}}))
"""

LUA = r"""
-- Generated by bench/load.py: the weighted mix, one connection per wrk thread, latency per class.
local ffi = require("ffi")
ffi.cdef[[ typedef struct { long tv_sec; long tv_nsec; } slipway_timespec;
           int clock_gettime(int clock, slipway_timespec *tp); ]]
local ts = ffi.new("slipway_timespec")
local function now_us()
  ffi.C.clock_gettime(1, ts)  -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000000 + tonumber(ts.tv_nsec) / 1000
end

local count = 0
function setup(thread)
  count = count + 1
  thread:set("id", count)
end

function init(args)
  D = dofile(args[1])
  out = io.open(args[2] .. "/thread-" .. id .. ".tsv", "w")
  math.randomseed(D.seed + id * 7919)
  local session = D.sessions[(id - 1) % #D.sessions + 1]
  session_headers = {["Cookie"] = "sessionid=" .. session}
  token_headers = {["Authorization"] = "Token " .. D.token}
  sent = 0
  run_at_us = D.run_at_ms[id] and D.run_at_ms[id] * 1000  -- this client's one scheduled run, if any
end

local function skewed(list)
  local u = math.random()
  return list[math.floor(#list * u * u * u) + 1]
end

local function build(class)
  if class == "ownership_service" then
    return "GET", "/api/v1/ownership/?service=" .. skewed(D.slugs), token_headers, nil
  elseif class == "ownership_repo" then
    return "GET", "/api/v1/ownership/?repo=https://github.com/acme/" .. skewed(D.slugs) .. ".git", token_headers, nil
  elseif class == "catalog_page" then
    local u = math.random()
    if u < 0.6 then
      return "GET", "/services/?page=" .. skewed(D.pages), session_headers, nil
    elseif u < 0.8 then
      return "GET", "/services/?owner=" .. skewed(D.teams), session_headers, nil
    end
    return "GET", "/services/?q=" .. D.words[math.random(#D.words)], session_headers, nil
  elseif class == "service_page" then
    return "GET", "/services/" .. skewed(D.slugs) .. "/", session_headers, nil
  elseif class == "api_services" then
    local u = math.random()
    if u < 0.5 then
      return "GET", "/api/v1/services/?owner=" .. skewed(D.teams) .. "&lifecycle=production", token_headers, nil
    elseif u < 0.75 then
      return "GET", "/api/v1/services/?q=" .. D.words[math.random(#D.words)], token_headers, nil
    end
    return "GET", "/api/v1/services/?page=" .. skewed(D.pages), token_headers, nil
  elseif class == "api_teams" then
    return "GET", "/api/v1/teams/?page=" .. math.random(D.team_pages), token_headers, nil
  end
  -- run_submit: a fresh name and Idempotency-Key each time
  local name = D.run_prefix .. id .. "-" .. sent
  local headers = {["Authorization"] = "Token " .. D.token, ["Content-Type"] = "application/json",
                   ["Idempotency-Key"] = D.run_prefix .. "key-" .. id .. "-" .. sent}
  local body = '{"template": "python-service", "owner": "' .. D.run_team .. '", "inputs": {"service_name": "'
               .. name .. '", "description": "Load bench run", "lifecycle": "experimental", '
               .. '"python_version": "3.12", "port": 8080}}'
  return "POST", "/api/v1/runs/", headers, body
end

function request()
  local now = now_us()
  first_us = first_us or now
  local r = math.random() * D.total
  current = D.classes[#D.classes].name
  for _, class in ipairs(D.classes) do
    if r < class.cumulative then
      current = class.name
      break
    end
  end
  if run_at_us and now - first_us >= run_at_us then
    current, run_at_us = "run_submit", nil
  end
  sent = sent + 1
  local method, path, headers, body = build(current)
  started = now_us()
  return wrk.format(method, path, headers, body)
end

function response(status, headers, body)
  local elapsed = now_us() - started
  out:write(current, "\t", status, "\t", string.format("%d", elapsed), "\t", string.format("%d", started / 1000), "\n")
  if current == "run_submit" then
    out:write("#run\t", status, "\t", ((body or ""):sub(1, 200):gsub("[\t\n]", " ")), "\n")
  end
  out:flush()
end
"""
LUA_THINK = r"""
function delay()
  return math.floor(D.think_ms * (0.5 + math.random()))
end
"""


# ------------------------------------------------------------------------------------------------


def lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string of plain ASCII is a valid Lua string literal


def lua_list(values: list[str]) -> str:
    return "{" + ",".join(lua_string(v) for v in values) + "}"


def write_data(path: Path, *, token: str, sessions: list[str], names: dict[str, Any], run_prefix: str,
               run_share: float, think_ms: float, seed: int, runs: int, clients: int,
               duration: float) -> dict[str, float]:
    weights = {**READ_WEIGHTS, "run_submit": run_share}
    # --runs N: N submissions spread evenly over the load, one each by N of the clients (every
    # len/N-th one, so API and session clients alike), on top of the weighted mix.
    step = clients / runs if runs else 0
    run_at = {int(i * step) + 1: int((i + 0.5) * duration * 1000 / runs) for i in range(min(runs, clients))}
    cumulative, classes = 0.0, []
    for name, weight in weights.items():
        if weight <= 0:
            continue
        cumulative += weight
        classes.append(f'{{name = "{name}", cumulative = {cumulative}}}')
    teams = names["teams"]
    pages = [str(p) for p in range(1, names["counts"]["Component"] // 50 + 1)]
    path.write_text(
        "return {\n"
        f"  seed = {seed}, total = {cumulative}, think_ms = {think_ms},\n"
        f"  token = {lua_string(token)}, run_team = {lua_string(RUN_TEAM)}, run_prefix = {lua_string(run_prefix)},\n"
        f"  team_pages = {max(1, len(teams) // 50)},\n"
        f"  run_at_ms = {{{', '.join(f'[{k}] = {v}' for k, v in run_at.items())}}},\n"
        f"  classes = {{{', '.join(classes)}}},\n"
        f"  sessions = {lua_list(sessions)},\n"
        f"  slugs = {lua_list(names['services'])},\n"
        f"  teams = {lua_list(teams)},\n"
        f"  pages = {lua_list(pages)},\n"
        f"  words = {lua_list(names['words'])},\n"
        "}\n")
    return weights


def prepare_database(work: Path, args: argparse.Namespace) -> dict[str, str]:
    if PG_NAME in NEVER_TOUCH:
        raise SystemExit(f"refusing to drop database {PG_NAME}")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "SLIPWAY_", "DJANGO_", "CELERY_"))}
    env.update({"SLIPWAY_DATA_DIR": str(work / "data"), "DEBUG": "false", "LOG_LEVEL": "WARNING",
                "PYTHONDONTWRITEBYTECODE": "1", "SLIPWAY_CACHE_URL": args.cache_url,
                "CELERY_BROKER_URL": args.broker_url, "SLIPWAY_CELERY_QUEUE": f"bench-load-{os.getpid()}",
                "DATABASE_URL": f"postgres://{PG_USER}@{PG_HOST}:5432/{PG_NAME}",
                "SLIPWAY_RUNS_ACTIVE_PER_PERSON": "0", "SLIPWAY_RUNS_ACTIVE_PER_TEAM": "0",  # throughput, not limits
                "SLIPWAY_RUNS_PER_PERSON_PER_DAY": "0", "SLIPWAY_RUNS_PER_TEAM_PER_DAY": "0"})
    subprocess.run(["dropdb", "--if-exists", "-h", PG_HOST, "-U", PG_USER, PG_NAME], check=True)
    subprocess.run(["createdb", "-h", PG_HOST, "-U", PG_USER, PG_NAME], check=True)
    return env


def sign_in(port: int, count: int, password: str) -> list[str]:
    """`count` sessions, each signed in once through the login form (CSRF cookie and token)."""
    sessions = []
    for _ in range(count):
        with requests.Session() as browser:
            page = browser.get(f"http://127.0.0.1:{port}/accounts/login/", timeout=REQUEST_TIMEOUT)
            csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
            if page.status_code != 200 or csrf is None:
                raise SystemExit(f"the login page answered {page.status_code} without a CSRF token")
            answer = browser.post(f"http://127.0.0.1:{port}/accounts/login/", allow_redirects=False,
                                  data={"username": USER, "password": password, "csrfmiddlewaretoken": csrf[1]},
                                  headers={"Referer": f"http://127.0.0.1:{port}/accounts/login/"},
                                  timeout=REQUEST_TIMEOUT)
            session = browser.cookies.get("sessionid")
            if answer.status_code != 302 or not session:
                raise SystemExit(f"signing in answered {answer.status_code}: {answer.text[:300]}")
            sessions.append(session)
    check = requests.get(f"http://127.0.0.1:{port}/services/", cookies={"sessionid": sessions[0]},
                         allow_redirects=False, timeout=REQUEST_TIMEOUT)
    if check.status_code != 200:
        raise SystemExit(f"a signed-in session got {check.status_code} for /services/")
    return sessions


def process_cpu(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def processes_matching(comm: str, cmdline_part: str = "") -> list[int]:
    """Processes named `comm` (and with `cmdline_part` in their command line): PostgreSQL's backends
    of the bench database, Redis, nginx — their CPU belongs to the same two cores."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if (entry / "comm").read_text().strip() == comm and cmdline_part.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
    return found


def others_cpu() -> dict[str, float]:
    """CPU seconds so far of the bench database's PostgreSQL backends, Redis and nginx."""
    return {"postgres": process_cpu(processes_matching("postgres", PG_NAME)),
            "redis": process_cpu(processes_matching("redis-server")),
            "nginx": process_cpu(processes_matching("nginx"))}


def tree(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += bench_run.children(current)
    return found


_WRK_RPS = re.compile(r"Requests/sec:\s+([\d.]+)")
_WRK_TOTAL = re.compile(r"(\d+) requests in ([\d.]+)(\w+)")
_WRK_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_WRK_NON2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")


NGINX_CONF = """
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {work}/nginx-body;
  proxy_temp_path {work}/nginx-proxy;
  fastcgi_temp_path {work}/nginx-fastcgi;
  uwsgi_temp_path {work}/nginx-uwsgi;
  scgi_temp_path {work}/nginx-scgi;
  keepalive_timeout {keep_alive}s;
  keepalive_requests 100000;
  upstream portal {{ server 127.0.0.1:{upstream}; }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://portal;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_read_timeout 60s;
    }}
  }}
}}
"""


class Proxy:
    """nginx on 127.0.0.1 in front of gunicorn, as an ingress is in production: it holds the clients'
    connections (idle ones too) and hands gunicorn whole requests, so a worker never waits on a
    client that opened a connection before it had a request to send."""

    def __init__(self, work: Path, upstream: int, keep_alive: float) -> None:
        if not shutil.which("nginx"):
            raise SystemExit("--proxy nginx needs nginx (Debian: apt-get install nginx-light)")
        self.port = bench_run.free_port()
        conf = work / "nginx.conf"
        conf.write_text(NGINX_CONF.format(work=work, upstream=upstream, port=self.port, keep_alive=int(keep_alive)))
        self.proc = subprocess.Popen(["nginx", "-c", str(conf), "-g", "daemon off;"], cwd=work,
                                     stdout=(work / "nginx.out").open("wb"), stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                if bench_run.http_get(self.port, "/healthz")[0] == 200:
                    return
            time.sleep(0.1)
        self.stop()
        raise SystemExit(f"nginx did not answer; see {work / 'nginx-error.log'}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=10)


def run_wrk(port: int, args: argparse.Namespace, script: Path, data: Path, samples: Path, web: bench_run.Server,
            worker: subprocess.Popen) -> dict[str, Any]:
    cmd = ["wrk", "-t", str(args.clients), "-c", str(args.clients), "-d", f"{args.duration}s",
           "--timeout", f"{REQUEST_TIMEOUT}s", "-s", str(script), f"http://127.0.0.1:{port}",
           "--", str(data), str(samples)]
    web_cpu, worker_cpu, others = web.cpu_seconds(), process_cpu(tree(worker.pid)), others_cpu()
    loads = [os.getloadavg()[0]]
    started = time.monotonic()
    with (samples.parent / "wrk.out").open("w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = started + args.duration + 60
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                os.wait4(proc.pid, 0)
                raise SystemExit(f"wrk ran past {args.duration + 60} s")
            if time.monotonic() - started > len(loads) * 10:
                loads.append(os.getloadavg()[0])  # every ~10 s
            time.sleep(0.2)
    elapsed = time.monotonic() - started
    text = (samples.parent / "wrk.out").read_text()
    if os.waitstatus_to_exitcode(status) != 0 or not _WRK_RPS.search(text):
        raise SystemExit(f"wrk failed:\n{text}")
    socket_errors = _WRK_SOCKET.search(text)
    non2xx = _WRK_NON2XX.search(text)
    total = _WRK_TOTAL.search(text)
    return {
        "command": " ".join(cmd), "wall_seconds": round(elapsed, 2), "output": text,
        "rps": float(_WRK_RPS.search(text)[1]), "requests": int(total[1]) if total else None,
        "socket_errors": dict(zip(("connect", "read", "write", "timeout"), map(int, socket_errors.groups()),
                                  strict=True)) if socket_errors else {},
        "non_2xx_3xx": int(non2xx[1]) if non2xx else 0,
        "web_cpu_s": round(web.cpu_seconds() - web_cpu, 2),
        "worker_cpu_s": round(process_cpu(tree(worker.pid)) - worker_cpu, 2),
        "wrk_cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        # Backends that ended during the load are not counted (connections are kept: few end).
        **{f"{name}_cpu_s": round(seconds - others[name], 2) for name, seconds in others_cpu().items()},
        "load_average_1m": [round(x, 2) for x in loads + [os.getloadavg()[0]]],
    }


def percentile(sorted_values: list[float], fraction: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * fraction))]


def summarise(samples: Path, duration: float) -> tuple[dict[str, Any], list[tuple[int, str]]]:
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    statuses: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    run_answers = []
    timeline: list[tuple[int, str, float]] = []  # (start, monotonic ms; class; latency ms)
    for file in sorted(samples.glob("thread-*.tsv")):
        for line in file.read_text().splitlines():
            parts = line.split("\t", 2)
            if parts[0] == "#run":
                run_answers.append((int(parts[1]), parts[2] if len(parts) > 2 else ""))
                continue
            if len(parts) != 3:
                continue
            micros, _, started_ms = parts[2].partition("\t")
            name, status, micros = parts[0], int(parts[1]), int(micros)
            latencies[name].append(micros / 1000)
            if started_ms:
                timeline.append((int(started_ms), name, micros / 1000))
            statuses[name][status] += 1
            if not 200 <= status < 400:
                errors[name] += 1

    def figures(values: list[float], errors_count: int, codes: dict[int, int] | None = None) -> dict[str, Any]:
        values = sorted(values)
        return {"requests": len(values), "rps": round(len(values) / duration, 1),
                "p50_ms": round(statistics.median(values), 1), "p90_ms": round(percentile(values, 0.90), 1),
                "p99_ms": round(percentile(values, 0.99), 1), "max_ms": round(values[-1], 1),
                "errors": errors_count, **({"statuses": dict(sorted(codes.items()))} if codes is not None else {})}

    classes = {name: figures(values, errors[name], statuses[name]) for name, values in latencies.items() if values}
    reads = [v for name, values in latencies.items() if name != "run_submit" for v in values]
    everything = [v for values in latencies.values() for v in values]
    summary = {"classes": classes,
               "reads": figures(reads, sum(n for name, n in errors.items() if name != "run_submit")),
               "total": figures(everything, sum(errors.values())),
               "timeline": timeline_buckets(timeline)}
    return summary, run_answers


def timeline_buckets(timeline: list[tuple[int, str, float]], width_s: int = 5) -> list[dict[str, Any]]:
    """Reads per `width_s` seconds of the load (by start time): count, p50, p99, max, and the runs
    submitted in it — shows whether the slow tail gathers after run submissions (cache emptied)."""
    if not timeline:
        return []
    first = min(start for start, _, _ in timeline)
    buckets: dict[int, list[float]] = defaultdict(list)
    runs: dict[int, int] = defaultdict(int)
    for start, name, latency in timeline:
        index = (start - first) // (width_s * 1000)
        if name == "run_submit":
            runs[index] += 1
        else:
            buckets[index].append(latency)
    rows = []
    for index in range(max([*buckets, *runs]) + 1):
        values = sorted(buckets.get(index, []))
        rows.append({"from_s": index * width_s, "reads": len(values), "runs_submitted": runs.get(index, 0),
                     **({"p50_ms": round(statistics.median(values), 1),
                         "p99_ms": round(percentile(values, 0.99), 1), "max_ms": round(values[-1], 1)}
                        if values else {})})
    return rows


def wait_for_runs(env: dict[str, str], prefix: str, timeout: float) -> dict[str, Any]:
    """Every run this load created (some may have been accepted as wrk stopped, their answer unread)
    must end; bounded by `timeout`."""
    deadline = time.monotonic() + timeout
    started = time.monotonic()
    while True:
        found = json.loads(bench_run.manage(env, "shell", "-c", RUNS_SCRIPT.format(prefix=prefix)).strip()
                           .splitlines()[-1])
        states = found["states"]
        pending = sum(n for state, n in states.items() if state not in ("succeeded", "failed", "cancelled"))
        if not pending or time.monotonic() > deadline:
            found["seconds_after_load"] = round(time.monotonic() - started, 1)
            found["all_ended"] = not pending
            return found
        time.sleep(3)


def markdown(result: dict[str, Any]) -> str:
    wrk = result["wrk"]
    lines = [
        f"#### {result['clients']} clients, {result['duration_s']} s — {result['server']['command']}; "
        f"{result['catalog']}",
        "",
        "| Class | share | req/s | p50 ms | p99 ms | max ms | errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    weights = result["weights"]
    total_weight = sum(weights.values())
    for name, label in LABELS.items():
        figures = result["summary"]["classes"].get(name)
        if not figures:
            continue
        lines.append(f"| {label} | {weights[name] / total_weight:.1%} | {figures['rps']:,.1f} | "
                     f"{figures['p50_ms']:.1f} | {figures['p99_ms']:.1f} | {figures['max_ms']:,.0f} | "
                     f"{figures['errors']} |")
    for key, label in (("reads", "**All reads**"), ("total", "**Total**")):
        figures = result["summary"][key]
        lines.append(f"| {label} | | **{figures['rps']:,.1f}** | {figures['p50_ms']:.1f} | "
                     f"**{figures['p99_ms']:.1f}** | {figures['max_ms']:,.0f} | {figures['errors']} |")
    runs = result["runs"]
    sock = wrk["socket_errors"]
    reads_p99 = result["summary"]["reads"]["p99_ms"]
    lines += [
        "",
        f"wrk: {wrk['requests']:,} requests, {wrk['rps']:,.1f} req/s, non-2xx/3xx {wrk['non_2xx_3xx']}, socket errors "
        f"{sum(sock.values())} ({', '.join(f'{k} {v}' for k, v in sock.items())}). Reads p99 {reads_p99:.1f} ms "
        f"(target < {P99_READ_TARGET_MS} ms: {'met' if reads_p99 < P99_READ_TARGET_MS else 'MISSED'}).",
        f"Runs submitted: {runs['submitted']} (answers {runs['answers']}); after the load: {runs['states']} "
        f"({'all ended' if runs['all_ended'] else 'NOT all ended'} {runs['seconds_after_load']} s after the load).",
        f"CPU during the load: gunicorn {wrk['web_cpu_s']} s ({result['web_cpu_ms_per_request']:.2f} ms a request), "
        f"Celery worker {wrk['worker_cpu_s']} s, wrk {wrk['wrk_cpu_s']} s, PostgreSQL (the bench database's "
        f"backends) {wrk.get('postgres_cpu_s', '?')} s, Redis {wrk.get('redis_cpu_s', '?')} s, nginx "
        f"{wrk.get('nginx_cpu_s', '?')} s; load average (1 min) "
        f"{min(wrk['load_average_1m']):.1f}–{max(wrk['load_average_1m']):.1f} on {os.cpu_count()} cores.",
    ]
    timeline = result["summary"].get("timeline") or []
    if timeline:
        lines += ["", "Reads over time (by start; runs submitted in each slice):", "",
                  "| from s | reads | p50 ms | p99 ms | max ms | runs |", "|---:|---:|---:|---:|---:|---:|"]
        lines += [f"| {row['from_s']} | {row['reads']} | {row.get('p50_ms', 0):.1f} | {row.get('p99_ms', 0):.1f} | "
                  f"{row.get('max_ms', 0):,.0f} | {row['runs_submitted'] or ''} |" for row in timeline]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--duration", type=int, default=60, help="seconds of load")
    parser.add_argument("--server", default="gthread:8", help="gunicorn worker class: sync or gthread:N")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--proxy", choices=["none", "nginx"], default="none",
                        help="nginx in front of gunicorn (the production shape: an ingress)")
    parser.add_argument("--think-ms", type=float, default=0,
                        help="mean pause of each client between requests (0: as fast as answers come)")
    parser.add_argument("--runs", type=int, default=5,
                        help="run submissions spread evenly over the load ('a few': a team creating services)")
    parser.add_argument("--run-share", type=float, default=0.0,
                        help="also this percent of requests submit a run (a stress of the write path)")
    parser.add_argument("--runs-timeout", type=float, default=600, help="seconds to wait for runs after the load")
    parser.add_argument("--services", type=int, default=10_000)
    parser.add_argument("--teams", type=int, default=500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cache-url", default=CACHE_URL)
    parser.add_argument("--broker-url", default=BROKER_URL)
    parser.add_argument("--keep", action="store_true", help="keep the data directory and the database")
    args = parser.parse_args()
    os.chdir(ROOT)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if not shutil.which("wrk"):
        raise SystemExit("the load benchmark needs `wrk` (Debian: apt-get install wrk)")
    if not bench_run.postgres_available():
        raise SystemExit(f"PostgreSQL is not reachable on {PG_HOST}:5432")

    names = bench_run.ensure_catalog(args)
    work = Path(tempfile.mkdtemp(prefix="slipway-bench-load-"))
    log(f"working in {work}")
    web = worker = proxy = None
    result: dict[str, Any] = {"clients": args.clients, "duration_s": args.duration, "think_ms": args.think_ms,
                              "started_at": datetime.datetime.now().isoformat(timespec="seconds")}
    try:
        env = prepare_database(work, args)
        bench_run.manage(env, "migrate", "--noinput", "-v", "0")
        log(f"importing {names['counts']['Component']:,} services")
        result["import"] = bench_run.run_measured([PYTHON, "manage.py", "import_catalog", str(bench_run.CATALOG)],
                                                  env, work / "import.log", timeout=900)
        result["catalog"] = (f"generated catalog: {names['counts']['Component']:,} services, "
                             f"{names['counts']['Group']:,} teams")
        # Fresh statistics, as autovacuum would gather them shortly after such an import.
        subprocess.run(["psql", "-q", "-h", PG_HOST, "-U", PG_USER, "-d", PG_NAME, "-c", "ANALYZE"], check=True)
        password = secrets.token_urlsafe(16)
        bench_run.manage(env, "shell", "-c", SETUP_SCRIPT.format(user=USER, password=password, team=RUN_TEAM))
        token = bench_run.manage(env, "api_token", USER).strip().splitlines()[-1]

        # Keep idle connections open past a client's longest pause (1.5 x think time), as a browser's
        # keep-alive with a proxy in front would; gunicorn's default of 2 s closed them mid-pause.
        web = bench_run.Server(env, args.server, work / "gunicorn.log", workers=args.web_workers,
                               keep_alive=max(2, args.think_ms * 1.5 / 1000 + 5))
        worker_cmd = [PYTHON, "-m", "celery", "-A", "config", "worker", "-Q", env["SLIPWAY_CELERY_QUEUE"],
                      "--concurrency", "1", "--loglevel", "WARNING", "--without-gossip", "--without-mingle",
                      "-n", f"bench-load-{os.getpid()}@%h", "--beat", "--schedule", str(work / "beat-schedule")]
        worker = subprocess.Popen(worker_cmd, cwd=ROOT, env=env, stdout=(work / "worker.log").open("wb"),
                                  stderr=subprocess.STDOUT, start_new_session=True)
        server_config = args.server.partition(":")
        result["server"] = {"command": f"gunicorn -w {args.web_workers} --worker-class {server_config[0]}"
                                       + (f" --threads {server_config[2]}" if server_config[2] else ""),
                            "cache": args.cache_url, "broker": args.broker_url, "celery": "1 worker, 1 process"}
        port = web.port
        if args.proxy == "nginx":
            proxy = Proxy(work, web.port, keep_alive=max(5, args.think_ms * 1.5 / 1000 + 5))
            port = proxy.port
            result["server"]["proxy"] = "nginx (one worker process) in front of gunicorn"
        log(f"signing in {args.clients} sessions")
        sessions = sign_in(port, args.clients, password)

        run_prefix = "ld" + secrets.token_hex(3) + "-"
        data, script, samples = work / "data.lua", work / "mix.lua", work / "samples"
        samples.mkdir()
        result["weights"] = write_data(data, token=token, sessions=sessions, names=names, run_prefix=run_prefix,
                                       run_share=args.run_share, think_ms=args.think_ms, seed=args.seed,
                                       runs=args.runs, clients=args.clients, duration=args.duration)
        script.write_text(LUA + (LUA_THINK if args.think_ms > 0 else ""))

        # Warm up: each gunicorn worker imports lazily what its first requests need.
        for path in ("/api/v1/teams/", f"/api/v1/ownership/?service={names['services'][0]}"):
            for _ in range(4):
                requests.get(f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Token {token}"},
                             timeout=REQUEST_TIMEOUT)
        log(f"load: {args.clients} clients for {args.duration} s ({result['server']['command']})")
        result["wrk"] = run_wrk(port, args, script, data, samples, web, worker)
        summary, run_answers = summarise(samples, result["wrk"]["wall_seconds"])
        result["summary"] = summary
        total = summary["total"]["requests"]
        result["web_cpu_ms_per_request"] = round(result["wrk"]["web_cpu_s"] * 1000 / max(total, 1), 3)
        accepted = sum(1 for status, _ in run_answers if status == 202)
        log(f"waiting for the runs accepted during the load ({accepted} answers read)")
        result["runs"] = {"submitted": len(run_answers),
                          "answers": dict(sorted(Counter(status for status, _ in run_answers).items())),
                          "refused": [body for status, body in run_answers if status != 202][:5],
                          **wait_for_runs(env, run_prefix, args.runs_timeout)}
        result["gunicorn_log_tail"] = (work / "gunicorn.log").read_text()[-3000:]
    finally:
        for process in (worker,):
            if process is not None and process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=5)
        if proxy is not None:
            proxy.stop()
        if web is not None:
            web.stop()
        if not args.keep:
            subprocess.run(["dropdb", "--if-exists", "-h", PG_HOST, "-U", PG_USER, PG_NAME], check=False)
            shutil.rmtree(work, ignore_errors=True)
        else:
            log(f"kept {work} and the database {PG_NAME}")

    OUT.mkdir(exist_ok=True)
    (OUT / "load.json").write_text(json.dumps(result, indent=2))
    print()
    print(markdown(result))
    problems = []
    if result["summary"]["total"]["errors"] or sum(result["wrk"]["socket_errors"].values()):
        problems.append("requests failed")
    if result["summary"]["reads"]["p99_ms"] >= P99_READ_TARGET_MS:
        problems.append(f"reads p99 {result['summary']['reads']['p99_ms']} ms >= {P99_READ_TARGET_MS} ms")
    runs = result["runs"]
    if not runs["all_ended"] or runs["states"].get("succeeded", 0) != sum(runs["states"].values()):
        problems.append(f"runs did not all succeed: {runs['states']} {runs.get('errors')}")
    print("\n" + ("All targets met." if not problems else "Targets missed:\n" + "\n".join(f"- {p}" for p in problems)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
