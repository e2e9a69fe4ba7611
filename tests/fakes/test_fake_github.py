"""The fake GitHub, driven by PyGithub over real HTTP as the provisioning pipeline drives GitHub."""

from __future__ import annotations

import functools
import json
import time
from typing import Any

import pytest
import requests
from github import Auth, Github, GithubException, GithubIntegration, GithubRetry, InputGitTreeElement
from github.EnvironmentDeploymentBranchPolicy import EnvironmentDeploymentBranchPolicyParams
from github.EnvironmentProtectionRuleReviewer import ReviewerParams
from github.GithubException import RateLimitExceededException, UnknownObjectException
from github.Repository import Repository

from tests.fakes.github import FakeGitHub
from tests.fakes.github_git import GitStore

SCAFFOLD = {
    "README.md": "# svc\n\nPayments service.\n",
    "src/svc/__init__.py": "",
    "src/svc/app.py": "def main() -> None:\n    print('hello')\n",
    ".github/workflows/ci.yml": "on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n",
    "catalog-info.yaml": "apiVersion: backstage.io/v1alpha1\nkind: Component\n",
    "CODEOWNERS": "* @acme/payments\n",
}
ENVIRONMENTS = {
    "staging": {"wait_timer": 0, "reviewers": []},
    "production": {"wait_timer": 30, "reviewers": ["Team"]},
    "sandbox": {"wait_timer": 5, "reviewers": ["User"]},
}
PROTECTION = {
    "required_status_checks": {"strict": True, "contexts": ["test"]},
    "enforce_admins": False,
    "required_pull_request_reviews": {
        "required_approving_review_count": 1,
        "require_code_owner_reviews": True,
    },
    "restrictions": None,
}


def client(fake: FakeGitHub, token: str | None = None, **options: Any) -> Github:
    """PyGithub on the fake: lazy objects and no throttling (defaults sleep 0.25 s per call, 1 s per write)."""
    options.setdefault("seconds_between_requests", None)
    options.setdefault("seconds_between_writes", None)
    return Github(base_url=fake.api_url, auth=Auth.Token(token or fake.token), lazy=True, **options)


def push_scaffold(repo: Repository) -> str:
    """Blobs inline in one tree, one root commit, one forced ref update: three writes."""
    elements = [InputGitTreeElement(path, "100644", "blob", content=text) for path, text in SCAFFOLD.items()]
    tree = repo.create_git_tree(elements)
    commit = repo.create_git_commit("Scaffold svc from python-service 1.0", tree, [])
    # Not repo.get_git_ref(...).edit(): it GETs first, and lazily it PATCHes the undocumented /git/ref/ URL.
    repo.requester.requestJsonAndCheck(
        "PATCH", f"{repo.url}/git/refs/heads/main", input={"sha": commit.sha, "force": True}
    )
    return commit.sha


def provision(gh: Github, fake: FakeGitHub, name: str = "svc") -> Repository:
    """The pipeline's writes with no read at all: repository, push, team, three environments, protection."""
    team = fake.add_team("acme", "payments", id=7)
    reviewer = fake.add_user("rita", id=99)
    org = gh.get_organization("acme")
    repo = org.create_repo(name, private=True, auto_init=True, description="Payments service")
    push_scaffold(repo)
    # Before the environments: a team reviewer without access to the repository is dropped.
    # Team.update_team_repository() GETs the team first and returns False on a 422 instead of raising.
    repo.requester.requestJsonAndCheck(
        "PUT", f"{org.url}/teams/payments/repos/{repo.full_name}", input={"permission": "push"}
    )
    ids = {"Team": team.id, "User": reviewer.id}
    for environment, settings in ENVIRONMENTS.items():
        repo.create_environment(
            environment,
            wait_timer=settings["wait_timer"],
            reviewers=[ReviewerParams(kind, ids[kind]) for kind in settings["reviewers"]],
            deployment_branch_policy=EnvironmentDeploymentBranchPolicyParams(protected_branches=True),
        )
    repo.requester.requestJsonAndCheck("PUT", f"{repo.url}/branches/main/protection", input=PROTECTION)
    return repo


# -- the provisioning sequence ---------------------------------------------------------------------


def test_provisioning_sequence_takes_nine_writes_and_no_reads(fake_github: FakeGitHub) -> None:
    provision(client(fake_github), fake_github)

    assert [(call.method, call.path) for call in fake_github.calls] == [
        ("POST", "/orgs/acme/repos"),
        ("POST", "/repos/acme/svc/git/trees"),
        ("POST", "/repos/acme/svc/git/commits"),
        ("PATCH", "/repos/acme/svc/git/refs/heads/main"),
        ("PUT", "/orgs/acme/teams/payments/repos/acme/svc"),
        ("PUT", "/repos/acme/svc/environments/staging"),
        ("PUT", "/repos/acme/svc/environments/production"),
        ("PUT", "/repos/acme/svc/environments/sandbox"),
        ("PUT", "/repos/acme/svc/branches/main/protection"),
    ]
    assert len(fake_github.write_calls()) == 9
    assert {call.status for call in fake_github.calls} <= {200, 201, 204}


def test_pushed_scaffold_replaces_the_initial_readme_in_one_root_commit(fake_github: FakeGitHub) -> None:
    provision(client(fake_github), fake_github)

    assert fake_github.files("acme", "svc") == SCAFFOLD
    history = fake_github.commits("acme", "svc")
    assert [commit["message"] for commit in history] == ["Scaffold svc from python-service 1.0"]
    assert history[0]["parents"] == []


def test_state_after_provisioning_reads_back_through_pygithub(fake_github: FakeGitHub) -> None:
    gh = client(fake_github)
    provision(gh, fake_github)
    fake_github.reset_calls()

    repo = gh.get_repo("acme/svc")
    assert repo.private is True and repo.default_branch == "main"
    assert repo.html_url == f"{fake_github.base_url}/acme/svc"
    assert repo.clone_url == f"{fake_github.base_url}/acme/svc.git"
    tree = repo.get_git_tree("main", recursive=True)
    assert {item.path for item in tree.tree if item.type == "blob"} == set(SCAFFOLD)
    environments = {env.name: env for env in repo.get_environments()}
    assert set(environments) == set(ENVIRONMENTS)
    production_rules = {rule.type: rule for rule in environments["production"].protection_rules}
    assert production_rules["wait_timer"].wait_timer == 30
    assert [reviewer.reviewer.slug for reviewer in production_rules["required_reviewers"].reviewers] == [
        "payments"
    ]
    assert environments["production"].deployment_branch_policy.protected_branches is True
    assert repo.get_environment("sandbox").protection_rules[1].reviewers[0].reviewer.login == "rita"
    protection = repo.get_branch("main").get_protection()
    assert protection.required_status_checks.strict is True
    assert protection.required_pull_request_reviews.required_approving_review_count == 1
    assert fake_github.team("acme", "payments").repos == {"acme/svc": "push"}
    assert fake_github.write_calls() == []


def test_stock_pygithub_objects_add_reads_to_the_sequence(fake_github: FakeGitHub) -> None:
    fake_github.add_team("acme", "payments", id=7)
    gh = Github(
        base_url=fake_github.api_url,
        auth=Auth.Token(fake_github.token),
        seconds_between_requests=None,
        seconds_between_writes=None,
    )
    org = gh.get_organization("acme")  # GET /orgs/acme
    repo = org.create_repo("svc", private=True, auto_init=True)
    elements = [InputGitTreeElement(path, "100644", "blob", content=text) for path, text in SCAFFOLD.items()]
    commit = repo.create_git_commit("Scaffold", repo.create_git_tree(elements), [])
    repo.get_git_ref("heads/main").edit(commit.sha, force=True)  # GET the ref first
    assert org.get_team_by_slug("payments").update_team_repository(repo, "push") is True  # GET the team
    for environment in ENVIRONMENTS:
        repo.create_environment(environment)
    branch = repo.get_branch("main")  # GET the branch (its edit_protection() body breaks the schema: below)
    branch.requester.requestJsonAndCheck("PUT", branch.protection_url, input=PROTECTION)

    reads = [call.path for call in fake_github.calls if call.method == "GET"]
    assert reads == [
        "/orgs/acme",
        "/repos/acme/svc/git/ref/heads/main",
        "/orgs/acme/teams/payments",
        "/repos/acme/svc/branches/main",
    ]
    assert len(fake_github.write_calls()) == 9


def test_lazy_git_ref_edit_patches_an_undocumented_url(fake_github: FakeGitHub) -> None:
    repo = client(fake_github).get_organization("acme").create_repo("svc", auto_init=True)
    head = fake_github.commits("acme", "svc")[0]["sha"]

    with pytest.raises(UnknownObjectException):
        repo.get_git_ref("heads/main").edit(head)  # lazy: PATCH /git/ref/heads/main, not /git/refs/

    assert [violation.kind for violation in fake_github.take_violations()] == ["unknown-operation"]


def test_pygithub_edit_protection_body_breaks_githubs_description(fake_github: FakeGitHub) -> None:
    repo = client(fake_github).get_organization("acme").create_repo("svc", auto_init=True)
    branch = repo.get_branch("main")

    with pytest.raises(GithubException) as raised:
        branch.edit_protection(strict=True, contexts=["test"])

    assert raised.value.status == 422
    [violation] = fake_github.take_violations()
    # It turns contexts into `checks` without the required `contexts`, and sends null for unset booleans.
    assert "required_status_checks: 'contexts' is a required property" in violation.details
    assert "required_linear_history: None for not nullable" in violation.details


# -- faults as PyGithub (default GithubRetry) sees them ---------------------------------------------


def create_repo(gh: Github, name: str = "svc") -> Repository:
    """POST /orgs/acme/repos with auto_init."""
    return gh.get_organization("acme").create_repo(name, auto_init=True)


def update_main(gh: Github, fake: FakeGitHub) -> None:
    """PATCH refs/heads/main to its own head (a no-op fast-forward)."""
    head = fake.commits("acme", "svc")[0]["sha"]
    gh.get_repo("acme/svc").requester.requestJsonAndCheck(
        "PATCH", "/repos/acme/svc/git/refs/heads/main", input={"sha": head}
    )


def statuses(fake: FakeGitHub) -> list[int]:
    """The statuses answered so far."""
    return [call.status for call in fake.calls]


def test_server_error_on_post_is_retried_at_once(fake_github: FakeGitHub) -> None:
    fake_github.fail("POST", "/orgs/*/repos", status=502)

    create_repo(client(fake_github))

    assert statuses(fake_github) == [502, 201]


def test_persistent_server_error_ends_in_requests_retry_error_after_ten_retries(
    fake_github: FakeGitHub,
) -> None:
    fake_github.fail("POST", "/orgs/*/repos", status=500, times=None)

    with pytest.raises(requests.exceptions.RetryError):  # not a GithubException
        create_repo(client(fake_github))

    assert statuses(fake_github) == [500] * 11


def test_server_error_on_patch_is_not_retried(fake_github: FakeGitHub) -> None:
    gh = client(fake_github)
    create_repo(gh)
    fake_github.reset_calls()
    fake_github.fail("PATCH", "/repos/**", status=503)

    with pytest.raises(GithubException) as raised:
        update_main(gh, fake_github)

    assert raised.value.status == 503
    assert statuses(fake_github) == [503]


def test_secondary_rate_limit_with_retry_after_is_waited_out(fake_github: FakeGitHub) -> None:
    fake_github.secondary_rate_limit("POST", "/orgs/*/repos", retry_after=1)

    started = time.monotonic()
    create_repo(client(fake_github))

    assert time.monotonic() - started >= 1.0
    assert statuses(fake_github) == [403, 201]


def test_secondary_rate_limit_without_retry_after_waits_secondary_rate_wait(fake_github: FakeGitHub) -> None:
    fake_github.secondary_rate_limit("POST", "/orgs/*/repos", retry_after=None)

    started = time.monotonic()
    create_repo(client(fake_github, retry=GithubRetry(secondary_rate_wait=0.3)))  # default: 60 s

    assert time.monotonic() - started >= 0.3
    assert statuses(fake_github) == [403, 201]


def test_rate_limits_on_patch_raise_rate_limit_exceeded_with_the_headers(fake_github: FakeGitHub) -> None:
    gh = client(fake_github)
    create_repo(gh)
    fake_github.secondary_rate_limit("PATCH", "/repos/**", retry_after=7)
    fake_github.primary_rate_limit("PATCH", "/repos/**", reset_in=60)

    with pytest.raises(RateLimitExceededException) as secondary:
        update_main(gh, fake_github)
    with pytest.raises(RateLimitExceededException) as primary:
        update_main(gh, fake_github)

    assert secondary.value.headers["retry-after"] == "7"
    assert primary.value.headers["x-ratelimit-remaining"] == "0"
    assert int(primary.value.headers["x-ratelimit-reset"]) >= time.time() + 58


def test_primary_rate_limit_is_waited_out_until_reset(fake_github: FakeGitHub) -> None:
    fake_github.primary_rate_limit("POST", "/orgs/*/repos", reset_in=0)

    create_repo(client(fake_github))  # waits until x-ratelimit-reset + 1 s (here < 1 s)

    assert statuses(fake_github) == [403, 201]


def test_primary_rate_limit_far_away_raises_when_over_max_rate_limit_wait(fake_github: FakeGitHub) -> None:
    from github.GithubException import RateLimitExceededExceedsMaxWait

    fake_github.primary_rate_limit("POST", "/orgs/*/repos", reset_in=3000)

    with pytest.raises(RateLimitExceededExceedsMaxWait):  # the default GithubRetry() sleeps 50 minutes
        create_repo(client(fake_github, retry=GithubRetry(max_rate_limit_wait=30)))


def test_exhausted_hourly_limit_answers_403_with_remaining_zero(fake_github: FakeGitHub) -> None:
    fake_github.rate_limit = 2

    answers = [raw(fake_github, "GET", "/orgs/acme") for _ in range(3)]

    assert [answer.status_code for answer in answers] == [200, 200, 403]
    assert answers[2].json()["message"].startswith("API rate limit exceeded")
    assert answers[2].headers["x-ratelimit-remaining"] == "0"


def test_429_without_retry_after_is_raised_at_once(fake_github: FakeGitHub) -> None:
    fake_github.too_many_requests("POST", "/orgs/*/repos")

    with pytest.raises(GithubException) as raised:
        create_repo(client(fake_github))

    assert raised.value.status == 429
    assert statuses(fake_github) == [429]


def test_429_with_retry_after_is_retried(fake_github: FakeGitHub) -> None:
    fake_github.too_many_requests("POST", "/orgs/*/repos", retry_after=0)

    create_repo(client(fake_github))

    assert statuses(fake_github) == [429, 201]


def test_new_repository_answers_404_for_a_moment(fake_github: FakeGitHub) -> None:
    fake_github.not_found_after_create(calls=2)
    gh = client(fake_github)
    create_repo(gh)

    for _ in range(2):
        with pytest.raises(UnknownObjectException):  # PyGithub does not retry a 404
            gh.get_repo("acme/svc").requester.requestJsonAndCheck("GET", "/repos/acme/svc")
    gh.get_repo("acme/svc").requester.requestJsonAndCheck("GET", "/repos/acme/svc")

    assert statuses(fake_github) == [201, 404, 404, 200]


def test_lost_create_answer_makes_the_retry_see_name_already_exists(fake_github: FakeGitHub) -> None:
    fake_github.apply_then_fail("POST", "/orgs/*/repos", status=502)

    with pytest.raises(GithubException) as raised:
        create_repo(client(fake_github))

    assert statuses(fake_github) == [502, 422]
    assert raised.value.status == 422
    assert raised.value.data["errors"] == [
        {
            "resource": "Repository",
            "code": "custom",
            "field": "name",
            "message": "name already exists on this account",
        }
    ]
    assert fake_github.repo("acme", "svc").created_by == fake_github.login  # made by this very client


def test_connection_reset_on_post_is_retried(fake_github: FakeGitHub) -> None:
    fake_github.drop_connection("POST", "/orgs/*/repos")

    create_repo(client(fake_github))

    assert statuses(fake_github) == [0, 201]


def test_connection_reset_after_apply_also_collides_with_itself(fake_github: FakeGitHub) -> None:
    fake_github.apply_then_fail("POST", "/orgs/*/repos", drop=True)

    with pytest.raises(GithubException) as raised:
        create_repo(client(fake_github))

    assert raised.value.status == 422
    assert statuses(fake_github) == [0, 422]


def test_connection_reset_on_patch_raises_requests_connection_error(fake_github: FakeGitHub) -> None:
    gh = client(fake_github)
    create_repo(gh)
    fake_github.reset_calls()
    fake_github.drop_connection("PATCH", "/repos/**")

    with pytest.raises(requests.exceptions.ConnectionError):
        update_main(gh, fake_github)

    assert statuses(fake_github) == [0]


def test_read_timeout_on_post_is_retried(fake_github: FakeGitHub) -> None:
    fake_github.hang("POST", "/orgs/*/repos", seconds=5)

    create_repo(client(fake_github, timeout=1))  # PyGithub takes whole seconds only

    assert statuses(fake_github) == [0, 201]
    assert fake_github.has_repo("acme", "svc")


def test_latency_is_added_to_every_matching_call(fake_github: FakeGitHub) -> None:
    gh = client(fake_github)
    create_repo(gh)
    rule = fake_github.add_latency(0.1, "GET", "/repos/*/*")

    started = time.monotonic()
    for _ in range(3):
        gh.get_repo("acme/svc").requester.requestJsonAndCheck("GET", "/repos/acme/svc")

    assert time.monotonic() - started >= 0.3
    assert rule.hits == 3


# -- authentication --------------------------------------------------------------------------------


def test_unknown_token_gets_401_bad_credentials(fake_github: FakeGitHub) -> None:
    from github.GithubException import BadCredentialsException

    with pytest.raises(BadCredentialsException):
        create_repo(client(fake_github, token="ghp_not_a_known_token"))

    assert fake_github.calls == [("POST", "/orgs/acme/repos", 401)]
    assert not fake_github.has_repo("acme", "svc")


def test_token_without_workflow_scope_gets_404_writing_a_workflow(fake_github: FakeGitHub) -> None:
    fake_github.add_token("ghp_no_workflow_scope", workflow_scope=False)
    repo = create_repo(client(fake_github, token="ghp_no_workflow_scope"))
    workflow = InputGitTreeElement(".github/workflows/ci.yml", "100644", "blob", content="on: push\n")
    readme = InputGitTreeElement("README.md", "100644", "blob", content="# svc\n")

    with pytest.raises(UnknownObjectException):
        repo.create_git_tree([readme, workflow])
    repo.create_git_tree([readme])  # the same token writes anything else


@functools.cache
def rsa_key(name: str = "app") -> tuple[str, bytes]:
    """An RSA key per name, made once per session: (private PEM, public PEM)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


def test_github_app_installation_token_creates_repositories(fake_github: FakeGitHub) -> None:
    private, public = rsa_key()
    fake_github.add_installation("acme", installation_id=77, app_id=4242, public_key=public)
    app = Auth.AppAuth(4242, private)

    installation_id = (
        GithubIntegration(auth=app, base_url=fake_github.api_url).get_org_installation("acme").id
    )
    gh = Github(
        auth=app.get_installation_auth(installation_id),
        base_url=fake_github.api_url,
        lazy=True,
        seconds_between_requests=None,
        seconds_between_writes=None,
    )
    create_repo(gh)

    assert fake_github.calls == [
        ("GET", "/orgs/acme/installation", 200),
        ("POST", "/app/installations/77/access_tokens", 201),
        ("POST", "/orgs/acme/repos", 201),
    ]
    assert fake_github.requests[-1].login == "slipway[bot]"
    with pytest.raises(GithubException) as raised:
        gh.get_user().login  # noqa: B018 - installation tokens have no user
    assert raised.value.status == 403


def test_jwt_signed_with_another_key_gets_401(fake_github: FakeGitHub) -> None:
    _, public = rsa_key()
    other_private, _ = rsa_key("another app")
    fake_github.add_installation("acme", app_id=4242, public_key=public)

    with pytest.raises(GithubException) as raised:
        GithubIntegration(
            auth=Auth.AppAuth(4242, other_private), base_url=fake_github.api_url
        ).get_org_installation("acme")

    assert raised.value.status == 401


def test_expired_installation_token_gets_401(fake_github: FakeGitHub) -> None:
    private, public = rsa_key()
    fake_github.add_installation("acme", installation_id=77, app_id=4242, public_key=public)
    token = GithubIntegration(
        auth=Auth.AppAuth(4242, private), base_url=fake_github.api_url
    ).get_access_token(77)
    fake_github.expire_token(token.token)

    with pytest.raises(GithubException) as raised:
        create_repo(client(fake_github, token=token.token))

    assert raised.value.status == 401


# -- git semantics ---------------------------------------------------------------------------------


def test_objects_are_hashed_exactly_as_git_hashes_them() -> None:
    store = GitStore()

    assert store.put_blob(b"hello\n") == "ce013625030ba8dba906f756967f9e9ca394464a"  # git hash-object
    tree = store.create_tree(
        [{"path": "README.md", "mode": "100644", "type": "blob", "content": "hello\n"}], None
    )
    assert tree == "853694aae8816094a0d875fee7ea26278dbf5d0f"  # git write-tree


def test_git_data_on_an_empty_repository_answers_409(fake_github: FakeGitHub) -> None:
    repo = client(fake_github).get_organization("acme").create_repo("svc")  # no auto_init

    with pytest.raises(GithubException) as raised:
        repo.create_git_tree([InputGitTreeElement("README.md", "100644", "blob", content="# svc\n")])

    assert (raised.value.status, raised.value.data["message"]) == (409, "Git Repository is empty.")


def test_ref_update_that_is_not_a_fast_forward_needs_force(fake_github: FakeGitHub) -> None:
    repo = create_repo(client(fake_github))
    tree = repo.create_git_tree([InputGitTreeElement("a.txt", "100644", "blob", content="a")])
    root = repo.create_git_commit("Unrelated root", tree, [])

    with pytest.raises(GithubException) as raised:
        repo.requester.requestJsonAndCheck(
            "PATCH", f"{repo.url}/git/refs/heads/main", input={"sha": root.sha}
        )

    assert (raised.value.status, raised.value.data["message"]) == (422, "Update is not a fast forward")


def test_force_push_to_a_protected_branch_is_refused(fake_github: FakeGitHub) -> None:
    gh = client(fake_github)
    repo = provision(gh, fake_github)
    tree = repo.create_git_tree([InputGitTreeElement("a.txt", "100644", "blob", content="a")])
    root = repo.create_git_commit("Unrelated root", tree, [])

    with pytest.raises(GithubException) as raised:
        repo.requester.requestJsonAndCheck(
            "PATCH", f"{repo.url}/git/refs/heads/main", input={"sha": root.sha, "force": True}
        )

    assert (raised.value.status, raised.value.data["message"]) == (422, "Cannot force-push to this branch")


def test_blobs_base_tree_and_deletions_make_a_fast_forward_commit(fake_github: FakeGitHub) -> None:
    gh = client(fake_github)
    repo = create_repo(gh)
    head = repo.get_git_commit(fake_github.commits("acme", "svc")[0]["sha"])
    blob = repo.create_git_blob("print('hi')\n", "utf-8")
    tree = repo.create_git_tree(
        [
            InputGitTreeElement("src/app.py", "100755", "blob", sha=blob.sha),
            InputGitTreeElement("docs/index.md", "100644", "blob", content="# Docs\n"),
            InputGitTreeElement("README.md", "100644", "blob", sha=None),  # deletes
        ],
        base_tree=head.tree,
    )
    commit = repo.create_git_commit("Second", tree, [head])
    repo.requester.requestJsonAndCheck("PATCH", f"{repo.url}/git/refs/heads/main", input={"sha": commit.sha})

    assert fake_github.files("acme", "svc") == {"src/app.py": "print('hi')\n", "docs/index.md": "# Docs\n"}
    assert [c["message"] for c in fake_github.commits("acme", "svc")] == ["Second", "Initial commit"]
    listed = repo.get_git_tree(commit.tree.sha, recursive=True).tree
    assert [(item.path, item.type) for item in listed] == [
        ("docs", "tree"),
        ("docs/index.md", "blob"),
        ("src", "tree"),
        ("src/app.py", "blob"),
    ]
    assert repo.get_git_ref("heads/main").object.sha == commit.sha
    assert repo.create_git_ref("refs/heads/feature", head.sha).ref == "refs/heads/feature"
    with pytest.raises(GithubException) as raised:
        repo.create_git_ref("refs/heads/feature", head.sha)
    assert raised.value.data["message"] == "Reference already exists"


# -- teams, environments, repositories -------------------------------------------------------------


def test_team_grant_errors(fake_github: FakeGitHub) -> None:
    gh = client(fake_github)
    repo = create_repo(gh)
    fake_github.add_team("acme", "payments", id=7)
    org = gh.get_organization("acme")

    with pytest.raises(UnknownObjectException):
        repo.requester.requestJsonAndCheck(
            "PUT", "/orgs/acme/teams/nobody/repos/acme/svc", input={"permission": "push"}
        )
    with pytest.raises(GithubException) as raised:
        repo.requester.requestJsonAndCheck(
            "PUT", "/orgs/acme/teams/payments/repos/acme/svc", input={"permission": "write"}
        )
    assert raised.value.status == 422
    assert org.get_team_by_slug("payments").update_team_repository(repo, "write") is False  # swallows the 422
    assert fake_github.team("acme", "payments").repos == {}


def test_team_url_answered_by_github_is_followed_to_the_same_operation(fake_github: FakeGitHub) -> None:
    gh = client(fake_github)
    repo = create_repo(gh)
    fake_github.add_team("acme", "payments", id=7, permission="push")
    team = gh.get_organization("acme").get_team_by_slug("payments")
    team.complete()  # GET /orgs/acme/teams/payments: its `url` is the /organizations/... form

    team.add_to_repos(repo)  # PUT {team.url}/repos/acme/svc, team.url as GitHub answers it

    assert team.url.endswith("/organizations/1002/team/7")
    assert fake_github.calls[-1] == ("PUT", "/organizations/1002/team/7/repos/acme/svc", 204)
    assert fake_github.team("acme", "payments").repos == {"acme/svc": "push"}


def test_users_and_organizations_read_back(fake_github: FakeGitHub) -> None:
    gh = client(fake_github)
    fake_github.add_user("rita", id=99, name="Rita")

    assert gh.get_user().login == fake_github.login
    assert gh.get_user("rita").name == "Rita"
    assert gh.get_organization("acme").name == "acme"
    with pytest.raises(UnknownObjectException):
        gh.get_organization("nobody").name  # noqa: B018 - completes the lazy object

    assert [call.path for call in fake_github.calls] == ["/user", "/users/rita", "/orgs/acme", "/orgs/nobody"]


def test_team_reviewer_without_repository_access_is_dropped(fake_github: FakeGitHub) -> None:
    repo = create_repo(client(fake_github))
    team = fake_github.add_team("acme", "payments", id=7)

    environment = repo.create_environment("production", reviewers=[ReviewerParams("Team", team.id)])

    assert environment.protection_rules == []
    assert fake_github.repo("acme", "svc").environments["production"].reviewers == []


def test_private_repository_without_paid_plan_refuses_protection(fake_github: FakeGitHub) -> None:
    fake_github.paid_plan = False
    repo = client(fake_github).get_organization("acme").create_repo("svc", private=True, auto_init=True)

    with pytest.raises(GithubException) as environment:
        repo.create_environment("production")  # PyGithub always sends wait_timer, reviewers...
    with pytest.raises(GithubException) as protection:
        repo.requester.requestJsonAndCheck("PUT", f"{repo.url}/branches/main/protection", input=PROTECTION)

    assert (environment.value.status, protection.value.status) == (422, 403)


def test_custom_branch_policy_needs_custom_policies_enabled(fake_github: FakeGitHub) -> None:
    repo = create_repo(client(fake_github))
    url = f"{repo.url}/environments/production/deployment-branch-policies"
    repo.create_environment(
        "production", deployment_branch_policy=EnvironmentDeploymentBranchPolicyParams(True)
    )

    with pytest.raises(UnknownObjectException):
        repo.requester.requestJsonAndCheck("POST", url, input={"name": "release/*"})
    repo.create_environment(
        "production", deployment_branch_policy=EnvironmentDeploymentBranchPolicyParams(False, True)
    )
    _, policy = repo.requester.requestJsonAndCheck("POST", url, input={"name": "release/*", "type": "branch"})

    assert policy["name"] == "release/*"
    assert (
        fake_github.repo("acme", "svc").environments["production"].branch_policies[0]["name"] == "release/*"
    )


def test_taken_name_answers_422_and_user_repositories_belong_to_the_token_owner(
    fake_github: FakeGitHub,
) -> None:
    gh = client(fake_github)
    create_repo(gh)

    with pytest.raises(GithubException) as raised:
        create_repo(gh, "SVC")  # names are case-insensitive
    mine = gh.get_user().create_repo("notes")

    assert raised.value.data["message"] == "Repository creation failed."
    assert mine.full_name == f"{fake_github.login}/notes"


def test_repository_update_and_delete(fake_github: FakeGitHub) -> None:
    gh = client(fake_github)
    repo = create_repo(gh)

    repo.edit(description="Renamed", private=True)
    assert gh.get_repo("acme/svc").description == "Renamed"
    repo.delete()

    assert not fake_github.has_repo("acme", "svc")
    with pytest.raises(UnknownObjectException):
        gh.get_repo("acme/svc").requester.requestJsonAndCheck("GET", "/repos/acme/svc")


def test_concurrent_creates_of_one_name_succeed_once(fake_github: FakeGitHub) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def attempt(_: int) -> int:
        try:
            create_repo(client(fake_github), "race")
        except GithubException as error:
            return error.status
        return 201

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = sorted(pool.map(attempt, range(8)))

    assert results == [201] + [422] * 7


# -- honesty: GitHub's description is enforced -----------------------------------------------------


def raw(fake: FakeGitHub, method: str, path: str, body: Any = None, **headers: str) -> requests.Response:
    """A request by hand, with the fake's token."""
    headers.setdefault("Authorization", f"token {fake.token}")
    data = body if isinstance(body, bytes) else None if body is None else json.dumps(body).encode()
    return requests.request(method, fake.api_url + path, data=data, headers=headers, timeout=5)


def test_schema_invalid_request_is_answered_422_and_recorded(fake_github: FakeGitHub) -> None:
    create_repo(client(fake_github))

    answer = raw(fake_github, "PUT", "/repos/acme/svc/environments/production", {"wait_timer": "soon"})

    assert answer.status_code == 422
    assert answer.json()["message"].startswith("Invalid request.")
    assert "production" not in fake_github.repo("acme", "svc").environments
    with pytest.raises(AssertionError, match="wait_timer: 'soon' is not of type 'integer'"):
        fake_github.assert_no_violations()
    assert [violation.kind for violation in fake_github.take_violations()] == ["request"]


def test_malformed_json_and_undescribed_operations_are_recorded(fake_github: FakeGitHub) -> None:
    create_repo(client(fake_github))

    assert raw(fake_github, "PATCH", "/repos/acme/svc", b"{not json").status_code == 400
    assert raw(fake_github, "GET", "/repos/acme/svc/hooks").status_code == 404  # only POST is described
    assert raw(fake_github, "GET", "/repos/acme/svc/issues").status_code == 404  # not in the subset
    assert (
        raw(fake_github, "PUT", "/repos/acme/svc/topics", {"names": ["x"]}).status_code == 404
    )  # no handler

    kinds = [violation.kind for violation in fake_github.take_violations()]
    assert kinds == ["request", "unknown-operation", "unknown-operation", "unimplemented"]


def test_fake_answers_are_validated_too(fake_github: FakeGitHub) -> None:
    from tests.fakes.github import Reply

    fake_github._handlers[("GET", "/orgs/{org}")] = lambda context: Reply(200, {"login": "acme"})

    raw(fake_github, "GET", "/orgs/acme")

    [violation] = fake_github.take_violations()
    assert violation.kind == "response" and "'url' is a required property" in str(violation)


def test_fixture_fails_the_test_at_teardown_on_a_violation() -> None:
    from tests.fakes.github import running_fake_github

    steps = running_fake_github()  # the body of the `fake_github` fixture
    fake = next(steps)
    raw(fake, "POST", "/orgs/acme/repos", {"name": 7})

    with pytest.raises(AssertionError, match="GitHub schema violations"):
        next(steps)


def test_answers_carry_rate_limit_headers_and_urls_of_the_host_asked(fake_github: FakeGitHub) -> None:
    create_repo(client(fake_github))

    first = raw(fake_github, "GET", "/repos/acme/svc", Host=f"localhost:{fake_github.port}")
    second = raw(fake_github, "GET", "/repos/acme/svc")
    overview = client(fake_github).get_rate_limit()

    assert first.json()["url"] == f"http://localhost:{fake_github.port}/api/v3/repos/acme/svc"
    assert first.json()["owner"]["url"] == f"http://localhost:{fake_github.port}/api/v3/users/acme"
    assert first.headers["x-ratelimit-limit"] == "5000"
    assert int(second.headers["x-ratelimit-used"]) == int(first.headers["x-ratelimit-used"]) + 1
    assert int(second.headers["x-ratelimit-remaining"]) == 5000 - int(second.headers["x-ratelimit-used"])
    assert second.headers["x-ratelimit-resource"] == "core"
    assert overview.resources.core.remaining == int(second.headers["x-ratelimit-remaining"])  # not counted


def test_openapi_subset_is_a_valid_description() -> None:
    from openapi_spec_validator import validate

    from tests.fakes.github_schema import spec

    validate(spec())
