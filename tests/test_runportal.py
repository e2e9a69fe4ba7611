"""`make run` (manage.py runportal): a dead child is started again, the address is printed once the web
server answers, and a taken port stops it at once with a hint. Real processes on loopback."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.slow,
    # The supervisor is the same whatever the database: run once, on the embedded setup.
    pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")), reason="runs on the embedded setup only"),
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def portal_env(tmp_path: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DATABASE_", "CELERY_", "SLIPWAY_", "DJANGO_"))}
    return {**env, "DJANGO_SETTINGS_MODULE": "config.settings", "SLIPWAY_DATA_DIR": str(tmp_path / "data"),
            "PORT": str(port), "WEB_CONCURRENCY": "1", "PYTHONUNBUFFERED": "1",
            "SLIPWAY_CELERY_QUEUE": f"runportal-test-{port}"}


class Output:
    """Collects a process's output lines in a thread; `wait_for` finds a line matching a pattern."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self.thread.start()

    def _read(self, process: subprocess.Popen) -> None:
        for line in process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float = 120, start: int = 0) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines[start:]:
                found = re.search(pattern, line)
                if found:
                    return found
            time.sleep(0.1)
        raise AssertionError(f"no line matching {pattern!r} in:\n" + "\n".join(self.lines[-60:]))


def test_a_dead_worker_is_started_again_and_the_address_is_printed_once_it_answers(tmp_path):
    port = free_port()
    process = subprocess.Popen([sys.executable, "manage.py", "runportal", "--no-demo"], cwd=ROOT,
                               env=portal_env(tmp_path, port), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True)
    output = Output(process)
    try:
        output.wait_for(r"Slipway is running at http://127\.0\.0\.1:\d+/")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
            assert answer.status == 200  # printed only once the server answers
        worker_pid = int(output.wait_for(r"worker started \(pid (\d+)\)").group(1))
        mark = len(output.lines)
        os.kill(worker_pid, signal.SIGKILL)
        output.wait_for(r"worker exited with code -9 after \d+ s; starting it again in 1 s", start=mark)
        new_pid = int(output.wait_for(r"worker started \(pid (\d+)\)", start=mark).group(1))
        assert new_pid != worker_pid
        os.kill(new_pid, 0)  # alive
        assert process.poll() is None  # the portal itself carried on
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
            assert answer.status == 200
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 0


def test_a_taken_port_stops_it_at_once_with_a_hint(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "manage.py", "runportal", "--no-demo"], cwd=ROOT,
                                env=portal_env(tmp_path, port), capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert f"Port {port} on 127.0.0.1 is taken" in result.stderr
    assert f"PORT={port + 1} make run" in result.stderr
    assert "Slipway is running" not in result.stdout
