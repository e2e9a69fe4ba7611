"""The GitHub write budget (services/hosts/budget.py): at most N writes per credential in any
60 minutes, across threads and processes, and a far slot hands the step back instead of sleeping.

Time is a controllable clock (django.utils.timezone.now, the throttle's sleep and the fake GitHub's
monotonic clock all read it): no test sleeps for real minutes and none asserts on timing."""

from __future__ import annotations

import datetime
import json
import random
import re
import subprocess
import sys
import threading

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

import tests.fakes.github as fake_github_module
from services.hosts import budget as throttle
from services.hosts.budget import WriteSlotDeferred, credential_key, throttle_wait
from services.models import HostThrottle, HostWriteSlot, ProvisioningRun, RunStep, Service
from services.scaffolder.runner import run_advance
from services.scaffolder.runs import run_create
from tests.fakes.github import SecondaryLimits
from tests.services.scaffolder.conftest import run_request
from tests.worker import ROOT, worker_env

HOUR = datetime.timedelta(hours=1)
KEY = credential_key("token", "test-budget")
# Ten seconds before an hour boundary: a clock-hour window would let 2N through right here.
START = datetime.datetime(2031, 5, 6, 13, 59, 50, tzinfo=datetime.UTC)


class Clock:
    """A wall clock that moves only when told: shared by every thread of the test."""

    def __init__(self, start: datetime.datetime) -> None:
        self._now = start
        self._lock = threading.Lock()
        self.sleeps: list[float] = []

    def now(self) -> datetime.datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += datetime.timedelta(seconds=seconds)

    def advance_to(self, moment: datetime.datetime) -> None:
        with self._lock:
            self._now = max(self._now, moment)

    def sleep(self, seconds: float) -> None:
        """The throttle's sleep: the clock moves on instead of the test waiting."""
        with self._lock:
            self.sleeps.append(seconds)
            self._now += datetime.timedelta(seconds=seconds)

    def monotonic(self) -> float:
        return (self.now() - START).total_seconds()


class ClockTime:
    """Stands in for the `time` module inside the fake GitHub: its monotonic clock is ours, so its
    hourly window moves with the portal's."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def monotonic(self) -> float:
        return self._clock.monotonic()

    def __getattr__(self, name: str):  # noqa: ANN204 - everything else is the real module
        import time

        return getattr(time, name)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock(START)
    monkeypatch.setattr(timezone, "now", clock.now)
    monkeypatch.setattr(throttle, "_sleep", clock.sleep)
    return clock


def assert_at_most_per_hour(slots: list[datetime.datetime], per_hour: int) -> None:
    """No 60-minute window [a, a + 1 h) holds more than `per_hour` of `slots`."""
    slots = sorted(slots)
    crowded = [(slots[index], slots[index + per_hour]) for index in range(len(slots) - per_hour)
               if slots[index + per_hour] - slots[index] < HOUR]
    assert not crowded, f"{per_hour + 1} writes within an hour: {crowded[:3]}"


# -- the budget, one process ------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_budget_admits_n_writes_then_defers_the_next_to_an_hour_after_the_oldest(clock):
    slots = [throttle_wait(KEY, 1.0, per_hour=3, max_sleep=30) for _ in range(3)]
    assert slots == [START, START + datetime.timedelta(seconds=1), START + datetime.timedelta(seconds=2)]
    clock.advance(60)
    with pytest.raises(WriteSlotDeferred) as deferred:
        throttle_wait(KEY, 1.0, per_hour=3, max_sleep=30)
    assert deferred.value.resume_at == START + HOUR
    assert deferred.value.budget
    assert str(deferred.value) == "GitHub write budget used up; resuming at 14:59:50 UTC"
    assert deferred.value.retry_after == pytest.approx((HOUR - datetime.timedelta(seconds=62)).total_seconds())
    # Handed back, not slept for, and nothing reserved: the budget did not move.
    assert clock.sleeps == [1.0, 1.0]
    assert HostWriteSlot.objects.filter(key=KEY).count() == 3
    assert HostThrottle.objects.get(key=KEY).next_at == START + datetime.timedelta(seconds=3)

    clock.advance_to(deferred.value.resume_at)
    assert throttle_wait(KEY, 1.0, per_hour=3, max_sleep=30) == START + HOUR
    assert throttle_wait(KEY, 1.0, per_hour=3, max_sleep=30) == START + HOUR + datetime.timedelta(seconds=1)
    # Slots an hour old are pruned as new ones are taken: the table keeps only the last hour's.
    assert sorted(HostWriteSlot.objects.filter(key=KEY).values_list("at", flat=True)) == [
        START + datetime.timedelta(seconds=1), START + datetime.timedelta(seconds=2), START + HOUR,
        START + HOUR + datetime.timedelta(seconds=1)]


@pytest.mark.django_db
def test_a_slot_within_the_short_bound_is_slept_for_and_a_further_one_is_handed_back(clock):
    throttle_wait(KEY, 0, per_hour=1, max_sleep=30)
    clock.advance_to(START + HOUR - datetime.timedelta(seconds=31))
    with pytest.raises(WriteSlotDeferred):
        throttle_wait(KEY, 0, per_hour=1, max_sleep=30)
    assert clock.sleeps == []
    clock.advance(1)  # now exactly 30 s before the slot frees: a short wait, slept in the worker
    assert throttle_wait(KEY, 0, per_hour=1, max_sleep=30) == START + HOUR
    assert clock.sleeps == [30.0]


@pytest.mark.django_db
def test_a_spacing_queue_longer_than_the_bound_is_handed_back_too(clock, monkeypatch):
    monkeypatch.setattr(throttle, "_sleep", lambda seconds: None)  # many workers queued at once
    assert throttle_wait(KEY, 10.0, per_hour=0, max_sleep=15) == START
    assert throttle_wait(KEY, 10.0, per_hour=0, max_sleep=15) == START + datetime.timedelta(seconds=10)
    with pytest.raises(WriteSlotDeferred, match="queued behind other runs; resuming at 14:00:10 UTC") as deferred:
        throttle_wait(KEY, 10.0, per_hour=0, max_sleep=15)
    assert not deferred.value.budget
    assert not HostWriteSlot.objects.exists()  # no budget: no slots kept


@pytest.mark.django_db
def test_zero_turns_the_budget_off(clock):
    assert throttle_wait(KEY, 0, per_hour=0) is None
    assert [throttle_wait(KEY, 0.5, per_hour=0, max_sleep=30) for _ in range(3)][-1] == START + datetime.timedelta(
        seconds=1)
    assert not HostWriteSlot.objects.exists()


# -- the "any window" property under concurrency ---------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_threads_reserving_at_once_never_put_more_than_n_writes_in_any_hour(clock):
    per_hour, threads, writes_each = 5, 6, 8
    barrier = threading.Barrier(threads)
    slots: list[datetime.datetime] = []
    deferrals: list[datetime.datetime] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        try:
            barrier.wait(timeout=30)
            done = 0
            while done < writes_each:
                try:
                    slot = throttle_wait(KEY, 0, per_hour=per_hour, max_sleep=30)
                except WriteSlotDeferred as deferred:
                    with lock:
                        deferrals.append(deferred.resume_at)
                    clock.advance_to(deferred.resume_at)  # the runner resumes the step then
                    continue
                with lock:
                    slots.append(slot)
                done += 1
                if rng.random() < 0.3:
                    clock.advance(rng.uniform(0, 900))  # the run's other steps, a quiet spell
        except BaseException as error:  # noqa: BLE001 - reported by the test thread
            errors.append(error)
        finally:
            connection.close()

    workers = [threading.Thread(target=writer, args=(seed,)) for seed in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert not errors, errors
    assert len(slots) == threads * writes_each
    assert_at_most_per_hour(slots, per_hour)
    assert deferrals  # the budget was what held them back
    # Pruned as it goes: each reservation drops the slots an hour old at its `now`, which is at most
    # max_sleep before its slot; what stays is the last hour and the few reserved ahead (the
    # module's promise: at most 2N rows). An hour + 30 s can hold N + 1 slots, so N is no bound.
    kept = list(HostWriteSlot.objects.filter(key=KEY).values_list("at", flat=True))
    assert len(kept) <= 2 * per_hour
    assert min(kept) > max(slots) - HOUR - datetime.timedelta(seconds=30)


PROCESS_SCRIPT = """
import json, os, sys, time
import django
django.setup()
from services.hosts.budget import WriteSlotDeferred, throttle_wait
go, key, per_hour, tries = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
while not os.path.exists(go):
    time.sleep(0.01)
for _ in range(tries):
    try:
        print(json.dumps({"slot": throttle_wait(key, 0, per_hour=per_hour, max_sleep=30).isoformat()}), flush=True)
    except WriteSlotDeferred as deferred:
        print(json.dumps({"resume_at": deferred.resume_at.isoformat()}), flush=True)
"""


@pytest.mark.django_db(transaction=True)
def test_processes_reserving_at_once_get_exactly_the_budget_and_the_rest_a_resume_time(tmp_path):
    per_hour, processes, tries = 6, 3, 4
    go = tmp_path / "go"
    started = [subprocess.Popen([sys.executable, "-c", PROCESS_SCRIPT, str(go), KEY, str(per_hour), str(tries)],
                                cwd=ROOT, env=worker_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(processes)]
    go.touch()
    answers = []
    for process in started:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        answers += [json.loads(line) for line in out.splitlines()]
    slots = sorted(datetime.datetime.fromisoformat(answer["slot"]) for answer in answers if "slot" in answer)
    resumes = {datetime.datetime.fromisoformat(answer["resume_at"]) for answer in answers if "resume_at" in answer}
    assert len(answers) == processes * tries
    assert len(slots) == per_hour  # the budget, exactly: no more, and none lost to the race
    assert resumes == {slots[0] + HOUR}  # every other write is told when the oldest slot frees
    assert sorted(HostWriteSlot.objects.filter(key=KEY).values_list("at", flat=True)) == slots


# -- a whole run against the fake GitHub ------------------------------------------------------------------


@pytest.fixture
def github_run(fake_github, settings, team, member, clock, monkeypatch):
    """The portal in this process on the fake GitHub, with a tiny budget and GitHub's hourly limit set
    to the same number; the fake's clock is ours."""
    monkeypatch.setattr(fake_github_module, "time", ClockTime(clock))
    team.github_team_slug = "payments-gh"
    team.save()
    fake_github.add_team("acme", "payments-gh", id=7)
    settings.SLIPWAY_REPO_HOST = "github"
    settings.SLIPWAY_GITHUB_API_URL = fake_github.api_url
    settings.SLIPWAY_GITHUB_ORG = "acme"
    settings.SLIPWAY_GITHUB_TOKEN = fake_github.token
    settings.SLIPWAY_GITHUB_WRITE_SPACING_SECONDS = 1.0
    settings.SLIPWAY_GITHUB_WRITE_MAX_SLEEP_SECONDS = 30.0
    settings.SLIPWAY_STEP_MAX_ATTEMPTS = 1  # any real fault would fail the run: waiting must not count
    return fake_github


@pytest.mark.django_db
@pytest.mark.parametrize(("per_hour", "deferrals", "writes"), [
    (5, 1, 9),  # the sixth write waits for the first to be an hour old
    # The push is cut before its ref update and redone whole (its tree and commit are sent twice);
    # the branch still gets exactly one commit.
    (3, 3, 11),
])
def test_a_run_with_a_tiny_budget_waits_for_the_window_and_succeeds_without_a_secondary_limit(
        github_run, settings, member, clock, monkeypatch, per_hour, deferrals, writes):
    settings.SLIPWAY_GITHUB_WRITES_PER_HOUR = per_hour
    github_run.enforce_secondary_limits(SecondaryLimits(content_per_hour=per_hour))
    reserved: list[datetime.datetime] = []
    reserve = throttle.write_slot_reserve

    def recording_reserve(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        slot = reserve(*args, **kwargs)
        reserved.append(slot)
        return slot

    monkeypatch.setattr(throttle, "write_slot_reserve", recording_reserve)
    run, _ = run_create(actor=member, template="mini", owner="payments", inputs=run_request()["inputs"])
    page = Client()
    page.force_login(member)
    api = Client()
    api.force_login(member)

    waits = []
    for _ in range(20):
        delay = run_advance(run.pk)
        run.refresh_from_db()
        if run.state != ProvisioningRun.State.QUEUED:
            break
        # Handed back with the time it resumes: the step waits, the run is queued until then.
        step = run.steps.get(state=RunStep.State.PENDING, error__startswith="GitHub write budget used up")
        resume = run.not_before
        assert resume > clock.now()
        assert delay == pytest.approx((resume - clock.now()).total_seconds())
        assert step.error == f"GitHub write budget used up; resuming at {resume:%H:%M:%S} UTC"
        waits.append((step.action, resume))
        detail = api.get(f"/api/v1/runs/{run.pk}/").json()
        assert detail["state"] == "queued"
        assert datetime.datetime.fromisoformat(detail["not_before"].replace("Z", "+00:00")) == resume
        assert step.error in [s["error"] for s in detail["steps"] if s["state"] == "pending"]
        status = page.get(reverse("wizard:run_status", kwargs={"pk": run.pk})).content.decode()
        assert f"Waiting to stay within GitHub&#x27;s rate limits: {step.error}." in status
        # Not due yet: a worker that picks it up early does nothing.
        clock.advance_to(resume - datetime.timedelta(seconds=1))
        assert run_advance(run.pk) is None
        assert ProvisioningRun.objects.get(pk=run.pk).state == ProvisioningRun.State.QUEUED
        clock.advance_to(resume)

    assert run.state == ProvisioningRun.State.SUCCEEDED, (run.error, list(run.steps.values_list("action", "error")))
    assert len(waits) == deferrals
    assert github_run.secondary_limit_hits == []
    assert all(status < 400 for _, _, status in github_run.calls), github_run.calls
    assert len(github_run.write_calls()) == writes == len(reserved), (github_run.write_calls(), waits)
    assert_at_most_per_hour(reserved, per_hour)
    assert max(clock.sleeps) <= settings.SLIPWAY_GITHUB_WRITE_MAX_SLEEP_SECONDS
    # Exactly once: one repository, one commit, one service; a wait is not a failed attempt.
    assert sum(1 for method, path, _ in github_run.calls if (method, path) == ("POST", "/orgs/acme/repos")) == 1
    assert len(github_run.commits("acme", "ledger-api")) == 1
    assert Service.objects.filter(slug="ledger-api").count() == 1
    assert set(run.steps.values_list("state", flat=True)) == {RunStep.State.SUCCEEDED}
    assert set(run.steps.values_list("attempts", flat=True)) == {1}
    logs = "\n".join(run.steps.values_list("log", flat=True))
    assert len(re.findall(r"waiting: GitHub write budget used up; resuming at \d\d:\d\d:\d\d UTC", logs)) == deferrals


@pytest.mark.django_db
def test_without_the_budget_the_same_run_meets_githubs_hourly_limit(github_run, settings, member):
    """The control for the test above: the fake does enforce the hourly limit."""
    settings.SLIPWAY_GITHUB_WRITES_PER_HOUR = 0
    settings.SLIPWAY_STEP_MAX_ATTEMPTS = 8
    github_run.enforce_secondary_limits(SecondaryLimits(content_per_hour=5))
    run, _ = run_create(actor=member, template="mini", owner="payments", inputs=run_request()["inputs"])
    run_advance(run.pk)
    assert [hit.rule for hit in github_run.secondary_limit_hits] == ["content-per-hour"]
    assert "rate limit" in run.steps.exclude(error="").get(state=RunStep.State.PENDING).error


def test_the_deferral_message_is_in_utc_whatever_the_clock_zone():
    moment = datetime.datetime(2031, 5, 6, 16, 5, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))
    error = WriteSlotDeferred(resume_at=moment, now=moment - datetime.timedelta(minutes=5), budget=True)
    assert str(error) == "GitHub write budget used up; resuming at 14:05:00 UTC"
    assert error.retry_after == 300



@pytest.mark.django_db
def test_teams_take_turns_for_the_write_budget(settings, team):
    # Team payments has five runs waiting for the budget; growth has none. Deferred at the same slot,
    # payments' next run comes back after its five, growth's at the slot itself.
    import datetime

    from django.utils import timezone

    from services.hosts.budget import BUDGET_REASON
    from services.models import ProvisioningRun, RunStep
    from services.scaffolder.runner import fair_turn
    from tests.factories import TeamFactory

    settings.SLIPWAY_GITHUB_WRITES_PER_HOUR = 360  # one write every 10 s
    now = timezone.now()
    growth = TeamFactory(slug="growth")

    def run(owner, name, *, waiting):
        made = ProvisioningRun.objects.create(template="mini", template_version="1", inputs={}, owner=owner,
                                              service_slug=name, host="github", request_hash=name,
                                              state="queued", not_before=now + datetime.timedelta(minutes=5))
        RunStep.objects.create(run=made, position=1, action="repo.create", params={}, state="pending",
                               error=f"{BUDGET_REASON}; resuming at 12:00:00 UTC" if waiting else "")
        return made

    for n in range(5):
        run(team, f"waiting-{n}", waiting=True)
    run(team, "backoff", waiting=False)  # queued for another reason: not counted
    slot = now + datetime.timedelta(minutes=1)
    assert fair_turn(run(team, "next", waiting=False), slot, now=now) == slot + datetime.timedelta(seconds=50)
    assert fair_turn(run(growth, "other", waiting=False), slot, now=now) == slot
