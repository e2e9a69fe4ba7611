"""The production entry point: gunicorn serves `app:create_app()` and the health probe sees it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app import healthcheck

PROJECT_DIR = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_probe_fails_when_nothing_listens():
    assert healthcheck.probe(f"http://127.0.0.1:{free_port()}/healthz", timeout=1) is False


def test_probe_rejects_a_non_http_url():
    with pytest.raises(ValueError, match="not an HTTP URL"):
        healthcheck.probe("file:///etc/passwd")


@pytest.mark.skipif(sys.platform == "win32", reason="gunicorn runs on POSIX only")
def test_gunicorn_serves_the_app_and_the_healthcheck_passes(monkeypatch):
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", f"--bind=127.0.0.1:{port}", "app:create_app()"],
        cwd=PROJECT_DIR,
        env={**os.environ, "PORT": str(port), "LOG_LEVEL": "WARNING"},
    )
    try:
        deadline = time.monotonic() + 15
        while not healthcheck.probe(f"http://127.0.0.1:{port}/healthz", timeout=1):
            assert server.poll() is None, "gunicorn exited"
            assert time.monotonic() < deadline, "gunicorn did not answer in time"
            time.sleep(0.1)
        monkeypatch.setenv("PORT", str(port))
        assert healthcheck.main() == 0
    finally:
        server.terminate()
        server.wait(timeout=15)
