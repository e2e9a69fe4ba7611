"""The real process: `python -m worker` handles jobs, then exits 0 on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from worker.queue import DirectoryQueue

PROJECT_DIR = Path(__file__).resolve().parents[1]


def wait_for(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_the_worker_processes_jobs_and_stops_gracefully_on_sigterm(tmp_path):
    queue = DirectoryQueue(tmp_path / "spool")
    heartbeat = tmp_path / "heartbeat"
    env = {
        **os.environ,
        "SPOOL_DIR": str(queue.root),
        "HEARTBEAT_FILE": str(heartbeat),
        "POLL_INTERVAL": "0.05",
        "LOG_LEVEL": "INFO",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "worker"],
        cwd=PROJECT_DIR,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(heartbeat.exists)
        job_id = queue.put({"kind": "word_count", "payload": {"text": "one two three"}})
        done = queue.root / "done" / f"{job_id}.json"
        wait_for(done.exists)
        assert json.loads(done.read_text(encoding="utf-8"))["result"]["words"] == 3

        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert process.returncode == 0
    assert "received SIGTERM" in stderr
    assert "stopped" in stderr
