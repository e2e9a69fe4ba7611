"""Races, each with exactly one winner and a clear answer for the loser: two workers on one run,
one Idempotency-Key sent twice at once, two runs (or two registrations) for one service name."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from services.models import AuditEvent, Membership, ProvisioningRun, RunStep, Service
from tests.factories import MembershipFactory, UserFactory, token_for
from tests.faults.conftest import all_finished, bare, commit_count, run_request, steps_of
from tests.worker import celery_worker, tasks_ended, tasks_received, wait_for

ROUNDS = 4


def post_at_once(url: str, bodies: list[tuple[str, dict, dict[str, str]]]) -> list[tuple[int, dict]]:
    """POST every (token, body, headers) from its own thread, released together by a barrier."""
    barrier = threading.Barrier(len(bodies))
    answers: list[tuple[int, dict] | None] = [None] * len(bodies)

    def send(index: int, token: str, body: dict, headers: dict[str, str]) -> None:
        request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={
            "Authorization": f"Token {token}", "Content-Type": "application/json", "Accept": "application/json",
            **headers})
        barrier.wait(timeout=10)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                answers[index] = (response.status, json.loads(response.read()))
        except urllib.error.HTTPError as error:
            text = error.read()
            answers[index] = (error.code, json.loads(text) if text.startswith(b"{") else {"raw": text.decode()})

    threads = [threading.Thread(target=send, args=(index, *body)) for index, body in enumerate(bodies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert all(answer is not None for answer in answers), answers
    return answers  # type: ignore[return-value]


@pytest.fixture
def second_member(db, team):
    user = UserFactory(username="max")
    MembershipFactory(user=user, team=team, role=Membership.Role.MEMBER)
    return user


@pytest.mark.django_db(transaction=True)
def test_the_same_idempotency_key_sent_twice_at_once_makes_one_run(live_server, member, team):
    token = token_for(member)
    for round_number in range(ROUNDS):
        body = run_request(service_name=f"twice-{round_number}")
        headers = {"Idempotency-Key": f"key-{round_number}"}
        answers = post_at_once(f"{live_server.url}/api/v1/runs/", [(token, body, headers)] * 2)
        assert sorted(status for status, _ in answers) == [200, 202], answers  # created, then the same run
        assert answers[0][1]["id"] == answers[1][1]["id"]
        assert ProvisioningRun.objects.filter(idempotency_key=f"key-{round_number}").count() == 1
    assert ProvisioningRun.objects.count() == ROUNDS
    assert RunStep.objects.count() == 9 * ROUNDS
    assert AuditEvent.objects.filter(action="run.create").count() == ROUNDS


@pytest.mark.django_db(transaction=True)
def test_two_runs_for_one_service_name_at_once_one_wins_the_other_gets_409(live_server, member, second_member,
                                                                             team):
    tokens = [token_for(member), token_for(second_member)]
    for round_number in range(ROUNDS):
        body = run_request(service_name=f"contested-{round_number}")
        answers = post_at_once(f"{live_server.url}/api/v1/runs/", [
            (tokens[0], body, {"Idempotency-Key": f"mia-{round_number}"}),
            (tokens[1], body, {"Idempotency-Key": f"max-{round_number}"}),
        ])
        assert sorted(status for status, _ in answers) == [202, 409], answers
        loser = next(answer for status, answer in answers if status == 409)
        assert "inputs.service_name" in loser["errors"], loser
        assert loser["detail"]
        assert ProvisioningRun.objects.filter(service_slug=f"contested-{round_number}").count() == 1
    # Nothing half-made by the losers: no stray steps, no audit of a run that does not exist.
    assert RunStep.objects.count() == 9 * ROUNDS
    assert AuditEvent.objects.filter(action="run.create").count() == ROUNDS


@pytest.mark.django_db(transaction=True)
def test_registering_one_service_twice_at_once_answers_201_and_409_naming_the_slug(live_server, member, team):
    token = token_for(member)
    for round_number in range(ROUNDS):
        body = {"slug": f"registered-{round_number}", "owner": "payments", "description": "Raced"}
        answers = post_at_once(f"{live_server.url}/api/v1/services/", [(token, body, {})] * 2)
        assert sorted(status for status, _ in answers) == [201, 409], answers
        loser = next(answer for status, answer in answers if status == 409)
        assert list(loser["errors"]) == ["slug"], loser
        assert Service.objects.filter(slug=f"registered-{round_number}").count() == 1
    assert AuditEvent.objects.filter(action="service.create").count() == ROUNDS


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_two_workers_handed_the_same_runs_at_once_do_every_step_once(member_client, team, tmp_path, monkeypatch):
    from config.celery import app
    from services.tasks import advance_run

    names = [f"raced-{index}" for index in range(5)]
    run_ids = []
    with monkeypatch.context() as patch:
        patch.setattr(advance_run, "apply_async", lambda *args, **kwargs: None)  # we send the messages below
        for name in names:
            response = member_client.post("/api/v1/runs/", run_request(service_name=name), format="json")
            assert response.status_code == 202, response.content
            run_ids.append(response.json()["id"])
    app.control.purge()  # earlier tests' leftover messages would be more losers to count
    logs = [tmp_path / "first.log", tmp_path / "second.log"]
    with celery_worker(log=logs[0]), celery_worker(log=logs[1]):
        wait_for(lambda: all(log.exists() and " ready." in log.read_text(errors="replace") for log in logs),
                 timeout=60, what="both workers to be ready")
        for run_id in run_ids:  # the same run to both idle workers, twice in a row
            advance_run.delay(run_id)
            advance_run.delay(run_id)
        runs = wait_for(lambda: all_finished(run_ids), timeout=90, what="every run to finish")
        # The workers are stopped once the tasks they hold end; a duplicate still in the broker when
        # the last run finished would never be handled, nor logged as the loser: wait for all of them.
        wait_for(lambda: sum(tasks_received(log) for log in logs) >= 2 * len(names)
                 and all(tasks_ended(log) for log in logs), timeout=60, what="every message to be handled")
    assert [run.state for run in runs] == ["succeeded"] * len(names), [(run.error, steps_of(run)) for run in runs]
    for run in runs:
        assert commit_count(run.service_slug) == 1
        assert run.api_calls == 7  # each host call made once
        # A step may be tried again after a "database is locked" (SQLite under a busy machine): the
        # runner logs it as run.database_fault; any other second attempt is a race lost.
        retried = run.steps.filter(attempts__gt=1).count()
        assert retried == 0 or any("run.database_fault" in Path(log).read_text(errors="replace") for log in logs)
    assert sorted(path.name for path in bare(names[0]).parent.glob("*.git")) == sorted(f"{n}.git" for n in names)
    texts = [Path(log).read_text(errors="replace") for log in logs]
    assert all("slipway.advance_run" in text for text in texts)  # both workers took messages
    assert sum(text.count("run.not_claimed") for text in texts) == len(names)  # one loser per run
    assert not any("raised unexpected" in text for text in texts)  # no task failed
