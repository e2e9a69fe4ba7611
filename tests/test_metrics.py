"""/metrics: refused without the bearer token, served with it, runs and steps counted from the database,
request and query counters that move, and the counters of several gunicorn workers added up."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from services.http import gunicorn_hooks
from services.http.metrics import area_of
from services.models import ProvisioningRun, RunStep
from tests.factories import TeamFactory, UserFactory
from tests.worker import worker_env

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "metrics-token-for-tests-0123456789abcdef"


@pytest.fixture
def token(settings):
    settings.SLIPWAY_METRICS_TOKEN = TOKEN
    return TOKEN


def scrape(client: Client, token: str = TOKEN) -> dict[tuple[str, frozenset], float]:
    """Every sample of an authorised scrape: {(name, labels): value}."""
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.content
    return parse(response.content.decode())


def parse(text: str) -> dict[tuple[str, frozenset], float]:
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def sample(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def make_run(team, slug: str, state: str, steps: list[tuple[str, str]] = ()) -> ProvisioningRun:
    run = ProvisioningRun.objects.create(template="python-service", template_version="1", owner=team,
                                         service_slug=slug, host="local", state=state)
    RunStep.objects.bulk_create(RunStep(run=run, position=position, action=action, state=step_state)
                                for position, (action, step_state) in enumerate(steps))
    return run


# Who may read it ----------------------------------------------------------------------------------


def test_metrics_is_not_found_when_no_token_is_configured(client, db, settings):
    settings.SLIPWAY_METRICS_TOKEN = ""

    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer anything").status_code == 404


def test_metrics_refuses_a_missing_or_wrong_token(client, db, token):
    for header in ({}, {"HTTP_AUTHORIZATION": "Bearer wrong"}, {"HTTP_AUTHORIZATION": f"Bearer {token}x"},
                   {"HTTP_AUTHORIZATION": f"Token {token}"}, {"HTTP_AUTHORIZATION": token}):
        response = client.get("/metrics", **header)
        assert response.status_code == 401, header
        assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
        assert b"slipway_" not in response.content


def test_metrics_are_served_with_the_token(client, db, token):
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    assert "slipway_runs" in {family.name for family in text_string_to_metric_families(response.content.decode())}


def test_metrics_speak_openmetrics_when_asked(client, db, token):
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}",
                          HTTP_ACCEPT="application/openmetrics-text; version=1.0.0,text/plain;q=0.5")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/openmetrics-text")
    assert response.content.decode().rstrip().endswith("# EOF")


def test_metrics_are_shown_to_staff_sessions_only(client, db, settings):
    settings.SLIPWAY_METRICS_TOKEN = ""
    client.force_login(UserFactory(username="viewer"))
    assert client.get("/metrics").status_code == 404

    client.force_login(UserFactory(username="admin-person", is_staff=True))
    assert client.get("/metrics").status_code == 200


def test_a_short_metrics_token_stops_the_process_at_start():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "SLIPWAY_METRICS_TOKEN": "short-token"}
    result = subprocess.run([sys.executable, "-c", "import django; django.setup()"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)

    assert result.returncode != 0
    assert "SLIPWAY_METRICS_TOKEN must be at least 32 characters" in result.stderr


@pytest.mark.parametrize(("address", "host"), [("10.1.2.3", "10.1.2.3"), ("fd00::5", "[fd00::5]")])
def test_the_pod_address_is_an_allowed_host(address, host):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "SLIPWAY_POD_IP": address}
    code = "import django; django.setup(); from django.conf import settings; print(settings.ALLOWED_HOSTS[-1])"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)

    assert result.stdout.strip() == host, result.stderr


def test_compose_and_kubernetes_give_the_web_process_its_token_and_address():
    import yaml

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert compose["services"]["web"]["environment"]["SLIPWAY_METRICS_TOKEN"] == "${SLIPWAY_METRICS_TOKEN:-}"
    secret = yaml.safe_load((ROOT / "platform" / "kubernetes" / "secret.example.yaml").read_text())
    assert len(secret["stringData"]["SLIPWAY_METRICS_TOKEN"]) >= 32
    web = next(doc for doc in yaml.safe_load_all((ROOT / "platform" / "kubernetes" / "web.yaml").read_text())
               if doc["kind"] == "Deployment")
    (container,) = web["spec"]["template"]["spec"]["containers"]
    assert {"name": "SLIPWAY_POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}} in container["env"]


# Runs and steps, from the database -----------------------------------------------------------------


def test_runs_and_steps_are_counted_from_the_database(client, db, token):
    team = TeamFactory()
    make_run(team, "a", "succeeded", [("scaffold.render", "succeeded"), ("repo.create", "succeeded")])
    make_run(team, "b", "succeeded", [("scaffold.render", "succeeded"), ("repo.create", "succeeded")])
    make_run(team, "c", "failed", [("scaffold.render", "succeeded"), ("repo.create", "failed")])
    make_run(team, "d", "running", [("scaffold.render", "running"), ("repo.create", "pending")])
    make_run(team, "e", "queued", [("scaffold.render", "pending")])

    samples = scrape(client)

    runs = {state: sample(samples, "slipway_runs", state=state) for state in ProvisioningRun.State.values}
    assert runs == {"queued": 1, "running": 1, "succeeded": 2, "failed": 1, "cancelled": 0}
    steps = {dict(labels)["action"] + " " + dict(labels)["state"]: value
             for (name, labels), value in samples.items() if name == "slipway_run_steps"}
    assert steps == {"scaffold.render succeeded": 3, "scaffold.render running": 1, "scaffold.render pending": 1,
                     "repo.create succeeded": 2, "repo.create failed": 1, "repo.create pending": 1}
    assert sample(samples, "slipway_database_up") == 1


def test_run_counts_follow_the_database_between_scrapes(client, db, token):
    run = make_run(TeamFactory(), "ledger", "running")
    assert sample(scrape(client), "slipway_runs", state="running") == 1

    ProvisioningRun.objects.filter(pk=run.pk).update(state="succeeded")
    samples = scrape(client)  # not a cached answer

    assert sample(samples, "slipway_runs", state="running") == 0
    assert sample(samples, "slipway_runs", state="succeeded") == 1


def test_the_workers_heartbeat_is_exposed(client, db, token):
    from django.utils import timezone

    from services.models import Heartbeat

    assert ("slipway_worker_last_seen_timestamp_seconds", frozenset()) not in scrape(client)
    seen = timezone.now()
    Heartbeat.objects.create(name="worker", seen_at=seen)

    assert sample(scrape(client), "slipway_worker_last_seen_timestamp_seconds") == pytest.approx(seen.timestamp())


def test_a_database_outage_is_reported_not_raised(client, db, token, monkeypatch):
    from django.db import DatabaseError

    from services.http import metrics

    def broken(*args, **kwargs):
        raise DatabaseError("the database is down")

    monkeypatch.setattr(metrics.ProvisioningRun.objects, "order_by", broken)
    samples = scrape(client)

    assert sample(samples, "slipway_database_up") == 0
    assert not [name for name, _ in samples if name == "slipway_runs"]


# Requests and queries ---------------------------------------------------------------------------


def test_request_counter_increases_after_a_request(client, db, token):
    before = scrape(client)
    assert client.get("/healthz").status_code == 200
    assert client.get("/no-such-page/").status_code == 404
    after = scrape(client)

    key = {"area": "health", "method": "GET", "status": "200"}
    assert sample(after, "slipway_http_requests_total", **key) == sample(before, "slipway_http_requests_total", **key) + 1
    missing = {"area": "pages", "method": "GET", "status": "404"}
    assert sample(after, "slipway_http_requests_total", **missing) == sample(
        before, "slipway_http_requests_total", **missing) + 1
    assert sample(after, "slipway_http_request_duration_seconds_count", area="health") == sample(
        before, "slipway_http_request_duration_seconds_count", area="health") + 1


def test_each_database_query_of_a_request_is_counted(client, db, token):
    first, second = scrape(client), scrape(client)
    per_scrape = sample(second, "slipway_db_queries_total") - sample(first, "slipway_db_queries_total")
    assert per_scrape >= 3  # runs, steps, heartbeat: counted while the scrape's request runs

    assert client.get("/readyz").status_code == 200  # SELECT 1 and the heartbeat: two queries
    third = scrape(client)

    assert sample(third, "slipway_db_queries_total") - sample(second, "slipway_db_queries_total") == per_scrape + 2
    assert sample(third, "slipway_db_query_duration_seconds_total") > sample(second,
                                                                          "slipway_db_query_duration_seconds_total")


def test_labels_stay_a_closed_set_whatever_the_client_sends(client, db, token):
    client.generic("BREW", "/healthz")
    client.get("/api/v1/../../etc/passwd")
    client.get("/static/no-such-file.css")

    labels = {dict(labels)["area"] + " " + dict(labels)["method"]
              for (name, labels), _ in scrape(client).items() if name == "slipway_http_requests_total"}
    assert "health other" in labels
    assert {label.split()[0] for label in labels} <= {"api", "static", "admin", "health", "metrics", "webhooks",
                                                       "pages"}
    assert {label.split()[1] for label in labels} <= {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS",
                                                       "other"}


@pytest.mark.parametrize(("path", "area"), [
    ("/api/v1/services/", "api"), ("/static/app.css", "static"), ("/admin/", "admin"), ("/healthz", "health"),
    ("/readyz", "health"), ("/metrics", "metrics"), ("/", "pages"), ("/services/ledger/", "pages"),
    ("/webhooks/github/", "webhooks"),
])
def test_area_of(path, area):
    assert area_of(path) == area


# The other middleware -------------------------------------------------------------------------


def test_metrics_carry_the_security_headers_and_are_never_cached(client, db, token):
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")

    assert response["Content-Security-Policy"].startswith("default-src 'self'")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert "no-store" in response["Cache-Control"]
    assert "X-Slipway-Cache" not in response


def test_metrics_are_not_throttled_like_the_api(db, token, settings):
    settings.SLIPWAY_THROTTLE_ANON_RATE = "1/min"
    settings.SLIPWAY_THROTTLE_TOKEN_RATE = "1/min"
    client = Client()  # its middleware is built now, with the low limits

    answers = [client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}") for _ in range(3)]

    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert all("X-RateLimit-Limit" not in answer for answer in answers)
    assert 429 in [client.get("/api/v1/services/").status_code for _ in range(2)]  # the limits are live


# gunicorn: one directory, every worker's counters -----------------------------------------------


def test_gunicorn_hooks_prepare_an_empty_directory(tmp_path, monkeypatch):
    named = tmp_path / "named"
    named.mkdir()
    (named / "counter_123.db").write_bytes(b"stale")
    (named / "keep.txt").write_text("not ours")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(named))

    gunicorn_hooks.on_starting(None)
    assert sorted(p.name for p in named.iterdir()) == ["keep.txt"]

    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")
    monkeypatch.setattr(gunicorn_hooks, "_created", [])
    gunicorn_hooks.on_starting(None)
    made = Path(os.environ.pop("PROMETHEUS_MULTIPROC_DIR"))
    assert made.is_dir() and made != named
    gunicorn_hooks.on_exit(None)
    assert not made.exists()
    assert named.exists()


def test_every_gunicorn_entry_point_uses_the_hooks():
    hooks = "python:services.http.gunicorn_hooks"
    dockerfile = (ROOT / "platform" / "Dockerfile").read_text()
    procfile = (ROOT / "platform" / "Procfile").read_text()
    runportal = (ROOT / "services" / "management" / "commands" / "runportal.py").read_text()

    assert f'"--config", "{hooks}"' in dockerfile
    assert f"--config {hooks}" in next(line for line in procfile.splitlines() if line.startswith("web:"))
    assert f'"--config", "{hooks}"' in runportal


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _health_requests_in(counter_file: Path) -> float:
    """The health requests one worker counted, read from its own multiprocess file."""
    from prometheus_client.mmap_dict import MmapedDict

    total = 0.0
    for key, value, *_ in MmapedDict.read_all_values_from_file(str(counter_file)):
        _metric, name, labels, _help = json.loads(key)
        if name == "slipway_http_requests_total" and labels == {"area": "health", "method": "GET", "status": "200"}:
            total += value
    return total


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - our own server
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""


@pytest.mark.slow
def test_gunicorn_workers_add_up_their_counters(transactional_db, tmp_path):
    """Two workers: requests land on both, and a scrape, whichever worker answers it, counts them all."""
    directory = tmp_path / "prometheus"
    port = _free_port()
    log = tmp_path / "gunicorn.log"
    env = worker_env(SLIPWAY_METRICS_TOKEN=TOKEN, PROMETHEUS_MULTIPROC_DIR=str(directory))
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "config.wsgi", "--config", "python:services.http.gunicorn_hooks",
             "--bind", f"127.0.0.1:{port}", "--workers", "2"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with suppress(OSError):
                if _get(base + "/healthz")[0] == 200:
                    break
            assert server.poll() is None, log.read_text()
            time.sleep(0.2)
        sent = 1  # the probe above
        per_worker: dict[str, float] = {}
        with ThreadPoolExecutor(max_workers=8) as pool:
            for _ in range(10):  # until both workers have answered some (almost always at once)
                assert all(code == 200 for code, _ in pool.map(lambda _: _get(base + "/healthz"), range(40)))
                sent += 40
                per_worker = {path.name: _health_requests_in(path) for path in directory.glob("counter_*.db")}
                if sum(1 for value in per_worker.values() if value) >= 2:
                    break
        assert sum(1 for value in per_worker.values() if value) >= 2, per_worker
        assert sum(per_worker.values()) == sent

        for _ in range(6):  # whichever worker answers the scrape, it reports every worker's requests
            code, text = _get(base + "/metrics", {"Authorization": f"Bearer {TOKEN}"})
            assert code == 200, log.read_text()
            assert sample(parse(text), "slipway_http_requests_total", area="health", method="GET", status="200") == sent
    finally:
        with suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)


def test_gunicorn_lets_api_addresses_past_the_apps_bound_reach_the_app():
    # So an over-long API address is answered by the app's JSON 414, not gunicorn's HTML one.
    from services.api.errors import MAX_API_ADDRESS
    from services.http import gunicorn_hooks

    assert gunicorn_hooks.limit_request_line > MAX_API_ADDRESS + 100
