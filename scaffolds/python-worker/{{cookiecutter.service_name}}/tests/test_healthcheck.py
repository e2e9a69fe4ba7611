from __future__ import annotations

import os
import time

from worker import healthcheck


def test_a_fresh_heartbeat_is_healthy(tmp_path):
    heartbeat = tmp_path / "heartbeat"
    heartbeat.touch()

    assert healthcheck.is_healthy(heartbeat, max_age=60)


def test_no_heartbeat_is_unhealthy(tmp_path):
    assert not healthcheck.is_healthy(tmp_path / "heartbeat", max_age=60)


def test_a_stale_heartbeat_is_unhealthy(tmp_path):
    heartbeat = tmp_path / "heartbeat"
    heartbeat.touch()
    ten_minutes_ago = time.time() - 600
    os.utime(heartbeat, (ten_minutes_ago, ten_minutes_ago))

    assert not healthcheck.is_healthy(heartbeat, max_age=60)


def test_main_reads_the_heartbeat_file_from_the_environment(tmp_path, monkeypatch):
    heartbeat = tmp_path / "heartbeat"
    monkeypatch.setenv("HEARTBEAT_FILE", str(heartbeat))

    assert healthcheck.main() == 1
    heartbeat.touch()
    assert healthcheck.main() == 0
