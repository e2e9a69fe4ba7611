"""Fault and race tests: real worker processes, a private Redis, a live HTTP server, the fake GitHub."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from services.models import ProvisioningRun
from tests.services.scaffolder.conftest import _mini_templates, run_request  # noqa: F401 - autouse fixture
from tests.worker import wait_for

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
# Short leases and sweeps so a lost message or a dead worker is caught in seconds, not minutes.
FAST = {"SLIPWAY_RUN_LEASE_SECONDS": "3", "SLIPWAY_SWEEP_SECONDS": "1", "SLIPWAY_RETRY_BASE_SECONDS": "0.2"}
DONE = ("succeeded", "failed", "cancelled")


def bare(name: str) -> Path:
    """The local host's bare repository for service `name`."""
    return Path(settings.SLIPWAY_REPOSITORY_DIR) / settings.SLIPWAY_LOCAL_OWNER / f"{name}.git"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "--git-dir", str(repo), *args], capture_output=True, text=True, check=True).stdout


def commit_count(name: str) -> int:
    return int(git(bare(name), "rev-list", "--count", "main").strip())


def all_finished(run_ids: list[str]) -> list[ProvisioningRun] | None:
    """The runs once every one of them is finished, else None."""
    runs = list(ProvisioningRun.objects.filter(pk__in=run_ids))
    return runs if len(runs) == len(run_ids) and all(run.state in DONE for run in runs) else None


def steps_of(run: ProvisioningRun) -> list[tuple[str, str, str]]:
    return list(run.steps.order_by("position").values_list("action", "state", "error"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PrivateRedis:
    """A redis-server of this test's own, on a free loopback port, that can be killed and restarted."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.starts += 1
        log = open(self.directory / f"redis-{self.starts}.log", "wb")  # noqa: SIM115 - lives with the process
        # No snapshot, no append-only file: a killed server comes back empty, its messages lost.
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.directory), "--protected-mode", "yes"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        wait_for(self.ping, timeout=20, what=f"redis-server on port {self.port}")

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as connection:
                connection.sendall(b"PING\r\n")
                return connection.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL: every queued and unacknowledged message is gone."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def private_redis(tmp_path, monkeypatch) -> Iterator[PrivateRedis]:
    """A private Redis as the Celery broker of this process and of the workers it starts.

    Never the shared Redis on 6379. Celery reads CELERY_BROKER_URL from the environment before its
    configuration, so setting it (and dropping the cached connection pools) repoints this process too."""
    from config.celery import app

    if not Path(REDIS_SERVER).exists():
        pytest.skip("redis-server is not installed on this machine")
    directory = tmp_path / "redis"
    directory.mkdir()
    redis = PrivateRedis(directory)
    redis.start()
    monkeypatch.setenv("CELERY_BROKER_URL", redis.url)
    saved_options = app.conf.broker_transport_options
    app.conf.broker_transport_options = {"visibility_timeout": 3600, "unacked_restore_interval": 2,
                                         "unacked_restore_throttle": 1}
    _drop_broker_pools(app)
    try:
        yield redis
    finally:
        _drop_broker_pools(app)
        app.conf.broker_transport_options = saved_options
        monkeypatch.undo()
        _drop_broker_pools(app)
        redis.kill()


def _drop_broker_pools(app) -> None:  # noqa: ANN001
    """Forget every broker connection of this process. kombu keeps its pools in process-wide registries
    keyed by the broker URL: closing the filesystem broker's pool without dropping it from the registry
    left the rest of the test run publishing through a closed pool (every later worker test starved)."""
    from kombu import pools

    pools.reset()  # closes every pool and empties the registries: the next publish opens fresh ones
    app._after_fork()  # forgets the app's own references, as Celery does in a forked child


@pytest.fixture
def github_run_lease_seconds() -> int:
    """Longer than the client's timeout (6 s) and the step around it: a hung call must not let another
    worker take the run (the `github` fixture is shared, tests/fakes/github_portal.py)."""
    return 20
