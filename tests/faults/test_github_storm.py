"""GitHub misbehaving for a while across several runs at once — 5xx, secondary and primary rate
limits, 429, dropped connections, a lost answer, a call that hangs past the client's timeout — with
a real worker: every run succeeds exactly once, and no call breaks GitHub's schema.

(test_github_pipeline.py covers one run through a storm of 403/429/502 and the lost create answer.)"""

from __future__ import annotations

import json

import pytest

from services.models import RunStep, Service
from tests.faults.conftest import all_finished, run_request, steps_of
from tests.worker import celery_worker, tasks_ended, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

NAMES = [f"storm-{index}" for index in range(4)]


def test_a_mixed_storm_over_several_runs_ends_with_each_run_done_exactly_once(member_client, gh_team, github):
    rules = [
        github.fail("POST", "/orgs/*/repos", status=500, times=2),
        github.apply_then_fail("POST", "/orgs/*/repos", status=502, times=1),  # created, answer lost
        github.hang("POST", "/repos/*/*/git/trees", seconds=12, times=1),  # past the client timeout (6 s here)
        github.fail("POST", "/repos/*/*/git/commits", status=503, times=2),
        github.drop_connection("PATCH", "/repos/*/*/git/refs/heads/*", times=2),
        github.secondary_rate_limit("PUT", "/orgs/*/teams/*/repos/*/*", retry_after=1, times=2),
        github.primary_rate_limit("PUT", "/repos/*/*/environments/*", reset_in=1, times=2),
        github.apply_then_fail("PUT", "/repos/*/*/environments/*", drop=True, times=1),
        github.too_many_requests("PUT", "/repos/*/*/branches/*/protection", retry_after=1, times=2),
    ]
    with celery_worker(concurrency=2, beat=True):
        run_ids = []
        for name in NAMES:
            response = member_client.post("/api/v1/runs/", run_request(service_name=name), format="json")
            assert response.status_code == 202, response.content
            run_ids.append(response.json()["id"])
        runs = wait_for(lambda: all_finished(run_ids), timeout=150, what="every run to finish")

    assert [run.state for run in runs] == ["succeeded"] * len(NAMES), [
        (run.service_slug, run.error, steps_of(run)) for run in runs if run.state != "succeeded"]
    assert [rule.hits for rule in rules] == [rule.times for rule in rules]  # the whole storm happened
    github.assert_no_violations()
    for run in runs:
        name = run.service_slug
        assert len(github.commits("acme", name)) == 1, name
        assert json.loads(github.files("acme", name)[".slipway/provenance.json"])["run_id"] == str(run.pk)
        creations = [request for request in github.requests
                     if (request.method, request.path) == ("POST", "/orgs/acme/repos") and request.body["name"] == name
                     and (request.status == 201 or request.fault == "apply_then_fail")]
        assert len(creations) == 1, (name, creations)  # made once, even when its answer was lost
        assert sorted(github.repo("acme", name).environments) == ["dev", "production", "staging"]
    assert sorted(Service.objects.values_list("slug", flat=True)) == sorted(NAMES)
    retried = RunStep.objects.filter(run__in=runs, attempts__gt=1)
    assert {step.action for step in retried} >= {"repo.create", "repo.push", "repo.grant_team", "env.create",
                                                 "repo.protect_branch"}
    assert all(step.state == "succeeded" and step.error == "" for step in RunStep.objects.filter(run__in=runs))


def test_a_worker_that_outlives_its_lease_leaves_the_run_to_its_successor(member_client, gh_team, github,
                                                                          monkeypatch, tmp_path):
    # A call hangs past the step timeout, so the heartbeat stops renewing the lease: the sweeper hands
    # the run to the worker's other process, which
    # finishes it. The first one's late outcome (a timeout, 6 s in) must be dropped, not written
    # over the finished run's step.
    monkeypatch.setenv("SLIPWAY_RUN_LEASE_SECONDS", "3")
    monkeypatch.setenv("SLIPWAY_STEP_TIMEOUT_SECONDS", "2")  # the heartbeat gives the hung step up after 2 s
    hung = github.hang("PUT", "/repos/*/*/environments/staging", seconds=12, times=1)
    log = tmp_path / "worker.log"
    with celery_worker(concurrency=2, beat=True, log=log):
        response = member_client.post("/api/v1/runs/", run_request(service_name="outlived"), format="json")
        run_id = response.json()["id"]
        wait_for(lambda: all_finished([run_id]), timeout=60, what="the successor to finish the run")
        wait_for(lambda: hung.hits == 1 and tasks_ended(log), timeout=60, what="the hung call to time out")
    run = all_finished([run_id])[0]
    assert run.state == "succeeded", (run.error, steps_of(run))
    assert steps_of(run) == [(action, "succeeded", "") for action, _, _ in steps_of(run)]
    assert len(github.commits("acme", "outlived")) == 1
    assert "run.lease_lost" in log.read_text(errors="replace")
