"""The GitHub host through PyGithub, over real HTTP against the schema-checked fake GitHub."""

from __future__ import annotations

import pytest

from services.hosts.base import EnvironmentSpec, NameTaken, PermanentHostError, TransientHostError
from services.hosts.github import GitHubHost

pytestmark = pytest.mark.django_db

FILES = {"README.md": "# ledger\n", "app.py": "print('hi')\n", ".github/workflows/ci.yml": "on: push\n",
         "docs/runbook.md": "# Runbook\n"}
RUN = "3f2c1d8e-0000-4000-8000-000000000001"


@pytest.fixture
def host(fake_github):
    fake_github.add_team("acme", "payments", id=7)
    return GitHubHost(api_url=fake_github.api_url, organisation="acme", token=fake_github.token, write_spacing=0,
                      public_url="http://portal.test")


def provision(host):
    repository = host.create_repository(name="ledger", description="Keeps the books", run_id=RUN)
    sha = host.push_files(repository=repository, files=FILES, message="Create ledger", run_id=RUN)
    grant = host.grant_team(repository=repository, team="payments", permission="push")
    for name, wait, reviewers, branch in (("dev", 0, (), ""), ("staging", 0, (), "main"),
                                          ("production", 10, ("payments",), "main")):
        host.create_environment(repository=repository, environment=EnvironmentSpec(
            name=name, wait_timer=wait, reviewer_teams=reviewers, branch_policy=branch,
            reviewer_team_ids={"payments": grant["team_id"]}))
    host.protect_branch(repository=repository, branch="main", required_approvals=1)
    return repository, sha


def test_a_repository_with_three_environments_costs_nine_writes_and_one_read(host, fake_github):
    repository, sha = provision(host)
    assert [(method, path) for method, path, _ in fake_github.calls] == [
        ("POST", "/orgs/acme/repos"),
        ("POST", "/repos/acme/ledger/git/trees"),
        ("POST", "/repos/acme/ledger/git/commits"),
        ("PATCH", "/repos/acme/ledger/git/refs/heads/main"),
        ("GET", "/orgs/acme/teams/payments"),
        ("PUT", "/orgs/acme/teams/payments/repos/acme/ledger"),
        ("PUT", "/repos/acme/ledger/environments/dev"),
        ("PUT", "/repos/acme/ledger/environments/staging"),
        ("PUT", "/repos/acme/ledger/environments/production"),
        ("PUT", "/repos/acme/ledger/branches/main/protection"),
    ]
    assert len(fake_github.write_calls()) == 9 and host.calls == 10
    assert repository.key == "127.0.0.1/acme/ledger"  # host of html_url (github.com in production)
    assert fake_github.files("acme", "ledger") == FILES
    commits = fake_github.commits("acme", "ledger")
    assert len(commits) == 1 and commits[0]["sha"] == sha  # one root commit replaced the initial README
    environments = fake_github.repo("acme", "ledger").environments
    assert (environments["production"].wait_timer, environments["production"].reviewers) == (10, [("Team", 7)])
    assert environments["staging"].deployment_branch_policy == {"protected_branches": True,
                                                                 "custom_branch_policies": False}
    assert environments["dev"].wait_timer == 0 and environments["dev"].reviewers == []
    assert fake_github.team("acme", "payments").repos["acme/ledger"] == "push"


def test_the_file_count_does_not_change_the_call_count(host, fake_github):
    repository = host.create_repository(name="big", description="", run_id=RUN)
    fake_github.reset_calls()
    files = {f"src/module_{n}.py": f"VALUE = {n}\n" for n in range(200)}
    host.push_files(repository=repository, files=files, message="Create big", run_id=RUN)
    assert len(fake_github.write_calls()) == 3
    assert len(fake_github.files("acme", "big")) == 200


def test_a_lost_create_answer_is_recognised_as_this_runs_own_repository(host, fake_github):
    fake_github.apply_then_fail("POST", "/orgs/*/repos")
    with pytest.raises(TransientHostError):
        host.create_repository(name="ledger", description="d", run_id=RUN)
    repository = host.create_repository(name="ledger", description="d", run_id=RUN)  # the step's retry
    assert repository.full_name == "acme/ledger"
    assert [c for c in fake_github.calls if c[0] == "POST"][-1][2] == 422  # GitHub said 'exists'; we checked


def test_a_foreign_repository_of_the_same_name_is_never_touched(host, fake_github):
    other = GitHubHost(api_url=fake_github.api_url, organisation="acme", token=fake_github.token, write_spacing=0,
                       public_url="http://someone-else.test")
    other.create_repository(name="ledger", description="theirs", run_id="another-run")
    before = fake_github.files("acme", "ledger")
    fake_github.reset_calls()
    with pytest.raises(NameTaken, match="left untouched"):
        host.create_repository(name="ledger", description="mine", run_id=RUN)
    assert [method for method, _, _ in fake_github.calls] == ["POST", "GET"]
    assert fake_github.files("acme", "ledger") == before


@pytest.mark.parametrize(
    ("inject", "retry_after"),
    [
        (lambda f: f.secondary_rate_limit("POST", "/orgs/*/repos", retry_after=7), 7.0),
        (lambda f: f.too_many_requests("POST", "/orgs/*/repos", retry_after=3), 3.0),
        (lambda f: f.too_many_requests("POST", "/orgs/*/repos", retry_after=None), 60.0),
        (lambda f: f.secondary_rate_limit("POST", "/orgs/*/repos", retry_after=None), 60.0),
    ],
)
def test_rate_limits_become_waits_that_honour_retry_after(host, fake_github, inject, retry_after):
    inject(fake_github)
    with pytest.raises(TransientHostError) as caught:
        host.create_repository(name="ledger", description="d", run_id=RUN)
    assert caught.value.retry_after == pytest.approx(retry_after, abs=1.5)
    assert host.create_repository(name="ledger", description="d", run_id=RUN).full_name == "acme/ledger"


def test_a_primary_rate_limit_waits_until_the_reset(host, fake_github):
    fake_github.primary_rate_limit("POST", "/orgs/*/repos", reset_in=120)
    with pytest.raises(TransientHostError) as caught:
        host.create_repository(name="ledger", description="d", run_id=RUN)
    assert 100 <= caught.value.retry_after <= 125


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_transient(host, fake_github, status):
    fake_github.fail("POST", "/orgs/*/repos", status=status)
    with pytest.raises(TransientHostError):
        host.create_repository(name="ledger", description="d", run_id=RUN)


def test_a_dropped_connection_is_transient(host, fake_github):
    fake_github.drop_connection("POST", "/orgs/*/repos")
    with pytest.raises(TransientHostError):
        host.create_repository(name="ledger", description="d", run_id=RUN)


def test_a_fresh_repository_answering_404_is_polled_briefly(host, fake_github):
    repository = host.create_repository(name="ledger", description="d", run_id=RUN)
    fake_github.not_found_after_create(calls=2)
    fake_github.fail("POST", "/repos/*/*/git/trees", status=404, times=2)
    host.push_files(repository=repository, files=FILES, message="m", run_id=RUN)
    assert fake_github.files("acme", "ledger") == FILES


def test_a_token_without_workflow_scope_gets_a_plain_explanation(fake_github, monkeypatch):
    # Its 404 looks like a fresh repository's: the host asks 5 times, pausing 0.5 s, 1 s, ... (5 s in all) by
    # default. Every ask still happens, against the fake GitHub; only the pauses shrink.
    monkeypatch.setattr("services.hosts.github.CONSISTENCY_PAUSE", 0.01)
    fake_github.add_token("no-workflow", workflow_scope=False)
    fake_github.add_team("acme", "payments", id=7)
    host = GitHubHost(api_url=fake_github.api_url, organisation="acme", token="no-workflow", write_spacing=0)
    repository = host.create_repository(name="ledger", description="d", run_id=RUN)
    with pytest.raises(PermanentHostError, match="workflow") as caught:
        host.push_files(repository=repository, files=FILES, message="m", run_id=RUN)
    assert "no-workflow" not in str(caught.value)


def test_an_unknown_team_is_a_clear_permanent_error(host):
    repository = host.create_repository(name="ledger", description="d", run_id=RUN)
    with pytest.raises(PermanentHostError, match="no team 'ghosts'"):
        host.grant_team(repository=repository, team="ghosts", permission="push")


def test_bad_credentials_are_permanent_and_the_token_is_not_repeated(fake_github):
    host = GitHubHost(api_url=fake_github.api_url, organisation="acme", token="ghp_" + "x" * 36, write_spacing=0)
    with pytest.raises(PermanentHostError) as caught:
        host.create_repository(name="ledger", description="d", run_id=RUN)
    assert "401" in str(caught.value) and "x" * 36 not in str(caught.value)


def test_environment_rules_without_a_paid_plan_are_explained(host, fake_github):
    fake_github.paid_plan = False
    repository = host.create_repository(name="ledger", description="d", run_id=RUN)
    host.create_environment(repository=repository, environment=EnvironmentSpec(name="dev"))  # no rules: fine
    with pytest.raises(PermanentHostError, match="plan"):
        host.create_environment(repository=repository,
                                environment=EnvironmentSpec(name="production", wait_timer=5))


def test_writes_are_spaced_per_credential_across_host_objects(fake_github):
    import time

    fake_github.add_team("acme", "payments", id=7)
    first = GitHubHost(api_url=fake_github.api_url, organisation="acme", token=fake_github.token, write_spacing=0.3)
    second = GitHubHost(api_url=fake_github.api_url, organisation="acme", token=fake_github.token, write_spacing=0.3)
    started = time.monotonic()
    first.create_repository(name="one", description="", run_id=RUN)
    second.create_repository(name="two", description="", run_id=RUN)
    first.create_repository(name="three", description="", run_id=RUN)
    assert time.monotonic() - started >= 0.6  # three writes, two gaps of 0.3 s


def test_github_app_installation_auth_creates_repositories(fake_github):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    fake_github.add_installation("acme", installation_id=42, app_id=1234, public_key=public)
    host = GitHubHost(api_url=fake_github.api_url, organisation="acme", app_id="1234", private_key=pem,
                      installation_id="42", write_spacing=0)
    assert host.create_repository(name="ledger", description="d", run_id=RUN).full_name == "acme/ledger"
    assert fake_github.installation_tokens()


def test_a_known_team_id_spares_the_lookup_so_a_run_costs_exactly_nine_calls(host, fake_github):
    repository = host.create_repository(name="ledger", description="d", run_id=RUN)
    fake_github.reset_calls()
    assert host.grant_team(repository=repository, team="payments", permission="push", team_id=7) == {"team_id": 7}
    assert [method for method, _, _ in fake_github.calls] == ["PUT"]


def test_the_client_timeout_is_the_setting_and_a_timeout_is_retried_later(fake_github, settings):
    settings.SLIPWAY_GITHUB_TIMEOUT_SECONDS = 1
    settings.SLIPWAY_GITHUB_API_URL, settings.SLIPWAY_GITHUB_ORG = fake_github.api_url, "acme"
    settings.SLIPWAY_GITHUB_TOKEN, settings.SLIPWAY_GITHUB_WRITE_SPACING_SECONDS = fake_github.token, 0
    hung = fake_github.hang("POST", "/orgs/*/repos", seconds=3, times=1)
    host = GitHubHost.from_settings()

    with pytest.raises(TransientHostError, match="GitHub unreachable on POST /orgs/acme/repos: ReadTimeout"):
        host.create_repository(name="ledger", description="Keeps the books", run_id=RUN)
    assert hung.hits == 1
