from __future__ import annotations

import json
import threading
import time

from worker.runner import Worker


def outcome(queue, state):
    return [json.loads(p.read_text(encoding="utf-8")) for p in (queue.root / state).iterdir()]


def test_a_job_is_handled_and_acknowledged(queue):
    queue.put({"kind": "word_count", "payload": {"text": "hello world"}})
    worker = Worker(queue)

    assert worker.run_once() is True
    assert worker.run_once() is False
    assert outcome(queue, "done")[0]["result"] == {"words": 2, "characters": 11}


def test_a_permanent_error_fails_the_job_at_once(queue):
    queue.put({"kind": "nope"})

    Worker(queue).run_once()

    [failed] = outcome(queue, "failed")
    assert "unknown job kind" in failed["error"]
    assert failed["attempts"] == 1


def test_a_transient_error_is_retried_until_max_attempts(queue):
    calls = []

    def flaky(job):
        calls.append(job)
        raise ConnectionError("upstream down")

    queue.put({"kind": "echo"})
    worker = Worker(queue, flaky, max_attempts=3)
    while worker.run_once():
        pass

    assert len(calls) == 3
    [failed] = outcome(queue, "failed")
    assert failed["error"] == "ConnectionError: upstream down"
    assert failed["attempts"] == 3


def test_a_result_that_is_not_json_fails_the_job(queue):
    queue.put({"kind": "echo"})

    assert Worker(queue, lambda job: {"when": object()}).process(queue.claim()) == "failed"
    assert "unstorable result" in outcome(queue, "failed")[0]["error"]


def test_run_stops_after_the_current_job_when_asked(queue, tmp_path):
    heartbeat = tmp_path / "heartbeat"
    worker = Worker(queue, poll_interval=30, heartbeat_file=heartbeat)
    seen = []

    def handler(job):
        seen.append(job)
        worker.request_stop()  # as if SIGTERM arrived while the job was running
        return {}

    worker.handler = handler
    queue.put({"n": 1})
    queue.put({"n": 2})
    thread = threading.Thread(target=worker.run)
    thread.start()
    thread.join(timeout=5)

    assert not thread.is_alive()
    assert seen == [{"n": 1}]  # the job in hand finished, the next one was left queued
    assert queue.depth() == 1
    assert heartbeat.exists()


def test_an_idle_worker_stops_without_waiting_out_its_poll_interval(queue):
    worker = Worker(queue, poll_interval=60)
    thread = threading.Thread(target=worker.run)
    thread.start()
    time.sleep(0.2)  # let it go idle

    worker.request_stop()
    thread.join(timeout=5)

    assert not thread.is_alive()
