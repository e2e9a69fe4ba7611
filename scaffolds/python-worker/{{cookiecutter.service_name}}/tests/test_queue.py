from __future__ import annotations

import json
import os
import time

from worker.queue import DirectoryQueue


def read(path):
    return json.loads(path.read_text(encoding="utf-8"))


def test_jobs_are_claimed_oldest_first(queue):
    first = queue.put({"n": 1})
    second = queue.put({"n": 2})

    assert queue.depth() == 2
    assert queue.claim().id == first
    assert queue.claim().id == second
    assert queue.claim() is None
    assert queue.depth() == 0


def test_a_claimed_job_is_not_claimed_twice(queue):
    queue.put({"n": 1})
    other_worker = DirectoryQueue(queue.root)

    assert queue.claim() is not None
    assert other_worker.claim() is None


def test_ack_keeps_the_result_in_done(queue):
    queue.put({"kind": "echo"})
    job = queue.claim()

    queue.ack(job, {"ok": True})

    done = read(queue.root / "done" / f"{job.id}.json")
    assert done == {"body": {"kind": "echo"}, "attempts": 1, "result": {"ok": True}}
    assert not list((queue.root / "processing").iterdir())


def test_fail_keeps_the_error_in_failed(queue):
    queue.put({"kind": "echo"})
    job = queue.claim()

    queue.fail(job, "boom")

    assert read(queue.root / "failed" / f"{job.id}.json")["error"] == "boom"


def test_retry_puts_the_job_back_with_one_more_attempt(queue):
    queue.put({"kind": "echo"})
    queue.retry(queue.claim(), "flaky")

    job = queue.claim()
    assert job.body == {"kind": "echo"}
    assert job.attempts == 1


def test_an_unreadable_job_goes_to_failed(queue):
    (queue.root / "incoming" / "0-bad.json").write_text("{not json", encoding="utf-8")
    (queue.root / "incoming" / "0-list.json").write_text('{"body": [1]}', encoding="utf-8")
    good = queue.put({"n": 1})

    assert queue.claim().id == good
    failed = sorted(p.name for p in (queue.root / "failed").iterdir())
    assert failed == ["0-bad.json", "0-list.json"]


def test_requeue_stale_returns_jobs_of_a_dead_worker(queue):
    queue.put({"n": 1})
    job = queue.claim()
    claimed = queue.root / "processing" / f"{job.id}.json"

    assert queue.requeue_stale(older_than=60) == 0
    an_hour_ago = time.time() - 3600
    os.utime(claimed, (an_hour_ago, an_hour_ago))
    assert queue.requeue_stale(older_than=60) == 1
    assert queue.claim().id == job.id
