"""The GitHub host, through PyGithub (the only module that imports it).

A run costs 9 calls for a repository with 3 environments, whatever the number of files: create
the repository (auto_init), one tree with every file inline, one root commit, force-update the
branch, grant the team, one PUT per environment, protect the branch. A team's first run adds one
GET for the team's id (environment reviewers are named by id), which the catalog then keeps. Calls go through PyGithub's requester so no
object is fetched that we do not need.

PyGithub's own retries are off: a blind retry of a POST can create twice, and its rate-limit waits
would hold a worker for up to an hour. Faults become TransientHostError (the runner reschedules the
step, honouring Retry-After and x-ratelimit-reset) or PermanentHostError with a plain reason.

Every write first takes a slot from services/hosts/budget.py: spaced per credential and
within a rolling-hour budget (SLIPWAY_GITHUB_WRITES_PER_HOUR) across every worker process. A slot more
than SLIPWAY_GITHUB_WRITE_MAX_SLEEP_SECONDS away raises WriteSlotDeferred (transient) instead of
holding the worker: the runner resumes the step at that time.
"""

from __future__ import annotations

import base64
import logging
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import requests
from django.conf import settings
from github import Auth, Github, GithubException

from services.hosts.base import (
    MAX_READ_BYTES,
    EnvironmentSpec,
    FileRead,
    NameTaken,
    PermanentHostError,
    Repository,
    RepositoryListing,
    RepositoryPage,
    TransientHostError,
    checked_repository_path,
)
from services.hosts.budget import credential_key, throttle_wait
from services.hosts.repository_keys import normalize_repository
from services.hosts.secrets import redact

logger = logging.getLogger(__name__)

CONSISTENCY_TRIES = 5
CONSISTENCY_PAUSE = 0.5
WORKFLOW_HINT = (
    "GitHub answers 404 when a token lacks the 'workflow' scope (or a GitHub App lacks 'Workflows: write') "
    "and the files include .github/workflows/: give the credential that permission"
)


def _header(headers: dict[str, Any] | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name:
            return str(value)
    return None


def _message(error: GithubException) -> str:
    data = error.data if isinstance(error.data, dict) else {}
    message = str(data.get("message") or error.data or "")
    details = [str(e.get("message") or e.get("code") or e) for e in data.get("errors", []) if e]
    return redact(f"GitHub answered {error.status}: {message}" + (f" ({'; '.join(details)})" if details else ""))


def rate_limit_delay(error: GithubException, *, now: float | None = None) -> float | None:
    """Seconds to wait for a 403/429 that is a rate limit (Retry-After, else x-ratelimit-reset,
    else 60), or None when the 403 is a real refusal."""
    headers = error.headers or {}
    retry_after = _header(headers, "retry-after")
    remaining = _header(headers, "x-ratelimit-remaining")
    text = str(error.data).lower()
    limited = error.status == 429 or retry_after is not None or remaining == "0" or "rate limit" in text
    if not limited:
        return None
    if retry_after is not None:
        try:
            return max(float(retry_after), 1.0)
        except ValueError:
            pass
    reset = _header(headers, "x-ratelimit-reset")
    if remaining == "0" and reset is not None:
        try:
            return max(float(reset) - (now or time.time()), 1.0) + 1.0
        except ValueError:
            pass
    return 60.0


class GitHubHost:
    """Repositories under an organisation (or the token's user) on github.com or GitHub Enterprise."""

    name = "github"

    def __init__(self, *, api_url: str, organisation: str, token: str = "", app_id: str = "",
                 private_key: str = "", installation_id: str = "", write_spacing: float = 1.0,
                 writes_per_hour: int = 450, write_max_sleep: float = 30.0,
                 public_url: str = "", timeout: int = 15) -> None:
        if token:
            auth: Auth.Auth = Auth.Token(token)
            key = credential_key("token", token)
        elif app_id and private_key and installation_id:
            auth = Auth.AppAuth(app_id, private_key).get_installation_auth(int(installation_id))
            key = credential_key("app", app_id, installation_id)
        else:
            raise PermanentHostError("GitHub is not configured: set SLIPWAY_GITHUB_TOKEN, or SLIPWAY_GITHUB_APP_ID, "
                                     "SLIPWAY_GITHUB_APP_PRIVATE_KEY and SLIPWAY_GITHUB_INSTALLATION_ID")
        self.github = Github(base_url=api_url.rstrip("/"), auth=auth, timeout=timeout, retry=0, lazy=True,
                             seconds_between_requests=None, seconds_between_writes=None,
                             user_agent="Slipway")
        self.requester = self.github.requester
        self.organisation = organisation
        self.throttle_key = key
        self.write_spacing = write_spacing
        self.writes_per_hour = writes_per_hour
        self.write_max_sleep = write_max_sleep
        self.public_url = public_url.rstrip("/")
        self.calls = 0
        self.team_ids: dict[str, int] = {}
        self._owner_login = organisation

    @classmethod
    def from_settings(cls) -> GitHubHost:
        return cls(
            api_url=settings.SLIPWAY_GITHUB_API_URL, organisation=settings.SLIPWAY_GITHUB_ORG,
            token=settings.SLIPWAY_GITHUB_TOKEN, app_id=settings.SLIPWAY_GITHUB_APP_ID,
            private_key=settings.SLIPWAY_GITHUB_APP_PRIVATE_KEY,
            installation_id=settings.SLIPWAY_GITHUB_INSTALLATION_ID,
            write_spacing=settings.SLIPWAY_GITHUB_WRITE_SPACING_SECONDS,
            writes_per_hour=settings.SLIPWAY_GITHUB_WRITES_PER_HOUR,
            write_max_sleep=settings.SLIPWAY_GITHUB_WRITE_MAX_SLEEP_SECONDS, public_url=settings.SLIPWAY_PUBLIC_URL,
            timeout=settings.SLIPWAY_GITHUB_TIMEOUT_SECONDS,
        )

    # -- transport -------------------------------------------------------------------------------

    def _call(self, verb: str, path: str, body: Any = None, *, parameters: dict[str, Any] | None = None,
              headers: dict[str, str] | None = None) -> tuple[dict[str, Any], Any]:
        """One request through PyGithub's requester: writes paced per credential (spacing and hourly
        budget; WriteSlotDeferred when the next slot is far), faults classified."""
        if verb != "GET":
            throttle_wait(self.throttle_key, self.write_spacing, per_hour=self.writes_per_hour,
                          max_sleep=self.write_max_sleep)
        self.calls += 1
        try:
            return self.requester.requestJsonAndCheck(verb, path, parameters=parameters, headers=headers, input=body)
        except GithubException as error:
            status = error.status
            if status in (403, 429):
                delay = rate_limit_delay(error)
                if delay is not None:
                    raise TransientHostError(f"GitHub rate limit on {verb} {path}; waiting {delay:.0f} s",
                                             retry_after=delay) from None
            if status >= 500:
                raise TransientHostError(_message(error)) from None
            raise
        except (requests.exceptions.RequestException, OSError) as error:
            raise TransientHostError(redact(f"GitHub unreachable on {verb} {path}: {type(error).__name__}")) from None

    def _eventually(self, call: Callable[[], Any], what: str) -> Any:
        """A fresh repository can answer 404 (or 409 'empty') for a moment: poll briefly."""
        for attempt in range(CONSISTENCY_TRIES):
            try:
                return call()
            except GithubException as error:
                if error.status not in (404, 409) or attempt == CONSISTENCY_TRIES - 1:
                    raise
                logger.info("github.not_ready", extra={"what": what, "status": error.status})
                time.sleep(CONSISTENCY_PAUSE * (attempt + 1))
        raise AssertionError("unreachable")

    def _repository(self, data: dict[str, Any]) -> Repository:
        return Repository(key=normalize_repository(data["html_url"]), full_name=data["full_name"],
                          web_url=data["html_url"], clone_url=data["clone_url"],
                          default_branch=data.get("default_branch") or "main")

    def marker(self, run_id: str) -> str:
        """The homepage a run gives its repository: how a retry recognises its own creation."""
        return f"{self.public_url or 'https://slipway.invalid'}/runs/{run_id}/"

    # -- the protocol ------------------------------------------------------------------------------

    def repository_taken(self, *, name: str) -> bool:
        """One GET of the repository in the organisation (a read: the write budget is not spent)."""
        return self._find(name) is not None

    def create_repository(self, *, name: str, description: str, run_id: str) -> Repository:
        """Create the repository with an initial commit, or find the one this run created before."""
        body = {"name": name, "description": description, "homepage": self.marker(run_id), "private": True,
                "auto_init": True, "has_wiki": False}
        path = f"/orgs/{self.organisation}/repos" if self.organisation else "/user/repos"
        try:
            _, data = self._call("POST", path, body)
            return self._repository(data)
        except GithubException as error:
            if error.status != 422:
                raise PermanentHostError(_message(error)) from None
            existing = self._find(name)
            if existing is not None and existing.get("homepage") == self.marker(run_id):
                logger.info("github.repo_found_ours", extra={"repo": existing["full_name"]})
                return self._repository(existing)
            raise NameTaken(f"A repository named {self.organisation or 'your account'}/{name} already exists on "
                            "GitHub and was not created by this run; it was left untouched. Choose another "
                            "service name.") from None

    def _find(self, name: str) -> dict[str, Any] | None:
        owner = self.organisation or self._user_login()
        try:
            return self._call("GET", f"/repos/{owner}/{name}")[1]
        except GithubException as error:
            if error.status == 404:
                return None
            raise PermanentHostError(_message(error)) from None

    def _user_login(self) -> str:
        return self._call("GET", "/user")[1]["login"]

    def push_files(self, *, repository: Repository, files: dict[str, str], message: str, run_id: str) -> str:
        """One tree with every file inline, one root commit, the branch force-moved to it."""
        base = f"/repos/{repository.full_name}"
        tree_entries = [{"path": path, "mode": "100755" if text.startswith("#!") else "100644", "type": "blob",
                         "content": text} for path, text in sorted(files.items())]
        try:
            _, tree = self._eventually(lambda: self._call("POST", f"{base}/git/trees", {"tree": tree_entries}),
                                       "git tree")
            _, commit = self._call("POST", f"{base}/git/commits", {
                "message": f"{message}\n\nSlipway-Run: {run_id}", "tree": tree["sha"], "parents": []})
            self._call("PATCH", f"{base}/git/refs/heads/{repository.default_branch}",
                       {"sha": commit["sha"], "force": True})
        except GithubException as error:
            if error.status == 404 and any(p.startswith(".github/workflows/") for p in files):
                raise PermanentHostError(f"{_message(error)}. {WORKFLOW_HINT}") from None
            raise PermanentHostError(_message(error)) from None
        return commit["sha"]

    def _team_id(self, slug: str) -> int:
        if slug not in self.team_ids:
            try:
                _, team = self._call("GET", f"/orgs/{self.organisation}/teams/{slug}")
            except GithubException as error:
                if error.status == 404:
                    raise PermanentHostError(f"GitHub has no team '{slug}' in {self.organisation}: set the "
                                             "team's GitHub team slug in the catalog") from None
                raise PermanentHostError(_message(error)) from None
            self.team_ids[slug] = int(team["id"])
        return self.team_ids[slug]

    def grant_team(self, *, repository: Repository, team: str, permission: str,
                   team_id: int | None = None) -> dict[str, Any]:
        """Give the team access (an organisation repository only); answers the team's id, looked up
        unless the caller knows it already."""
        if not self.organisation:
            return {"skipped": "repositories owned by a user have no teams"}
        if team_id:
            self.team_ids[team] = team_id
        team_id = self._team_id(team)
        try:
            self._call("PUT", f"/orgs/{self.organisation}/teams/{team}/repos/{repository.full_name}",
                       {"permission": permission})
        except GithubException as error:
            raise PermanentHostError(_message(error)) from None
        return {"team_id": team_id}

    def create_environment(self, *, repository: Repository, environment: EnvironmentSpec) -> None:
        """Create or update the environment with only the rules it has (rules need a paid plan on
        private repositories: an environment without rules works everywhere)."""
        body: dict[str, Any] = {}
        if environment.wait_timer:
            body["wait_timer"] = environment.wait_timer
        if environment.reviewer_teams and self.organisation:
            ids = {**self.team_ids, **environment.reviewer_team_ids}
            body["reviewers"] = [{"type": "Team", "id": ids.get(slug) or self._team_id(slug)}
                                 for slug in environment.reviewer_teams]
        if environment.branch_policy:
            # Only protected branches deploy; the default branch is protected by this run.
            body["deployment_branch_policy"] = {"protected_branches": True, "custom_branch_policies": False}
        try:
            self._call("PUT", f"/repos/{repository.full_name}/environments/{environment.name}", body)
        except GithubException as error:
            hint = (" — environment protection rules on a private repository need a GitHub plan that has them"
                    if error.status == 422 and body else "")
            raise PermanentHostError(_message(error) + hint) from None

    def protect_branch(self, *, repository: Repository, branch: str, required_approvals: int) -> None:
        """Require reviewed pull requests (code owners included) on the default branch."""
        body = {
            "required_status_checks": None,
            "enforce_admins": False,
            "required_pull_request_reviews": {"required_approving_review_count": required_approvals,
                                              "require_code_owner_reviews": True, "dismiss_stale_reviews": True},
            "restrictions": None,
        }
        try:
            self._call("PUT", f"/repos/{repository.full_name}/branches/{branch}/protection", body)
        except GithubException as error:
            hint = (" — branch protection on a private repository needs a GitHub plan that has it"
                    if error.status == 403 else "")
            raise PermanentHostError(_message(error) + hint) from None

    # -- reads for the catalog's sync ---------------------------------------------------------------

    def read_file(self, *, full_name: str, path: str, ref: str = "", etag: str = "") -> FileRead:
        """GET …/contents/{path} with If-None-Match: an unchanged file costs a 304, which GitHub does not
        count against the rate limit. The ETag is kept as GitHub sent it (quotes included)."""
        path = checked_repository_path(path)
        owner, name = _owner_and_name(full_name)
        headers = {"If-None-Match": etag} if etag else None
        try:
            answer_headers, data = self._call("GET", f"/repos/{owner}/{name}/contents/{quote(path)}",
                                              parameters={"ref": ref} if ref else None, headers=headers)
        except GithubException as error:
            if error.status == 404:
                where = f" at {ref}" if ref else ""
                return FileRead("missing", error=f"{path} is not in {owner}/{name}{where} (or the repository is "
                                                 "not visible to Slipway's GitHub credential)")
            raise PermanentHostError(_message(error)) from None
        if data is None and etag:
            return FileRead("unchanged", etag=etag)
        if not isinstance(data, dict) or data.get("type") != "file":
            return FileRead("missing", error=f"{path} in {owner}/{name} is not a file")
        if int(data.get("size") or 0) > MAX_READ_BYTES:
            raise PermanentHostError(f"{path} is larger than {MAX_READ_BYTES:,} bytes")
        try:
            text = base64.b64decode(data.get("content") or "").decode("utf-8-sig")
        except (ValueError, UnicodeDecodeError):
            raise PermanentHostError(f"{path} in {owner}/{name} is not UTF-8 text") from None
        return FileRead("read", text=text, etag=_header(answer_headers, "etag") or "")

    def list_repositories(self, *, organisation: str, known: list[tuple[str, int]]) -> list[RepositoryPage]:
        """Every repository of the organisation, 100 a page, in name order (so a new repository changes
        the pages after it, not all of them); each page asked with the ETag it had, a 304 (uncounted)
        answered as `unchanged` with no repositories: the caller keeps what it had for that page.

        `known` is each page's ETag and number of repositories, as last listed. A 304 carries no Link
        header, so after an unchanged page the next is asked while pages were known beyond it, and after
        the last known one only if it was full (a new repository may have started a page)."""
        if not _SEGMENT.match(organisation or ""):
            raise PermanentHostError(f"{organisation[:100]!r} is not an organisation name")
        pages: list[RepositoryPage] = []
        page = 1
        while page <= MAX_REPOSITORY_PAGES:
            etag = known[page - 1][0] if page - 1 < len(known) else ""
            try:
                answer_headers, data = self._call(
                    "GET", f"/orgs/{organisation}/repos",
                    parameters={"per_page": 100, "page": page, "sort": "full_name", "direction": "asc"},
                    headers={"If-None-Match": etag} if etag else None)
            except GithubException as error:
                if error.status == 404:
                    raise PermanentHostError(f"GitHub has no organisation '{organisation}' visible to Slipway's "
                                             "credential") from None
                raise PermanentHostError(_message(error)) from None
            link = _header(answer_headers, "link") or ""
            if data is None and etag:
                pages.append(RepositoryPage(etag=etag, unchanged=True, repositories=[]))
                if page == len(known) and known[page - 1][1] < 100:
                    break  # the last page, not full: nothing can follow it
                page += 1
                continue
            if not data and page > 1:
                break  # past the last page (asked after an unchanged last page)
            pages.append(RepositoryPage(
                etag=_header(answer_headers, "etag") or "", unchanged=False,
                repositories=[RepositoryListing(full_name=item["full_name"], archived=bool(item.get("archived")),
                                                pushed_at=str(item.get("pushed_at") or ""),
                                                default_branch=item.get("default_branch") or "main")
                              for item in data or []]))
            if 'rel="next"' not in link:
                break
            page += 1
        else:
            raise PermanentHostError(f"{organisation} has more than {MAX_REPOSITORY_PAGES * 100:,} repositories, "
                                     "the most one location lists")
        return pages


_SEGMENT = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
MAX_REPOSITORY_PAGES = 1000  # 100,000 repositories: the most one organisation location lists


def _owner_and_name(full_name: str) -> tuple[str, str]:
    owner, _, name = str(full_name).partition("/")
    if not (_SEGMENT.match(owner) and _SEGMENT.match(name) and owner.strip(".") and name.strip(".")):
        raise PermanentHostError(f"{str(full_name)[:100]!r} is not owner/name")
    return owner, name
