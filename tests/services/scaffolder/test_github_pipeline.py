"""End to end on GitHub: a real worker process drives PyGithub against the fake GitHub server."""

from __future__ import annotations

import json

import pytest

from services.models import ProvisioningRun, RunStep, Service
from tests.fakes.github_portal import PORTAL_TOKEN as TOKEN
from tests.services.scaffolder.conftest import run_request
from tests.worker import celery_worker, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

def finished(run_id):
    run = ProvisioningRun.objects.get(pk=run_id)
    return run if run.state in ("succeeded", "failed", "cancelled") else None


def start_and_wait(client, *, env=None, beat=False, **inputs):
    with celery_worker(env=env, beat=beat):
        response = client.post("/api/v1/runs/", run_request(**inputs), format="json")
        assert response.status_code == 202, response.content
        return wait_for(lambda: finished(response.json()["id"]), timeout=120, what="the run to finish")


def test_a_run_on_github_makes_exactly_the_expected_calls(member_client, gh_team, github):
    run = start_and_wait(member_client)
    assert run.state == "succeeded", run.error
    assert [(method, path) for method, path, _ in github.calls] == [
        ("POST", "/orgs/acme/repos"),
        ("POST", "/repos/acme/ledger-api/git/trees"),
        ("POST", "/repos/acme/ledger-api/git/commits"),
        ("PATCH", "/repos/acme/ledger-api/git/refs/heads/main"),
        ("GET", "/orgs/acme/teams/payments-gh"),
        ("PUT", "/orgs/acme/teams/payments-gh/repos/acme/ledger-api"),
        ("PUT", "/repos/acme/ledger-api/environments/dev"),
        ("PUT", "/repos/acme/ledger-api/environments/staging"),
        ("PUT", "/repos/acme/ledger-api/environments/production"),
        ("PUT", "/repos/acme/ledger-api/branches/main/protection"),
    ]
    assert run.api_calls == 10
    files = github.files("acme", "ledger-api")
    assert {"README.md", "app.py", ".github/workflows/ci.yml", "catalog-info.yaml", ".slipway/provenance.json"} <= set(files)
    assert len(github.commits("acme", "ledger-api")) == 1
    assert json.loads(files[".slipway/provenance.json"])["run_id"] == str(run.pk)
    service = Service.objects.get(slug="ledger-api")
    assert service.repository == "127.0.0.1/acme/ledger-api"
    assert run.web_url.endswith("/acme/ledger-api")
    assert github.repo("acme", "ledger-api").environments["production"].reviewers == [("Team", 7)]


def test_a_rate_limit_storm_makes_the_run_wait_and_succeed_once(member_client, gh_team, github):
    github.secondary_rate_limit("POST", "/orgs/*/repos", retry_after=1, times=2)
    github.too_many_requests("PUT", "/repos/*/*/environments/*", retry_after=1, times=2)
    github.fail("POST", "/repos/*/*/git/commits", status=502, times=1)
    run = start_and_wait(member_client)
    assert run.state == "succeeded", run.error
    statuses = [status for _, _, status in github.calls]
    assert statuses.count(403) == 2 and statuses.count(429) == 2 and statuses.count(502) == 1
    assert sum(1 for method, path, status in github.calls if method == "POST" and path == "/orgs/acme/repos"
               and status == 201) == 1
    create = RunStep.objects.get(run=run, action="repo.create")
    assert create.attempts == 3 and "rate limit" in create.log


def test_a_lost_create_answer_leaves_one_repository(member_client, gh_team, github):
    github.apply_then_fail("POST", "/orgs/*/repos")
    run = start_and_wait(member_client)
    assert run.state == "succeeded", run.error
    assert len(github.commits("acme", "ledger-api")) == 1
    assert Service.objects.filter(slug="ledger-api").count() == 1


def test_a_name_taken_on_github_fails_cleanly(member_client, gh_team, github):
    from services.hosts.github import GitHubHost

    GitHubHost(api_url=github.api_url, organisation="acme", token=TOKEN, write_spacing=0,
               public_url="http://elsewhere.test").create_repository(name="ledger-api", description="theirs",
                                                                      run_id="x")
    before = github.files("acme", "ledger-api")
    run = start_and_wait(member_client)
    assert run.state == "failed" and "left untouched" in run.error
    assert github.files("acme", "ledger-api") == before
    assert not Service.objects.filter(slug="ledger-api").exists()


def test_secrets_never_reach_logs_errors_or_the_api(member_client, gh_team, github):
    github.expire_token(TOKEN)
    run = start_and_wait(member_client)
    assert run.state == "failed"
    body = member_client.get(f"/api/v1/runs/{run.pk}/").content.decode()
    assert "401" in body
    assert TOKEN not in body and "S3cr3t" not in body
    assert all(TOKEN not in (step.log + step.error) for step in RunStep.objects.filter(run=run))


def test_a_failed_run_is_retried_from_its_failed_step(member_client, gh_team, github):
    github.paid_plan = False  # production's protection rules are refused: the env step fails
    run = start_and_wait(member_client)
    assert run.state == "failed" and "plan" in run.error
    failed = RunStep.objects.get(run=run, state="failed")
    assert failed.params["name"] == "production"
    github.paid_plan = True
    github.reset_calls()
    with celery_worker():
        assert member_client.post(f"/api/v1/runs/{run.pk}/retry/").status_code == 202
        run = wait_for(lambda: finished(run.pk), timeout=120, what="the retried run")
    assert run.state == "succeeded", run.error
    assert [(m, p) for m, p, _ in github.calls] == [
        ("PUT", "/repos/acme/ledger-api/environments/production"),
        ("PUT", "/repos/acme/ledger-api/branches/main/protection"),
    ]


def test_the_team_id_is_remembered_so_the_next_run_makes_nine_calls(member_client, gh_team, github):
    assert start_and_wait(member_client).state == "succeeded"
    gh_team.refresh_from_db()
    assert gh_team.github_team_id == 7
    github.reset_calls()
    run = start_and_wait(member_client, service_name="ledger-two")
    assert run.state == "succeeded", run.error
    assert run.api_calls == 9 and len(github.calls) == 9
    assert all(method != "GET" for method, _, _ in github.calls)


def test_the_name_check_asks_github_with_one_read(member_client, gh_team, github, settings):
    from services.hosts.github import GitHubHost
    from services.scaffolder import namecheck

    settings.SLIPWAY_GITHUB_API_URL, settings.SLIPWAY_GITHUB_ORG = github.api_url, "acme"
    settings.SLIPWAY_GITHUB_TOKEN = TOKEN

    assert namecheck.check_now("ledger-api", "github") == namecheck.FREE
    GitHubHost(api_url=github.api_url, organisation="acme", token=TOKEN, write_spacing=0,
               public_url="http://elsewhere.test").create_repository(name="billing-api", description="theirs",
                                                                      run_id="x")
    assert namecheck.check_now("billing-api", "github") == namecheck.TAKEN
    assert "already exists on GitHub" in namecheck.taken_words("billing-api", "github")
