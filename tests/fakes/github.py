"""A fake GitHub REST API on real HTTP, held to GitHub's own OpenAPI description.

Every request the fake receives and every answer it sends is validated against the subset of
GitHub's description in tests/github-openapi/ (as if the traffic went to https://api.github.com).
A request that breaks it is answered as GitHub answers (422, 400 or 404) and recorded as a
violation; so is any answer of the fake that breaks it (a bug in the fake), a call to an operation
outside the subset, and an exception inside the fake. The `fake_github` fixture fails the test at
teardown when a violation was recorded.

    def test_push(fake_github):
        gh = Github(base_url=fake_github.api_url, auth=Auth.Token(fake_github.token),
                    lazy=True, seconds_between_requests=None, seconds_between_writes=None)
        fake_github.add_team("acme", "payments", id=7)
        fake_github.fail("POST", "/repos/*/*/git/trees", status=502)      # once, then normal
        ...
        assert fake_github.files("acme", "svc")[".github/workflows/ci.yml"] == CI
        assert len(fake_github.write_calls()) == 9

Seeded: organization `acme`, user `slipway-bot` and its token `fake.token` (with workflow scope).
Add more with add_org / add_user / add_team / add_token / add_installation (GitHub App: JWT checked
against the public key, installation tokens minted by POST .../access_tokens).

Repositories without HTTP (no call recorded): seed_repository(owner, name, files={path: text},
archived=, default_branch=, private=, visibility=) makes one with a root commit (10,000 with a small
file each take about a second), push_files(owner, name, {path: text or None}, message=) commits on the
default branch, delete_file, archive, remove_repository. Every push (these, or a ref created or moved
through the API) moves `pushed_at` on, by a second when the clock has not moved since the last one.

Reading for a sync: `GET /repos/{owner}/{repo}/contents/{path}` (`ref`: branch, tag or SHA; a file as
base64 with its git blob SHA, a directory listing, symlinks, submodules; the bytes themselves with
`Accept: application/vnd.github.raw+json`), `GET /orgs/{org}/repos` (`type`, `sort` created (default,
newest first) | updated | pushed | full_name (a-z), `direction`, `per_page` up to 100, `page`, and
GitHub's Link header: prev, next, last, first). Conditional requests: every 200 GET answer carries
`ETag: "<sha256 hex of the body>"`; a request whose If-None-Match names it (strong or `W/` form) gets a
304 without a body, which, as on GitHub, does not count against the rate limit: compare
`rate_limited_calls()` with `calls`, or read `rate_limit_used()`.

Webhooks (built, not sent): push_event(owner, name, before=, after=, changed_paths=) is the `push`
payload, checked against tests/github-openapi/github-webhooks-subset.json (github_schema.validate_webhook
checks any payload); webhook_delivery gives the body and headers to post; sign_webhook(secret, body) the
`X-Hub-Signature-256` value.

Faults (method + path glob, `*` one segment, `**` any; `times=1` by default, ALWAYS = no end):
add_latency, fail (5xx), secondary_rate_limit (403, Retry-After or not), primary_rate_limit (403,
x-ratelimit-remaining 0 + reset), too_many_requests (429), apply_then_fail (do it, then 5xx or a
dropped connection), drop_connection (TCP reset, nothing done), hang (sleep, then reset),
not_found_after_create (eventual consistency). Settings: `paid_plan`, `rate_limit` (per hour).

GitHub's secondary rate limits, opt-in (`FakeGitHub(enforce_secondary_limits=True)` or
`fake.enforce_secondary_limits(SecondaryLimits(...))`): a credential that sends content-creating
requests faster than GitHub documents (more than 80 a minute or 500 an hour, or one while another
is in flight) or more than 100 concurrent requests gets GitHub's 403 with Retry-After; see
`SecondaryLimits`, `secondary_limit_hits` and `max_content_per_minute`.

Inspection: calls / write_calls / rate_limited_calls / rate_limit_used / reset_calls / requests (with
bodies), files, commits, repo, team, violations / take_violations / assert_no_violations.

State lives in memory and every handler runs under one lock, so the fake is safe for concurrent
clients (threads, or a Celery worker process talking HTTP to it).
"""

from __future__ import annotations

import base64
import bisect
import calendar
import hashlib
import hmac
import itertools
import json
import math
import posixpath
import re
import secrets
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

import pytest

from tests.fakes import github_schema as schema
from tests.fakes.github_git import Blob, Commit, GitError, GitStore, Signature, Tree, TreeEntry

API_PREFIX = "/api/v3"  # GitHub Enterprise's API root; PyGithub checks followed URLs against it
DEFAULT_ORG = "acme"
DEFAULT_LOGIN = "slipway-bot"
DEFAULT_TOKEN = "ghp_fakeSlipwayToken0000000000000000000"
TEAM_PERMISSIONS = ("pull", "triage", "push", "maintain", "admin")
RATE_LIMIT = 5000
ALWAYS = None  # `times=ALWAYS`: a fault rule that never runs out
DOCS = schema.DOCS
SECONDARY_RATE_LIMIT_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
    "If you reach out to GitHub Support for help, please include the request ID {request_id}."
)
_LEGACY_TEAM = re.compile(r"/organizations/(?P<org_id>\d+)/team/(?P<team_id>\d+)(?P<rest>/.*)?")
ZERO_SHA = "0" * 40  # a push event's `before` of a created ref, `after` of a deleted one
TIMESTAMP = "%Y-%m-%dT%H:%M:%SZ"
MAX_CONTENT_BYTES = 1024 * 1024  # the contents API answers JSON (base64) only for files up to 1 MB
PER_PAGE, MAX_PER_PAGE = 30, 100
MAX_PUSH_COMMITS = 2048  # GitHub: a push payload's `commits` holds at most 2048 commits
NOT_MODIFIED_HEADERS = ("ETag", "Cache-Control", "Vary", "Last-Modified")  # what a 304 repeats of the 200


def _now() -> str:
    return time.strftime(TIMESTAMP, time.gmtime())


def _later(previous: str) -> str:
    """Now, or one second past `previous` when the clock has not moved on since: API timestamps have whole
    seconds, and a client that syncs on `pushed_at` must see it move on every push, even two in a second."""
    now = _now()
    if now > previous:
        return now
    return time.strftime(TIMESTAMP, time.gmtime(calendar.timegm(time.strptime(previous, TIMESTAMP)) + 1))


def _unix(timestamp: str) -> int:
    return calendar.timegm(time.strptime(timestamp, TIMESTAMP))


def etag_of(data: bytes) -> str:
    """The fake's ETag of an answer body: a quoted strong validator, `"<sha256 hex of the body>"`."""
    return '"' + hashlib.sha256(data).hexdigest() + '"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an `If-None-Match` value names `etag`: weak comparison (GitHub sends `W/"..."` validators
    and clients send back what they got), any of a comma-separated list, or `*`."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    wanted = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == wanted for tag in if_none_match.split(","))


def sign_webhook(secret: str, body: bytes) -> str:
    """The `X-Hub-Signature-256` value GitHub sends with a delivery: `sha256=<HMAC-SHA256 hex of the body>`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _node_id(kind: str, number: int) -> str:
    return base64.b64encode(f"0{len(kind)}:{kind}{number}".encode()).decode()


# -- records ---------------------------------------------------------------------------------------


class Call(NamedTuple):
    """One request as the fake saw it: method, API path (no prefix, no query) and the status answered."""

    method: str
    path: str
    status: int  # 0: the connection was closed without an answer


@dataclass
class RecordedRequest:
    """A request with its details, for assertions on what a client sent."""

    method: str
    path: str
    status: int
    query: dict[str, str]
    body: Any
    login: str | None
    fault: str | None


@dataclass
class Violation:
    """A request or an answer that breaks GitHub's description."""

    kind: str  # request | response | unknown-operation | unimplemented | fake-error | webhook
    method: str
    path: str
    status: int
    details: list[str]

    def __str__(self) -> str:
        return f"{self.kind}: {self.method} {self.path} -> {self.status}: " + "; ".join(self.details)


@dataclass
class FaultRule:
    """A programmed fault: which calls it hits (method + path glob), what it does, and how many times."""

    kind: str
    method: str = "*"
    path: str = "**"
    times: int | None = 1  # ALWAYS (None): never runs out
    status: int = 502
    seconds: float = 0.0
    retry_after: int | None = None
    reset_in: int = 0
    apply_first: bool = False
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        """Whether this rule applies to `method path` (`*` is one path segment, `**` any number)."""
        if self.method != "*" and self.method.upper() != method:
            return False
        pattern = re.escape(self.path).replace(r"\*\*", ".*").replace(r"\*", "[^/]*")
        return re.fullmatch(pattern, path) is not None

    @property
    def exhausted(self) -> bool:
        """Whether the rule has fired as many times as it was asked to."""
        return self.times is not None and self.hits >= self.times


@dataclass(frozen=True)
class SecondaryLimits:
    """GitHub's documented secondary rate limits, per credential ("Rate limits for the REST API",
    About secondary rate limits, and its best practices).

    Modelled: content-creating requests (every POST, PATCH, PUT and DELETE counts as one) — at most 80
    in any 60 s and 500 in any hour; concurrent requests — at most 100; and, from the best practices
    ("make requests serially, not concurrently" for writes), at most `concurrent_writes` content-creating
    requests in flight at once (1: strict). Not modelled: the per-endpoint points (900 a minute; with
    writes at 5 points the 80-a-minute rule binds first) and the CPU-time budget (90 s a minute).
    """

    content_per_minute: int = 80
    content_per_hour: int = 500
    concurrent_requests: int = 100
    concurrent_writes: int = 1
    retry_after_concurrent: int = 60  # GitHub: without other guidance, wait at least a minute


@dataclass
class SecondaryLimitHit:
    """A request answered with a secondary rate limit by the opt-in policy, and which rule it broke."""

    rule: str  # content-per-minute | content-per-hour | concurrent-requests | concurrent-writes
    method: str
    path: str
    retry_after: int


# -- state -----------------------------------------------------------------------------------------


@dataclass
class Account:
    """A user, organization or bot."""

    login: str
    id: int
    type: str  # User | Organization | Bot
    name: str | None = None
    created_at: str = field(default_factory=_now)


@dataclass
class Team:
    """An organization team and the repositories it was granted."""

    org: str
    slug: str
    id: int
    name: str
    description: str | None = None
    permission: str = "pull"
    repos: dict[str, str] = field(default_factory=dict)  # "owner/repo" (lower case) -> permission
    created_at: str = field(default_factory=_now)


@dataclass
class Credential:
    """A token (personal or installation) or a GitHub App JWT, and what it may do."""

    token: str
    kind: str  # user | installation | app
    login: str | None = None
    workflow_scope: bool = True
    scopes: tuple[str, ...] = ("repo", "workflow")
    org: str | None = None  # installation tokens reach only their organization's repositories
    app_id: str | None = None
    expired: bool = False


@dataclass
class Installation:
    """A GitHub App installed on an organization."""

    id: int
    org: str
    app_id: str
    app_slug: str
    workflows: bool = True
    public_key: Any = None
    created_at: str = field(default_factory=_now)


@dataclass
class Environment:
    """A deployment environment and its protection rules."""

    name: str
    id: int
    wait_timer: int = 0
    prevent_self_review: bool = False
    reviewers: list[tuple[str, int]] = field(default_factory=list)  # (User|Team, id)
    deployment_branch_policy: dict[str, bool] | None = None
    branch_policies: list[dict[str, Any]] = field(default_factory=list)
    rule_ids: dict[str, int] = field(default_factory=dict)
    created_at: str = field(default_factory=_now)
    updated_at: str = field(default_factory=_now)


@dataclass
class Repo:
    """A repository: settings, git objects, refs, environments and branch protections."""

    owner: str
    name: str
    id: int
    private: bool = False
    visibility: str = "public"
    description: str | None = None
    homepage: str | None = None
    default_branch: str = "main"
    has_issues: bool = True
    has_projects: bool = True
    has_wiki: bool = True
    is_template: bool = False
    archived: bool = False
    created_by: str | None = None
    git: GitStore = field(default_factory=GitStore)
    refs: dict[str, str] = field(default_factory=dict)  # "refs/heads/main" -> commit sha
    environments: dict[str, Environment] = field(default_factory=dict)
    protections: dict[str, dict[str, Any]] = field(default_factory=dict)  # branch -> PUT body
    hidden_calls: int = 0  # eventual consistency: answer 404 to this many calls after creation
    created_at: str = field(default_factory=_now)
    updated_at: str = field(default_factory=_now)
    pushed_at: str = field(default_factory=_now)

    @property
    def full_name(self) -> str:
        """owner/name."""
        return f"{self.owner}/{self.name}"

    @property
    def key(self) -> str:
        """The case-insensitive identity GitHub matches repositories on."""
        return self.full_name.lower()


class ApiError(Exception):
    """An error answer: status, message and GitHub's optional `errors` array."""

    def __init__(
        self,
        status: int,
        message: str,
        errors: list[Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors
        self.headers = headers or {}


@dataclass
class Reply:
    """What a handler answers: a JSON body, or `raw` bytes (a raw media type, its Content-Type in headers)."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None


@dataclass
class Context:
    """One request, as handlers see it."""

    method: str
    path: str
    params: dict[str, str]
    query: dict[str, str]
    body: Any
    host: str
    api_url: str
    web_url: str
    credential: Credential | None
    builder: schema.BodyBuilder
    headers: dict[str, str] = field(default_factory=dict)  # the request's, names in lower case

    def build(self, component: str | dict[str, Any], values: Any) -> Any:
        """A body of `component` from the values known, completed with the schema's required fields."""
        return self.builder.build(component, values)

    def json(self) -> dict[str, Any]:
        """The request body as an object ({} when absent or null)."""
        return self.body if isinstance(self.body, dict) else {}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    fake: FakeGitHub


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "GitHub.com"
    sys_version = ""
    server: _Server

    def setup(self) -> None:
        """Answer without Nagle's delay (headers and body are two writes: 40 ms each call otherwise)."""
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _serve(self) -> None:
        self.server.fake._serve(self)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        """Keep test output quiet."""


Handler = Callable[[Context], Reply]


class FakeGitHub:
    """An in-memory GitHub (REST subset used by Slipway's provisioning) served over HTTP on 127.0.0.1."""

    def __init__(
        self,
        *,
        org: str = DEFAULT_ORG,
        login: str = DEFAULT_LOGIN,
        token: str = DEFAULT_TOKEN,
        prefix: str = API_PREFIX,
        enforce_secondary_limits: bool | SecondaryLimits = False,
    ) -> None:
        self.org = org
        self.login = login
        self.token = token
        self.prefix = prefix
        # GitHub plans: without a paid plan, private repositories get no branch protection (403)
        # and no environment protection rules (422).
        self.paid_plan = True
        self.rate_limit = RATE_LIMIT
        self._lock = threading.RLock()
        self._ids = itertools.count(1001)
        self._request_ids = itertools.count(1)
        self._accounts: dict[str, Account] = {}
        self._teams: dict[tuple[str, str], Team] = {}
        self._credentials: dict[str, Credential] = {}
        self._installations: dict[int, Installation] = {}
        self._repos: dict[str, Repo] = {}
        self._rates: dict[str, list[int]] = {}  # credential -> [reset, used]
        self._faults: list[FaultRule] = []
        self._hidden_after_create = 0
        self._calls: list[Call] = []
        self._counted: list[Call] = []  # the calls that counted against the primary rate limit
        self._requests: list[RecordedRequest] = []
        self._violations: list[Violation] = []
        self._secondary: SecondaryLimits | None = None
        self._content_times: dict[str, list[float]] = {}  # credential -> monotonic times of accepted writes
        self._in_flight: dict[str, list[int]] = {}  # credential -> [requests, content-creating requests]
        self._secondary_hits: list[SecondaryLimitHit] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._handlers = self._routes()
        self.add_user(login)
        self.add_org(org)
        self.add_token(token, login=login)
        if enforce_secondary_limits:
            self.enforce_secondary_limits(
                enforce_secondary_limits if isinstance(enforce_secondary_limits, SecondaryLimits) else None
            )

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> FakeGitHub:
        """Load the description (once per process) and serve on an ephemeral port in a thread."""
        schema.openapi()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="fake-github", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; requests still sleeping in a fault are released."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeGitHub:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The TCP port served on."""
        assert self._server is not None, "start() the fake first"
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:PORT (the web root: html_url and clone URLs live here)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """The API root to give clients, e.g. PyGithub's `base_url` (GitHub Enterprise style)."""
        return self.base_url + self.prefix

    # -- seeding -----------------------------------------------------------------------------------

    def add_user(self, login: str, *, id: int | None = None, name: str | None = None) -> Account:
        """A user account (reviewers, repository owners, token holders)."""
        with self._lock:
            account = Account(login, id or next(self._ids), "User", name)
            self._accounts[login.lower()] = account
            return account

    def add_org(self, login: str, *, id: int | None = None, name: str | None = None) -> Account:
        """An organization."""
        with self._lock:
            account = Account(login, id or next(self._ids), "Organization", name or login)
            self._accounts[login.lower()] = account
            return account

    def add_team(
        self,
        org: str,
        slug: str,
        *,
        id: int | None = None,
        name: str | None = None,
        permission: str = "pull",
        description: str | None = None,
    ) -> Team:
        """A team of `org` (the organization is created when missing)."""
        with self._lock:
            if org.lower() not in self._accounts:
                self.add_org(org)
            team = Team(
                self._accounts[org.lower()].login, slug, id or next(self._ids), name or slug, description
            )
            team.permission = permission
            self._teams[(org.lower(), slug.lower())] = team
            return team

    def add_token(self, token: str, *, login: str | None = None, workflow_scope: bool = True) -> Credential:
        """A personal access token of `login` (created when missing); without workflow scope on request."""
        with self._lock:
            login = login or self.login
            if login.lower() not in self._accounts:
                self.add_user(login)
            scopes = ("repo", "workflow") if workflow_scope else ("repo",)
            credential = Credential(
                token, "user", self._accounts[login.lower()].login, workflow_scope, scopes
            )
            self._credentials[token] = credential
            return credential

    def expire_token(self, token: str) -> None:
        """Make `token` answer 401 from now on (e.g. an installation token past its hour)."""
        with self._lock:
            self._credentials[token].expired = True

    def add_installation(
        self,
        org: str | None = None,
        *,
        installation_id: int = 42,
        app_id: int | str = 1234,
        app_slug: str = "slipway",
        workflows: bool = True,
        public_key: Any = None,
    ) -> Installation:
        """A GitHub App installed on `org`; JWTs are signature-checked when `public_key` (PEM) is given."""
        with self._lock:
            org = org or self.org
            if isinstance(public_key, str):
                public_key = public_key.encode()
            installation = Installation(installation_id, org, str(app_id), app_slug, workflows, public_key)
            self._installations[installation_id] = installation
            bot = f"{app_slug}[bot]"
            if bot.lower() not in self._accounts:
                self._accounts[bot.lower()] = Account(bot, next(self._ids), "Bot")
            return installation

    def installation_tokens(self) -> list[str]:
        """Installation tokens handed out so far."""
        with self._lock:
            return [
                token for token, credential in self._credentials.items() if credential.kind == "installation"
            ]

    def seed_repository(
        self,
        owner: str,
        name: str,
        files: Mapping[str, str | bytes] | None = None,
        *,
        archived: bool = False,
        default_branch: str = "main",
        private: bool = False,
        visibility: str | None = None,
        description: str | None = None,
        message: str = "Initial commit",
    ) -> Repo:
        """A repository put straight into the state (no HTTP, no call recorded): one root commit of `files`
        on `default_branch` (none: an empty repository). The owner becomes an organization when unknown.
        Cheap enough for thousands: 10,000 with one small file each take about a second."""
        with self._lock:
            if owner.lower() not in self._accounts:
                self.add_org(owner)
            account = self._accounts[owner.lower()]
            if f"{account.login}/{name}".lower() in self._repos:
                raise ValueError(f"repository {account.login}/{name} exists already")
            visibility = visibility or ("private" if private else "public")
            now = _now()
            repo = Repo(
                owner=account.login,
                name=name,
                id=next(self._ids),
                private=visibility != "public",
                visibility=visibility,
                description=description,
                default_branch=default_branch,
                created_by=self.login,
                created_at=now,
                updated_at=now,
                pushed_at=now,
            )
            if files:
                self._commit_files(repo, files, message, default_branch, at=now)
            repo.archived = archived
            self._repos[repo.key] = repo
            return repo

    def push_files(
        self,
        owner: str,
        name: str,
        files: Mapping[str, str | bytes | None],
        *,
        message: str = "Update files",
        branch: str | None = None,
    ) -> str:
        """Push one commit on `branch` (default: the default branch) that writes `files` (path → text or
        bytes; None deletes the path) over the branch's tree; `pushed_at` moves on. Returns the commit SHA.
        Raises ValueError on an archived repository, which GitHub makes read-only."""
        with self._lock:
            repo = self.repo(owner, name)
            if repo.archived:
                raise ValueError(f"{repo.full_name} is archived: GitHub refuses pushes to it")
            return self._commit_files(repo, files, message, branch or repo.default_branch)

    def delete_file(
        self, owner: str, name: str, path: str, *, message: str | None = None, branch: str | None = None
    ) -> str:
        """Push one commit that deletes `path` (KeyError when the branch has no such file); its SHA."""
        with self._lock:
            if path.strip("/") not in self.files(owner, name, branch):
                raise KeyError(f"{owner}/{name} has no file {path!r}")
            return self.push_files(
                owner, name, {path: None}, message=message or f"Delete {path}", branch=branch
            )

    def archive(self, owner: str, name: str, archived: bool = True) -> Repo:
        """Archive (or unarchive) a repository, as its settings page does; `pushed_at` stays."""
        with self._lock:
            repo = self.repo(owner, name)
            repo.archived = archived
            repo.updated_at = _later(repo.updated_at)
            return repo

    def remove_repository(self, owner: str, name: str) -> None:
        """Delete a repository (KeyError when absent) and its team grants."""
        with self._lock:
            repo = self._repos.pop(f"{owner}/{name}".lower())
            for team in self._teams.values():
                team.repos.pop(repo.key, None)

    def _commit_files(
        self,
        repo: Repo,
        files: Mapping[str, str | bytes | None],
        message: str,
        branch: str,
        *,
        at: str | None = None,
    ) -> str:
        """Commit `files` over the head of `branch` and move it there; `at`: the push's time (seeding)."""
        ref = f"refs/heads/{branch}"
        parent = repo.refs.get(ref)
        leaves: dict[str, TreeEntry] = {}
        if parent is not None:
            head = repo.git.objects[parent]
            assert isinstance(head, Commit)
            leaves = repo.git.leaves(head.tree)
        for raw_path, content in files.items():
            path = raw_path.strip("/")
            # The path replaces whatever was there: a file, a directory below it, a file where a parent goes.
            if leaves:
                parents = {"/".join(path.split("/")[:depth]) for depth in range(1, path.count("/") + 1)}
                for existing in [
                    item for item in leaves if item == path or item.startswith(path + "/") or item in parents
                ]:
                    del leaves[existing]
            if content is not None:
                data = content.encode() if isinstance(content, str) else content
                leaves[path] = TreeEntry("100644", "blob", path, repo.git.put_blob(data))
        bot = self._accounts[self.login.lower()]
        email = f"{bot.id}+{bot.login}@users.noreply.github.com"
        signature = Signature(bot.name or bot.login, email, at or _now())
        sha = repo.git.put_commit(
            Commit(repo.git.build(leaves), (parent,) if parent else (), message, signature, signature)
        )
        repo.refs[ref] = sha
        repo.pushed_at = at or _later(repo.pushed_at)
        return sha

    # -- faults ------------------------------------------------------------------------------------

    def inject(self, rule: FaultRule) -> FaultRule:
        """Add a fault rule (the helpers below build them); rules fire in the order added."""
        with self._lock:
            self._faults.append(rule)
            return rule

    def add_latency(
        self, seconds: float, method: str = "*", path: str = "**", *, times: int | None = ALWAYS
    ) -> FaultRule:
        """Delay matching calls by `seconds` (adds up with other rules)."""
        return self.inject(FaultRule("latency", method, path, times, seconds=seconds))

    def fail(
        self, method: str = "*", path: str = "**", *, status: int = 502, times: int | None = 1
    ) -> FaultRule:
        """Answer matching calls with a server error (500, 502, 503...) without doing anything."""
        return self.inject(FaultRule("status", method, path, times, status=status))

    def secondary_rate_limit(
        self, method: str = "*", path: str = "**", *, retry_after: int | None = 1, times: int | None = 1
    ) -> FaultRule:
        """Answer 403 'exceeded a secondary rate limit', with `Retry-After` unless it is None."""
        return self.inject(
            FaultRule("secondary_rate_limit", method, path, times, status=403, retry_after=retry_after)
        )

    def primary_rate_limit(
        self, method: str = "*", path: str = "**", *, reset_in: int = 0, times: int | None = 1
    ) -> FaultRule:
        """Answer 403 'API rate limit exceeded' with x-ratelimit-remaining 0 and reset `reset_in` s away."""
        return self.inject(
            FaultRule("primary_rate_limit", method, path, times, status=403, reset_in=reset_in)
        )

    def too_many_requests(
        self, method: str = "*", path: str = "**", *, retry_after: int | None = None, times: int | None = 1
    ) -> FaultRule:
        """Answer 429, with `Retry-After` when given."""
        return self.inject(
            FaultRule("too_many_requests", method, path, times, status=429, retry_after=retry_after)
        )

    def apply_then_fail(
        self,
        method: str = "*",
        path: str = "**",
        *,
        status: int = 502,
        drop: bool = False,
        times: int | None = 1,
    ) -> FaultRule:
        """Perform the call, then lose its answer: reply `status`, or close the connection when `drop`."""
        kind = "drop" if drop else "apply_then_fail"
        return self.inject(FaultRule(kind, method, path, times, status=status, apply_first=True))

    def drop_connection(self, method: str = "*", path: str = "**", *, times: int | None = 1) -> FaultRule:
        """Close the connection (TCP reset) without doing anything or answering."""
        return self.inject(FaultRule("drop", method, path, times, status=0))

    def hang(
        self, method: str = "*", path: str = "**", *, seconds: float = 30.0, times: int | None = 1
    ) -> FaultRule:
        """Sleep `seconds` (past the client's timeout), then close the connection without answering."""
        return self.inject(FaultRule("hang", method, path, times, status=0, seconds=seconds))

    def not_found_after_create(self, calls: int = 1) -> None:
        """Eventual consistency: each repository created from now on answers 404 to its next `calls` calls."""
        with self._lock:
            self._hidden_after_create = calls

    def clear_faults(self) -> None:
        """Forget every fault rule."""
        with self._lock:
            self._faults.clear()
            self._hidden_after_create = 0

    def enforce_secondary_limits(self, limits: SecondaryLimits | None = None) -> None:
        """Answer 403 'exceeded a secondary rate limit' (Retry-After) to requests beyond `limits`
        (GitHub's documented ones by default); programmed faults still take precedence."""
        with self._lock:
            self._secondary = limits or SecondaryLimits()

    @property
    def secondary_limit_hits(self) -> list[SecondaryLimitHit]:
        """Requests the opt-in policy answered with a secondary rate limit."""
        with self._lock:
            return list(self._secondary_hits)

    def max_content_per_minute(self) -> int:
        """The most content-creating requests one credential had accepted in any 60 s (policy on)."""
        with self._lock:
            best = 0
            for times in self._content_times.values():
                start = 0
                for end, at in enumerate(times):
                    while at - times[start] >= 60:
                        start += 1
                    best = max(best, end - start + 1)
            return best

    def _secondary_admit(self, key: str, method: str, path: str, write: bool) -> FaultRule | None:
        """Count a request in flight for `key`; a secondary-limit fault when it breaks a limit."""
        limits = self._secondary
        assert limits is not None
        with self._lock:
            now = time.monotonic()
            flight = self._in_flight.setdefault(key, [0, 0])
            times = self._content_times.setdefault(key, [])
            del times[: bisect.bisect_right(times, now - 3600)]
            rule, retry_after = "", 0
            if flight[0] >= limits.concurrent_requests:
                rule, retry_after = "concurrent-requests", limits.retry_after_concurrent
            elif write and flight[1] >= limits.concurrent_writes:
                rule, retry_after = "concurrent-writes", limits.retry_after_concurrent
            elif write:
                minute = times[bisect.bisect_right(times, now - 60) :]
                if len(minute) >= limits.content_per_minute:
                    rule, retry_after = "content-per-minute", math.ceil(minute[0] + 60 - now)
                elif len(times) >= limits.content_per_hour:
                    rule, retry_after = "content-per-hour", math.ceil(times[0] + 3600 - now)
            flight[0] += 1
            flight[1] += write
            if not rule:
                if write:
                    times.append(now)
                return None
            retry_after = max(retry_after, 1)
            self._secondary_hits.append(SecondaryLimitHit(rule, method, path, retry_after))
            return FaultRule("secondary_rate_limit", method, path, 1, status=403, retry_after=retry_after)

    def _land(self, handler: BaseHTTPRequestHandler) -> None:
        """The request is answered (or dropped): no longer in flight. Called before the answer is
        written, so a client that got its answer never finds its own request still counted."""
        flight = getattr(handler, "slipway_flight", None)
        if flight is None:
            return
        handler.slipway_flight = None  # type: ignore[attr-defined]
        key, write = flight
        with self._lock:
            counts = self._in_flight[key]
            counts[0] -= 1
            counts[1] -= write

    def _take_faults(self, method: str, path: str) -> tuple[float, FaultRule | None]:
        with self._lock:
            delay = 0.0
            chosen: FaultRule | None = None
            for rule in self._faults:
                if rule.exhausted or not rule.matches(method, path):
                    continue
                if rule.kind == "latency":
                    rule.hits += 1
                    delay += rule.seconds
                elif chosen is None:
                    rule.hits += 1
                    chosen = rule
            return delay, chosen

    # -- inspection --------------------------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        """Every call so far: (method, path, status)."""
        with self._lock:
            return list(self._calls)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every call with its query, JSON body, caller and fault."""
        with self._lock:
            return list(self._requests)

    def write_calls(self) -> list[Call]:
        """Calls other than GET and HEAD."""
        return [call for call in self.calls if call.method not in ("GET", "HEAD")]

    def rate_limited_calls(self) -> list[Call]:
        """Calls that counted against the primary rate limit (their answer's x-ratelimit-used went up).

        Not counted, as on GitHub: a 304 answer to a conditional request, `GET /rate_limit`, and the
        answers of programmed faults (`fail`, `secondary_rate_limit`...: GitHub never did the work).
        """
        with self._lock:
            return list(self._counted)

    def rate_limit_used(self, token: str | None = None) -> int:
        """Requests counted in the current rate-limit hour of `token` (default: `fake.token`)."""
        with self._lock:
            window = self._rates.get(token or self.token)
            return window[1] if window is not None and window[0] > time.time() else 0

    def reset_calls(self) -> None:
        """Forget the calls recorded so far (not the state, not the violations, not the rate-limit use)."""
        with self._lock:
            self._calls.clear()
            self._counted.clear()
            self._requests.clear()

    @property
    def violations(self) -> list[Violation]:
        """Schema violations recorded so far."""
        with self._lock:
            return list(self._violations)

    def take_violations(self) -> list[Violation]:
        """Return and forget the violations (for tests that provoke them on purpose)."""
        with self._lock:
            taken, self._violations = self._violations, []
            return taken

    def assert_no_violations(self) -> None:
        """Fail when any request or answer broke GitHub's description."""
        found = self.violations
        assert not found, "GitHub schema violations:\n" + "\n".join(f"  {violation}" for violation in found)

    def repo(self, owner: str, name: str) -> Repo:
        """The live state of a repository (KeyError when absent)."""
        with self._lock:
            return self._repos[f"{owner}/{name}".lower()]

    def has_repo(self, owner: str, name: str) -> bool:
        """Whether `owner/name` exists."""
        with self._lock:
            return f"{owner}/{name}".lower() in self._repos

    def team(self, org: str, slug: str) -> Team:
        """The live state of a team."""
        with self._lock:
            return self._teams[(org.lower(), slug.lower())]

    def files(self, owner: str, name: str, ref: str | None = None) -> dict[str, str]:
        """Path → text of every file at branch (or commit) `ref` (default: the default branch)."""
        with self._lock:
            repo = self.repo(owner, name)
            ref = ref or repo.default_branch
            sha = repo.refs.get(f"refs/heads/{ref}", ref)
            return {path: data.decode("utf-8", "replace") for path, data in repo.git.files(sha).items()}

    def commits(self, owner: str, name: str, ref: str | None = None) -> list[dict[str, Any]]:
        """History of a branch (default: the default branch), newest first: sha, message, parents, tree."""
        with self._lock:
            repo = self.repo(owner, name)
            head = repo.refs.get(f"refs/heads/{ref or repo.default_branch}")
            if head is None:
                return []
            history = []
            for sha in repo.git.ancestors(head):
                commit = repo.git.objects[sha]
                assert isinstance(commit, Commit)
                history.append(
                    {
                        "sha": sha,
                        "message": commit.message,
                        "parents": list(commit.parents),
                        "tree": commit.tree,
                    }
                )
            return history

    # -- webhooks ----------------------------------------------------------------------------------

    def push_event(
        self,
        owner: str,
        name: str,
        *,
        before: str,
        after: str,
        changed_paths: Iterable[str] | None = None,
        ref: str | None = None,
        forced: bool | None = None,
        pusher: str | None = None,
        installation_id: int | None = None,
    ) -> dict[str, Any]:
        """The `push` webhook payload GitHub delivers for `before..after` on `ref` (default: the default
        branch), checked against github-webhooks-subset.json (a violation fails the test like any other).

        `before` and `after` are commits of the repository (push_files returns them) or ZERO_SHA (a created
        or deleted ref). `commits` are the pushed ones, oldest first, each with its own added / removed /
        modified paths; `changed_paths` instead puts the given paths (classified by comparing the trees of
        `before` and `after`) on the head commit, the others listing none, which is what a consumer that
        unions the lists over the commits sees either way. The fake sends nothing: post the payload
        yourself (webhook_delivery gives the body and headers).
        """
        with self._lock:
            repo = self.repo(owner, name)
            for sha in (before, after):
                if sha != ZERO_SHA and repo.git.get(sha, Commit) is None:
                    raise ValueError(f"{sha} is not a commit of {repo.full_name} (nor ZERO_SHA)")
            context = self._local_context()
            ref = ref if ref and ref.startswith("refs/") else f"refs/heads/{ref or repo.default_branch}"
            created, deleted = before == ZERO_SHA, after == ZERO_SHA
            earlier = set(repo.git.ancestors(before)) if not created else set()
            pushed = [] if deleted else [sha for sha in repo.git.ancestors(after) if sha not in earlier]
            pushed = list(reversed(pushed))[-MAX_PUSH_COMMITS:]
            if forced is None:
                forced = not created and not deleted and before not in repo.git.ancestors(after)
            commits = []
            for sha in pushed:
                commit = repo.git.objects[sha]
                assert isinstance(commit, Commit)
                if changed_paths is None:
                    old = self._leaf_shas(repo, commit.parents[0] if commit.parents else ZERO_SHA)
                    changes = self._changes(old, self._leaf_shas(repo, sha), None)
                elif sha == after:
                    changes = self._changes(
                        self._leaf_shas(repo, before), self._leaf_shas(repo, after), changed_paths
                    )
                else:
                    changes = {"added": [], "removed": [], "modified": []}
                commits.append(self._push_commit_json(context, repo, sha, changes))
            account = self._accounts[(pusher or self.login).lower()]
            web = f"{context.web_url}/{repo.full_name}"
            payload: dict[str, Any] = {
                "ref": ref,
                "before": before,
                "after": after,
                "repository": self._hook_repo_json(context, repo),
                "pusher": {
                    "name": account.login,
                    "email": f"{account.id}+{account.login}@users.noreply.github.com",
                },
                "sender": self._user_json(context, account),
                "created": created,
                "deleted": deleted,
                "forced": forced,
                "base_ref": None,
                "compare": f"{web}/compare/{before[:12]}...{after[:12]}",
                "commits": commits,
                "head_commit": commits[-1] if commits else None,
            }
            owner_account = self._accounts[repo.owner.lower()]
            if owner_account.type == "Organization":
                org = self._org_json(context, owner_account)
                keys = ("login", "id", "node_id", "url", "repos_url", "events_url", "hooks_url", "issues_url",
                        "members_url", "public_members_url", "avatar_url", "description")  # fmt: skip
                payload["organization"] = {key: org[key] for key in keys}
            if installation_id is not None:
                payload["installation"] = {
                    "id": installation_id,
                    "node_id": _node_id("Installation", installation_id),
                }
        problems = schema.validate_webhook("push", payload)
        if problems:
            self._violate("webhook", "POST", f"(push webhook of {repo.full_name})", 0, problems)
        return payload

    @staticmethod
    def webhook_delivery(
        event: str, payload: dict[str, Any], *, secret: str | None = None, hook_id: int = 1
    ) -> tuple[bytes, dict[str, str]]:
        """The body and headers GitHub posts for `payload` (headers as the webhook description lists them;
        signed when `secret`). The hook belongs to the payload's organization, else to its repository."""
        body = json.dumps(payload).encode()
        kind = "organization" if "organization" in payload else "repository"
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "GitHub-Hookshot/fake",
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-GitHub-Hook-ID": str(hook_id),
            "X-GitHub-Hook-Installation-Target-ID": str((payload.get(kind) or {}).get("id", 0)),
            "X-GitHub-Hook-Installation-Target-Type": kind,
        }
        if secret is not None:
            headers["X-Hub-Signature-256"] = sign_webhook(secret, body)
            headers["X-Hub-Signature"] = "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
        return body, headers

    def _local_context(self) -> Context:
        """A context for building JSON outside a request (webhook payloads): the fake's own address."""
        builder = schema.BodyBuilder(self.api_url, _now())
        host = f"127.0.0.1:{self.port}"
        return Context("POST", "", {}, {}, None, host, self.api_url, self.base_url, None, builder)

    @staticmethod
    def _leaf_shas(repo: Repo, commit_sha: str) -> dict[str, str]:
        commit = repo.git.objects.get(commit_sha)
        if not isinstance(commit, Commit):
            return {}  # ZERO_SHA: nothing before a created ref, nothing after a deleted one
        return {path: entry.sha for path, entry in repo.git.leaves(commit.tree).items()}

    @staticmethod
    def _changes(
        old: dict[str, str], new: dict[str, str], paths: Iterable[str] | None
    ) -> dict[str, list[str]]:
        chosen = sorted(set(old) | set(new)) if paths is None else [path.strip("/") for path in paths]
        changes: dict[str, list[str]] = {"added": [], "removed": [], "modified": []}
        for path in chosen:
            if path not in old and path in new:
                changes["added"].append(path)
            elif path in old and path not in new:
                changes["removed"].append(path)
            elif paths is not None or old.get(path) != new.get(path):
                changes["modified"].append(path)
        return changes

    def _push_commit_json(
        self, context: Context, repo: Repo, sha: str, changes: dict[str, list[str]]
    ) -> dict[str, Any]:
        commit = repo.git.objects[sha]
        assert isinstance(commit, Commit)

        def person(who: Signature) -> dict[str, Any]:
            found = {"name": who.name, "email": who.email}
            account = self._commit_account(context, who)
            if account:
                found["username"] = account["login"]
            return found

        return {
            "id": sha,
            "tree_id": commit.tree,
            "distinct": True,
            "message": commit.message,
            "timestamp": commit.committer.date,
            "url": f"{context.web_url}/{repo.full_name}/commit/{sha}",
            "author": person(commit.author),
            "committer": person(commit.committer),
            **changes,
        }

    def _hook_repo_json(self, context: Context, repo: Repo) -> dict[str, Any]:
        # A push payload's repository: the REST one with Unix times for created_at / pushed_at, the owner's
        # name and e-mail, `organization` as a login, and no `permissions` (a delivery has no viewer).
        values = self._repo_values(context, repo)
        for key in ("permissions", "organization", "network_count", "subscribers_count"):
            values.pop(key, None)
        owner = self._accounts[repo.owner.lower()]
        values.update(
            {
                "owner": {**values["owner"], "name": owner.name or owner.login, "email": None},
                "created_at": _unix(repo.created_at),
                "pushed_at": _unix(repo.pushed_at),
                "stargazers": 0,
                "master_branch": repo.default_branch,
                "custom_properties": {},
            }
        )
        if owner.type == "Organization":
            values["organization"] = owner.login
        return values

    # -- HTTP --------------------------------------------------------------------------------------

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        limited = None
        if self._secondary is not None:
            method = handler.command
            write = method not in ("GET", "HEAD", "OPTIONS")
            key = (handler.headers.get("Authorization") or "").partition(" ")[2].strip() or "anonymous"
            path = urlsplit(handler.path).path
            path = path[len(self.prefix) :] if self.prefix and path.startswith(self.prefix + "/") else path
            limited = self._secondary_admit(key, method, path, write)
            handler.slipway_flight = (key, write)  # type: ignore[attr-defined]
        try:
            self._serve_request(handler, limited)
        finally:
            self._land(handler)

    def _serve_request(self, handler: BaseHTTPRequestHandler, limited: FaultRule | None) -> None:
        method = handler.command
        split = urlsplit(handler.path)
        prefix = self.prefix if self.prefix and split.path.startswith(self.prefix + "/") else ""
        raw_path = split.path[len(prefix) :] or "/"
        path = unquote(raw_path)
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        length = int(handler.headers.get("Content-Length") or 0)
        raw_body = handler.rfile.read(length) if length else b""
        host = handler.headers.get("Host") or f"127.0.0.1:{self.port}"
        headers = {key.lower(): value for key, value in handler.headers.items()}
        request_id = f"FAKE:{next(self._request_ids):06d}"

        route, params, path_known = schema.find_route(method, self._canonical_path(raw_path))
        body: Any = None
        problem: schema.Problem | None = None
        if raw_body:
            try:
                body = json.loads(raw_body)
            except ValueError:
                problem = schema.Problem(400, "Problems parsing JSON", ["body is not JSON"])
        if route is None:
            kind = "unknown-operation"
            detail = (
                "method not described for this path" if path_known else "path not in tests/github-openapi"
            )
            problem = problem or schema.Problem(404, "Not Found", [detail])
        else:
            kind = "request"
            problem = problem or schema.validate_request(route, params, query, raw_body, headers)
        if problem is not None:  # recorded whatever else happens to the request (fault, 401...)
            self._violate(kind, method, path, problem.status, problem.details)

        delay, rule = self._take_faults(method, path)
        if rule is None:
            rule = limited
        if delay:
            self._stopping.wait(delay)

        login = None
        if rule is not None and not rule.apply_first:
            self._answer_fault(handler, rule, method, path, query, body, request_id)
            return

        context = Context(
            method,
            path,
            params,
            query,
            body,
            host,
            f"http://{host}{prefix}",
            f"http://{host}",
            None,
            schema.BodyBuilder(f"http://{host}{prefix}", _now()),
            headers,
        )
        try:
            context.credential = self._authenticate(headers.get("authorization"), route)
            login = context.credential.login if context.credential else None
            if problem is not None:
                raise ApiError(problem.status, problem.message)
            assert route is not None
            action = self._handlers.get((route.method, route.template))
            if action is None:
                self._violate(
                    "unimplemented", method, path, 404, [f"the fake has no handler for {route.template}"]
                )
                raise ApiError(404, "Not Found")
            with self._lock:
                self._check_visible(context)
                reply = action(context)
        except ApiError as error:
            reply = self._error_reply(error)
        except GitError as error:
            reply = self._error_reply(ApiError(error.status, error.message))
        except Exception as error:  # a bug in the fake: make it fail the test, not hang the client
            self._violate("fake-error", method, path, 500, [f"{type(error).__name__}: {error}"])
            reply = self._error_reply(ApiError(500, "Server Error"))

        if rule is not None:  # apply-then-fail: the work is done, the answer is lost
            self._answer_fault(handler, rule, method, path, query, body, request_id, login)
            return

        if reply.raw is not None:
            data = reply.raw
        else:
            data = b"" if reply.body is None else json.dumps(reply.body).encode()
        if method == "GET" and reply.status == 200:
            reply, data = self._conditional(reply, data, headers.get("if-none-match"))
        # Neither GET /rate_limit nor a 304 counts against the primary rate limit (GitHub: "Making a
        # conditional request does not count against your primary rate limit if a 304 response is
        # returned and the request was made while correctly authorized with an Authorization header";
        # every GET but /rate_limit needs a token here, so a 304 was authorized).
        counted = path != "/rate_limit" and reply.status != 304
        for key, value in self._rate_headers(context.credential, count=counted).items():
            reply.headers.setdefault(key, value)
        reply.headers.setdefault("X-GitHub-Request-Id", request_id)
        if context.credential is not None and context.credential.kind == "user":
            reply.headers["X-OAuth-Scopes"] = ", ".join(context.credential.scopes)
        if route is not None and problem is None:
            response_problems = schema.validate_response(
                route,
                params,
                query,
                reply.status,
                data,
                {k: str(v) for k, v in reply.headers.items()},
                content_type=reply.headers.get("Content-Type", "application/json"),
                request_headers=headers,
            )
            if response_problems:
                self._violate("response", method, path, reply.status, response_problems)
        self._record(method, path, reply.status, query, body, login, None, counted=counted)
        self._send(handler, reply.status, reply.headers, data)

    @staticmethod
    def _conditional(reply: Reply, data: bytes, if_none_match: str | None) -> tuple[Reply, bytes]:
        """Give a 200 GET answer its ETag (and GitHub's caching headers); a 304 without a body instead
        when the client already holds that representation. Any GET, as GitHub sends ETags on nearly all."""
        etag = reply.headers.setdefault("ETag", etag_of(data))
        reply.headers.setdefault("Cache-Control", "private, max-age=60, s-maxage=60")
        reply.headers.setdefault("Vary", "Accept, Authorization, Cookie, X-GitHub-OTP")
        if not etag_matches(if_none_match, etag):
            return reply, data
        kept = {key: value for key, value in reply.headers.items() if key in NOT_MODIFIED_HEADERS}
        return Reply(304, None, kept), b""

    def _canonical_path(self, raw_path: str) -> str:
        # GitHub answers team URLs as /organizations/{org_id}/team/{team_id}, and clients follow them:
        # the same operation as /orgs/{org}/teams/{team_slug} (documented as its alternative route).
        found = _LEGACY_TEAM.fullmatch(raw_path)
        if found is None:
            return raw_path
        with self._lock:
            for team in self._teams.values():
                org = self._accounts[team.org.lower()]
                if str(org.id) == found["org_id"] and str(team.id) == found["team_id"]:
                    return f"/orgs/{quote(org.login)}/teams/{quote(team.slug)}{found['rest'] or ''}"
        return raw_path

    def _violate(self, kind: str, method: str, path: str, status: int, details: list[str]) -> None:
        with self._lock:
            self._violations.append(Violation(kind, method, path, status, details))

    def _record(
        self,
        method: str,
        path: str,
        status: int,
        query: dict[str, str],
        body: Any,
        login: str | None,
        fault: str | None,
        *,
        counted: bool = False,
    ) -> None:
        # Recorded before the answer is written, so a client that got its answer sees its call here.
        with self._lock:
            self._calls.append(Call(method, path, status))
            if counted:
                self._counted.append(Call(method, path, status))
            self._requests.append(RecordedRequest(method, path, status, query, body, login, fault))

    def _error_reply(self, error: ApiError) -> Reply:
        body: dict[str, Any] = {
            "message": error.message,
            "documentation_url": DOCS,
            "status": str(error.status),
        }
        if error.errors is not None:
            body["errors"] = error.errors
        return Reply(error.status, body, dict(error.headers))

    def _answer_fault(
        self,
        handler: BaseHTTPRequestHandler,
        rule: FaultRule,
        method: str,
        path: str,
        query: dict[str, str],
        body: Any,
        request_id: str,
        login: str | None = None,
    ) -> None:
        if rule.kind in ("drop", "hang"):
            self._record(method, path, 0, query, body, login, rule.kind)
            if rule.kind == "hang":
                self._stopping.wait(rule.seconds)
            self._land(handler)
            handler.close_connection = True
            try:
                # Linger 0: closing sends a TCP reset, as a dying proxy does, not a polite FIN.
                handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                handler.connection.close()
            except OSError:
                pass
            return
        headers = self._rate_headers(None, count=False)
        headers["X-GitHub-Request-Id"] = request_id
        if rule.kind == "secondary_rate_limit":
            message = SECONDARY_RATE_LIMIT_MESSAGE.format(request_id=request_id)
        elif rule.kind == "primary_rate_limit":
            account = self._accounts.get((login or self.login).lower())
            message = f"API rate limit exceeded for user ID {account.id if account else 1}."
            headers.update(
                {
                    "x-ratelimit-remaining": "0",
                    "x-ratelimit-used": str(self.rate_limit),
                    "x-ratelimit-reset": str(int(time.time()) + rule.reset_in),
                }
            )
        elif rule.kind == "too_many_requests":
            message = "Too Many Requests"
        else:
            message = {500: "Server Error", 502: "Server Error", 503: "Service Unavailable"}.get(
                rule.status, "Server Error"
            )
        if rule.retry_after is not None:
            headers["Retry-After"] = str(rule.retry_after)
        data = json.dumps(
            {"message": message, "documentation_url": DOCS, "status": str(rule.status)}
        ).encode()
        self._record(method, path, rule.status, query, body, login, rule.kind)
        self._send(handler, rule.status, headers, data)

    def _send(
        self, handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str], data: bytes
    ) -> None:
        self._land(handler)
        handler.send_response(status)
        sent = {
            "Content-Type": "application/json; charset=utf-8",
            "X-GitHub-Media-Type": "github.v3; format=json",
            "X-GitHub-Api-Version-Selected": "2022-11-28",
            **headers,  # a raw answer brings its own Content-Type and X-GitHub-Media-Type
        }
        if status == 304:
            # No body, so no Content-Type; and no Content-Length, which would have to be the 200's.
            sent.pop("Content-Type")
        for key, value in sent.items():
            handler.send_header(key, value)
        if status != 304:
            handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        if data and handler.command != "HEAD":
            handler.wfile.write(data)

    def _rate_headers(self, credential: Credential | None, count: bool = True) -> dict[str, str]:
        key = credential.token if credential else "anonymous"
        with self._lock:
            now = int(time.time())
            window = self._rates.get(key)
            if window is None or window[0] <= now:
                window = self._rates[key] = [now + 3600, 0]
            window[1] += count
            return {
                "x-ratelimit-limit": str(self.rate_limit),
                "x-ratelimit-remaining": str(max(self.rate_limit - window[1], 0)),
                "x-ratelimit-reset": str(window[0]),
                "x-ratelimit-used": str(window[1]),
                "x-ratelimit-resource": "core",
            }

    # -- authentication ----------------------------------------------------------------------------

    APP_OPERATIONS = frozenset(
        {"/orgs/{org}/installation", "/app/installations/{installation_id}/access_tokens"}
    )

    def _authenticate(self, header: str | None, route: schema.Route | None) -> Credential | None:
        template = route.template if route else ""
        if not header:
            if template == "/rate_limit":
                return None
            raise ApiError(401, "Requires authentication")
        scheme, _, value = header.partition(" ")
        value = value.strip()
        if scheme.lower() not in ("token", "bearer") or not value:
            raise ApiError(401, "Bad credentials")
        if template in self.APP_OPERATIONS:
            if value.count(".") != 2:
                raise ApiError(401, "A JSON web token could not be decoded")
            return self._check_jwt(value)
        with self._lock:
            credential = self._credentials.get(value)
            if credential is None or credential.expired:
                raise ApiError(401, "Bad credentials")
            window = self._rates.get(credential.token)
            if window is not None and window[0] > time.time() and window[1] >= self.rate_limit:
                account = self._accounts.get((credential.login or "").lower())
                headers = {
                    "x-ratelimit-limit": str(self.rate_limit),
                    "x-ratelimit-remaining": "0",
                    "x-ratelimit-reset": str(window[0]),
                    "x-ratelimit-used": str(window[1]),
                    "x-ratelimit-resource": "core",
                }
                message = f"API rate limit exceeded for user ID {account.id if account else 1}."
                raise ApiError(403, message, headers=headers)
            return credential

    def _check_jwt(self, token: str) -> Credential:
        try:
            payload_part = token.split(".")[1]
            payload = json.loads(base64.urlsafe_b64decode(payload_part + "=" * (-len(payload_part) % 4)))
            issued, expires, issuer = float(payload["iat"]), float(payload["exp"]), str(payload["iss"])
        except (ValueError, KeyError, TypeError, IndexError) as error:
            raise ApiError(401, "A JSON web token could not be decoded") from error
        now = time.time()
        if expires <= now:
            raise ApiError(
                401,
                "'Expiration time' claim ('exp') must be a numeric value representing the future time at "
                "which the assertion expires",
            )
        if expires - issued > 600:
            raise ApiError(401, "'Expiration time' claim ('exp') is too far in the future")
        with self._lock:
            installations = [item for item in self._installations.values() if item.app_id == issuer]
        if not installations:
            raise ApiError(401, "A JSON web token could not be decoded")
        key = installations[0].public_key
        if key is not None:
            import jwt

            try:
                jwt.decode(
                    token, key, algorithms=["RS256"], options={"verify_exp": False, "verify_iat": False}
                )
            except jwt.PyJWTError as error:
                raise ApiError(401, "A JSON web token could not be decoded") from error
        return Credential(token, "app", app_id=issuer)

    # -- helpers for handlers ----------------------------------------------------------------------

    def _require_token(self, context: Context) -> Credential:
        credential = context.credential
        if credential is None:
            raise ApiError(401, "Requires authentication")
        if credential.kind == "app":
            raise ApiError(403, "Resource not accessible by integration")
        return credential

    def _check_visible(self, context: Context) -> None:
        owner, name = context.params.get("owner"), context.params.get("repo")
        if owner is None or name is None:
            return
        repo = self._repos.get(f"{owner}/{name}".lower())
        if repo is not None and repo.hidden_calls > 0:
            repo.hidden_calls -= 1
            raise ApiError(404, "Not Found")

    def _account(self, login: str) -> Account:
        account = self._accounts.get(login.lower())
        if account is None:
            raise ApiError(404, "Not Found")
        return account

    def _org(self, login: str) -> Account:
        account = self._account(login)
        if account.type != "Organization":
            raise ApiError(404, "Not Found")
        return account

    def _repo(self, context: Context) -> Repo:
        credential = self._require_token(context)
        repo = self._repos.get(f"{context.params['owner']}/{context.params['repo']}".lower())
        if repo is None or (credential.org is not None and repo.owner.lower() != credential.org.lower()):
            raise ApiError(404, "Not Found")
        return repo

    @staticmethod
    def _nonempty(repo: Repo) -> None:
        if not repo.refs:
            raise ApiError(409, "Git Repository is empty.")

    def _signature(self, context: Context, given: Any, fallback: Signature | None = None) -> Signature:
        if isinstance(given, dict) and given.get("name") and given.get("email"):
            return Signature(given["name"], given["email"], given.get("date") or _now())
        if fallback is not None:
            return fallback
        credential = context.credential
        account = self._accounts[
            (credential.login if credential and credential.login else self.login).lower()
        ]
        return Signature(
            account.name or account.login, f"{account.id}+{account.login}@users.noreply.github.com", _now()
        )

    # -- JSON --------------------------------------------------------------------------------------

    def _user_json(self, context: Context, account: Account) -> dict[str, Any]:
        url = f"{context.api_url}/users/{account.login}"
        return {
            "login": account.login,
            "id": account.id,
            "node_id": _node_id(account.type, account.id),
            "avatar_url": f"{context.web_url}/avatars/u/{account.id}",
            "gravatar_id": "",
            "url": url,
            "html_url": f"{context.web_url}/{account.login}",
            "followers_url": f"{url}/followers",
            "following_url": f"{url}/following{{/other_user}}",
            "gists_url": f"{url}/gists{{/gist_id}}",
            "starred_url": f"{url}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{url}/subscriptions",
            "organizations_url": f"{url}/orgs",
            "repos_url": f"{url}/repos",
            "events_url": f"{url}/events{{/privacy}}",
            "received_events_url": f"{url}/received_events",
            "type": account.type,
            "site_admin": False,
        }

    def _profile_json(self, context: Context, account: Account) -> dict[str, Any]:
        public_repos = sum(
            1 for repo in self._repos.values() if repo.owner == account.login and not repo.private
        )
        return {
            **self._user_json(context, account),
            "name": account.name,
            "company": None,
            "blog": "",
            "location": None,
            "email": None,
            "hireable": None,
            "bio": None,
            "public_repos": public_repos,
            "public_gists": 0,
            "followers": 0,
            "following": 0,
            "created_at": account.created_at,
            "updated_at": account.created_at,
        }

    def _org_json(self, context: Context, account: Account) -> dict[str, Any]:
        url = f"{context.api_url}/orgs/{account.login}"
        return {
            "login": account.login,
            "id": account.id,
            "node_id": _node_id("Organization", account.id),
            "url": url,
            "repos_url": f"{url}/repos",
            "events_url": f"{url}/events",
            "hooks_url": f"{url}/hooks",
            "issues_url": f"{url}/issues",
            "members_url": f"{url}/members{{/member}}",
            "public_members_url": f"{url}/public_members{{/member}}",
            "avatar_url": f"{context.web_url}/avatars/u/{account.id}",
            "description": None,
            "name": account.name,
            "html_url": f"{context.web_url}/{account.login}",
            "has_organization_projects": True,
            "has_repository_projects": True,
            "public_repos": sum(1 for repo in self._repos.values() if repo.owner == account.login),
            "public_gists": 0,
            "followers": 0,
            "following": 0,
            "type": "Organization",
            "created_at": account.created_at,
            "updated_at": account.created_at,
            "archived_at": None,
        }

    def _team_json(self, context: Context, team: Team) -> dict[str, Any]:
        org = self._accounts[team.org.lower()]
        url = f"{context.api_url}/organizations/{org.id}/team/{team.id}"
        return {
            "id": team.id,
            "node_id": _node_id("Team", team.id),
            "url": url,
            "html_url": f"{context.web_url}/orgs/{org.login}/teams/{team.slug}",
            "name": team.name,
            "slug": team.slug,
            "description": team.description,
            "privacy": "closed",
            "notification_setting": "notifications_enabled",
            "permission": team.permission,
            "members_url": f"{url}/members{{/member}}",
            "repositories_url": f"{url}/repos",
            "parent": None,
            "type": "organization",
            "organization_id": org.id,
        }

    def _team_full_json(self, context: Context, team: Team) -> dict[str, Any]:
        org = self._accounts[team.org.lower()]
        return {
            **self._team_json(context, team),
            "members_count": 0,
            "repos_count": len(team.repos),
            "created_at": team.created_at,
            "updated_at": team.created_at,
            "organization": {**self._org_json(context, org), "is_verified": False},
        }

    def _repo_json(self, context: Context, repo: Repo) -> dict[str, Any]:
        return context.build("full-repository", self._repo_values(context, repo))

    def _minimal_repo_json(self, context: Context, repo: Repo) -> dict[str, Any]:
        # List answers carry GitHub's shorter repository (no organization, network or subscriber counts).
        allowed = schema.component("minimal-repository")["properties"]
        values = {key: value for key, value in self._repo_values(context, repo).items() if key in allowed}
        return context.build("minimal-repository", values)

    def _repo_values(self, context: Context, repo: Repo) -> dict[str, Any]:
        owner = self._accounts[repo.owner.lower()]
        base = f"{context.api_url}/repos/{repo.full_name}"
        html = f"{context.web_url}/{repo.full_name}"
        templates = {
            "archive_url": "/{archive_format}{/ref}", "assignees_url": "/assignees{/user}",
            "blobs_url": "/git/blobs{/sha}", "branches_url": "/branches{/branch}",
            "collaborators_url": "/collaborators{/collaborator}", "comments_url": "/comments{/number}",
            "commits_url": "/commits{/sha}", "compare_url": "/compare/{base}...{head}",
            "contents_url": "/contents/{+path}", "contributors_url": "/contributors",
            "deployments_url": "/deployments", "downloads_url": "/downloads", "events_url": "/events",
            "forks_url": "/forks", "git_commits_url": "/git/commits{/sha}", "git_refs_url": "/git/refs{/sha}",
            "git_tags_url": "/git/tags{/sha}", "hooks_url": "/hooks",
            "issue_comment_url": "/issues/comments{/number}", "issue_events_url": "/issues/events{/number}",
            "issues_url": "/issues{/number}", "keys_url": "/keys{/key_id}", "labels_url": "/labels{/name}",
            "languages_url": "/languages", "merges_url": "/merges", "milestones_url": "/milestones{/number}",
            "notifications_url": "/notifications{?since,all,participating}", "pulls_url": "/pulls{/number}",
            "releases_url": "/releases{/id}", "stargazers_url": "/stargazers", "statuses_url": "/statuses/{sha}",
            "subscribers_url": "/subscribers", "subscription_url": "/subscription", "tags_url": "/tags",
            "teams_url": "/teams", "trees_url": "/git/trees{/sha}",
        }  # fmt: skip
        values: dict[str, Any] = {name: base + suffix for name, suffix in templates.items()}
        values.update(
            {
                "id": repo.id,
                "node_id": _node_id("Repository", repo.id),
                "name": repo.name,
                "full_name": repo.full_name,
                "owner": self._user_json(context, owner),
                "private": repo.private,
                "visibility": repo.visibility,
                "html_url": html,
                "description": repo.description,
                "fork": False,
                "url": base,
                "clone_url": f"{html}.git",
                "git_url": f"git://{context.host}/{repo.full_name}.git",
                "ssh_url": f"git@{context.host}:{repo.full_name}.git",
                "svn_url": html,
                "mirror_url": None,
                "homepage": repo.homepage,
                "language": None,
                "forks_count": 0,
                "forks": 0,
                "stargazers_count": 0,
                "watchers_count": 0,
                "watchers": 0,
                "size": 0,
                "default_branch": repo.default_branch,
                "open_issues_count": 0,
                "open_issues": 0,
                "is_template": repo.is_template,
                "topics": [],
                "has_issues": repo.has_issues,
                "has_projects": repo.has_projects,
                "has_wiki": repo.has_wiki,
                "has_pages": False,
                "has_downloads": True,
                "has_discussions": False,
                "archived": repo.archived,
                "disabled": False,
                "pushed_at": repo.pushed_at,
                "created_at": repo.created_at,
                "updated_at": repo.updated_at,
                "license": None,
                "network_count": 0,
                "subscribers_count": 0,
                "permissions": {"admin": True, "maintain": True, "push": True, "triage": True, "pull": True},
                "allow_squash_merge": True,
                "allow_merge_commit": True,
                "allow_rebase_merge": True,
                "allow_auto_merge": False,
                "delete_branch_on_merge": False,
            }
        )
        if owner.type == "Organization":
            values["organization"] = self._user_json(context, owner)
        return values

    def _commit_json(self, context: Context, repo: Repo, sha: str) -> dict[str, Any]:
        commit = repo.git.objects[sha]
        assert isinstance(commit, Commit)
        base = f"{context.api_url}/repos/{repo.full_name}/git"
        html = f"{context.web_url}/{repo.full_name}/commit"
        return context.build(
            "git-commit",
            {
                "sha": sha,
                "node_id": _node_id("Commit", int(sha[:7], 16)),
                "url": f"{base}/commits/{sha}",
                "html_url": f"{html}/{sha}",
                "author": {
                    "name": commit.author.name,
                    "email": commit.author.email,
                    "date": commit.author.date,
                },
                "committer": {
                    "name": commit.committer.name,
                    "email": commit.committer.email,
                    "date": commit.committer.date,
                },
                "message": commit.message,
                "tree": {"sha": commit.tree, "url": f"{base}/trees/{commit.tree}"},
                "parents": [
                    {"sha": parent, "url": f"{base}/commits/{parent}", "html_url": f"{html}/{parent}"}
                    for parent in commit.parents
                ],
                "verification": {
                    "verified": False,
                    "reason": "unsigned",
                    "signature": None,
                    "payload": None,
                    "verified_at": None,
                },
            },
        )

    def _tree_json(self, context: Context, repo: Repo, sha: str, recursive: bool) -> dict[str, Any]:
        base = f"{context.api_url}/repos/{repo.full_name}/git"
        entries = []
        for path, entry in repo.git.walk(sha, recursive):
            item: dict[str, Any] = {"path": path, "mode": entry.mode, "type": entry.type, "sha": entry.sha}
            blob = repo.git.objects.get(entry.sha)
            if isinstance(blob, Blob):
                item.update(size=len(blob.data), url=f"{base}/blobs/{entry.sha}")
            elif entry.type == "tree":
                item["url"] = f"{base}/trees/{entry.sha}"
            entries.append(item)
        return context.build(
            "git-tree", {"sha": sha, "url": f"{base}/trees/{sha}", "tree": entries, "truncated": False}
        )

    def _ref_json(self, context: Context, repo: Repo, ref: str) -> dict[str, Any]:
        base = f"{context.api_url}/repos/{repo.full_name}/git"
        sha = repo.refs[ref]
        return context.build(
            "git-ref",
            {
                "ref": ref,
                "node_id": _node_id("Ref", repo.id),
                "url": f"{base}/{ref}",
                "object": {"type": "commit", "sha": sha, "url": f"{base}/commits/{sha}"},
            },
        )

    def _environment_json(self, context: Context, repo: Repo, environment: Environment) -> dict[str, Any]:
        rules: list[dict[str, Any]] = []
        ids = environment.rule_ids
        if environment.wait_timer:
            rules.append(
                {
                    "id": ids["wait_timer"],
                    "node_id": _node_id("Gate", ids["wait_timer"]),
                    "type": "wait_timer",
                    "wait_timer": environment.wait_timer,
                }
            )
        if environment.reviewers:
            reviewers = []
            for kind, number in environment.reviewers:
                if kind == "Team":
                    team = next(team for team in self._teams.values() if team.id == number)
                    reviewer = self._team_json(context, team)
                else:
                    account = next(account for account in self._accounts.values() if account.id == number)
                    reviewer = self._user_json(context, account)
                reviewers.append({"type": kind, "reviewer": reviewer})
            rules.append(
                {
                    "id": ids["required_reviewers"],
                    "node_id": _node_id("Gate", ids["required_reviewers"]),
                    "type": "required_reviewers",
                    "prevent_self_review": environment.prevent_self_review,
                    "reviewers": reviewers,
                }
            )
        if environment.deployment_branch_policy:
            rules.append(
                {
                    "id": ids["branch_policy"],
                    "node_id": _node_id("Gate", ids["branch_policy"]),
                    "type": "branch_policy",
                }
            )
        name = quote(environment.name, safe="")
        return context.build(
            "environment",
            {
                "id": environment.id,
                "node_id": _node_id("Environment", environment.id),
                "name": environment.name,
                "url": f"{context.api_url}/repos/{repo.full_name}/environments/{name}",
                "html_url": f"{context.web_url}/{repo.full_name}/deployments/activity_log?environments_filter={name}",
                "created_at": environment.created_at,
                "updated_at": environment.updated_at,
                "protection_rules": rules,
                "deployment_branch_policy": environment.deployment_branch_policy,
            },
        )

    def _protection_values(self, context: Context, repo: Repo, branch: str) -> dict[str, Any]:
        settings = repo.protections[branch]
        url = f"{context.api_url}/repos/{repo.full_name}/branches/{quote(branch, safe='')}/protection"
        values: dict[str, Any] = {
            "url": url,
            "enforce_admins": {
                "url": f"{url}/enforce_admins",
                "enabled": bool(settings.get("enforce_admins")),
            },
            "required_signatures": {"url": f"{url}/required_signatures", "enabled": False},
        }
        for flag in (
            "required_linear_history",
            "allow_force_pushes",
            "allow_deletions",
            "block_creations",
            "required_conversation_resolution",
            "lock_branch",
            "allow_fork_syncing",
        ):
            values[flag] = {"enabled": bool(settings.get(flag))}
        checks = settings.get("required_status_checks")
        if checks:
            contexts = list(checks.get("contexts") or [])
            listed = checks.get("checks") or [{"context": name} for name in contexts]
            values["required_status_checks"] = {
                "url": f"{url}/required_status_checks",
                "strict": bool(checks.get("strict")),
                "contexts": contexts or [item["context"] for item in listed],
                "checks": [{"context": item["context"], "app_id": item.get("app_id")} for item in listed],
                "contexts_url": f"{url}/required_status_checks/contexts",
            }
        reviews = settings.get("required_pull_request_reviews")
        if reviews is not None:
            values["required_pull_request_reviews"] = {
                "url": f"{url}/required_pull_request_reviews",
                "dismiss_stale_reviews": bool(reviews.get("dismiss_stale_reviews")),
                "require_code_owner_reviews": bool(reviews.get("require_code_owner_reviews")),
                "required_approving_review_count": int(reviews.get("required_approving_review_count", 1)),
                "require_last_push_approval": bool(reviews.get("require_last_push_approval")),
            }
        restrictions = settings.get("restrictions")
        if restrictions is not None:
            teams = [
                self._teams[(repo.owner.lower(), slug.lower())] for slug in restrictions.get("teams", [])
            ]
            users = [self._accounts[login.lower()] for login in restrictions.get("users", [])]
            values["restrictions"] = {
                "url": f"{url}/restrictions",
                "users_url": f"{url}/restrictions/users",
                "teams_url": f"{url}/restrictions/teams",
                "apps_url": f"{url}/restrictions/apps",
                "users": [self._user_json(context, user) for user in users],
                "teams": [self._team_json(context, team) for team in teams],
                "apps": [],
            }
        return values

    def _commit_account(self, context: Context, who: Signature) -> dict[str, Any]:
        # GitHub links a commit to the account whose (noreply) e-mail it carries; else an empty object.
        login = who.email.partition("+")[2].partition("@")[0]
        account = (
            self._accounts.get(login.lower()) if who.email.endswith("@users.noreply.github.com") else None
        )
        return self._user_json(context, account) if account else {}

    def _branch_json(self, context: Context, repo: Repo, branch: str) -> dict[str, Any]:
        sha = repo.refs[f"refs/heads/{branch}"]
        commit = repo.git.objects[sha]
        assert isinstance(commit, Commit)
        api = f"{context.api_url}/repos/{repo.full_name}"
        html = f"{context.web_url}/{repo.full_name}"
        protected = branch in repo.protections
        protection = (
            {"enabled": True, **self._protection_values(context, repo, branch)}
            if protected
            else {"enabled": False, "required_status_checks": {"enforcement_level": "off", "contexts": []}}
        )
        git_commit = self._commit_json(context, repo, sha)
        return context.build(
            "branch-with-protection",
            {
                "name": branch,
                "commit": {
                    "sha": sha,
                    "node_id": git_commit["node_id"],
                    "url": f"{api}/commits/{sha}",
                    "html_url": f"{html}/commit/{sha}",
                    "comments_url": f"{api}/commits/{sha}/comments",
                    "commit": {
                        "url": git_commit["url"],
                        "author": git_commit["author"],
                        "committer": git_commit["committer"],
                        "message": commit.message,
                        "comment_count": 0,
                        "tree": git_commit["tree"],
                        "verification": git_commit["verification"],
                    },
                    "author": self._commit_account(context, commit.author),
                    "committer": self._commit_account(context, commit.committer),
                    "parents": [
                        {
                            "sha": parent,
                            "url": f"{api}/commits/{parent}",
                            "html_url": f"{html}/commit/{parent}",
                        }
                        for parent in commit.parents
                    ],
                },
                "_links": {
                    "self": f"{api}/branches/{quote(branch, safe='')}",
                    "html": f"{html}/tree/{branch}",
                },
                "protected": protected,
                "protection": protection,
                "protection_url": f"{api}/branches/{quote(branch, safe='')}/protection",
            },
        )

    # -- handlers ----------------------------------------------------------------------------------

    def _routes(self) -> dict[tuple[str, str], Handler]:
        repo = "/repos/{owner}/{repo}"
        return {
            ("GET", "/user"): self._get_authenticated_user,
            ("GET", "/users/{username}"): self._get_user,
            ("GET", "/orgs/{org}"): self._get_org,
            ("GET", "/rate_limit"): self._get_rate_limit,
            ("GET", "/orgs/{org}/installation"): self._get_org_installation,
            ("POST", "/app/installations/{installation_id}/access_tokens"): self._create_installation_token,
            ("POST", "/orgs/{org}/repos"): self._create_org_repo,
            ("GET", "/orgs/{org}/repos"): self._list_org_repos,
            ("POST", "/user/repos"): self._create_user_repo,
            ("GET", repo): self._get_repo,
            ("PATCH", repo): self._update_repo,
            ("DELETE", repo): self._delete_repo,
            ("POST", repo + "/git/blobs"): self._create_blob,
            ("POST", repo + "/git/trees"): self._create_tree,
            ("GET", repo + "/git/trees/{tree_sha}"): self._get_tree,
            ("POST", repo + "/git/commits"): self._create_commit,
            ("GET", repo + "/git/commits/{commit_sha}"): self._get_commit,
            ("POST", repo + "/git/refs"): self._create_ref,
            ("GET", repo + "/git/ref/{ref}"): self._get_ref,
            ("PATCH", repo + "/git/refs/{ref}"): self._update_ref,
            ("GET", repo + "/contents/{path}"): self._get_content,
            ("GET", repo + "/branches/{branch}"): self._get_branch,
            ("GET", repo + "/branches/{branch}/protection"): self._get_protection,
            ("PUT", repo + "/branches/{branch}/protection"): self._put_protection,
            ("GET", repo + "/environments"): self._list_environments,
            ("GET", repo + "/environments/{environment_name}"): self._get_environment,
            ("PUT", repo + "/environments/{environment_name}"): self._put_environment,
            (
                "POST",
                repo + "/environments/{environment_name}/deployment-branch-policies",
            ): self._add_branch_policy,
            ("GET", "/orgs/{org}/teams"): self._list_teams,
            ("GET", "/orgs/{org}/teams/{team_slug}"): self._get_team,
            ("PUT", "/orgs/{org}/teams/{team_slug}/repos/{owner}/{repo}"): self._grant_team,
        }

    # users, organizations, rate limit, apps

    def _get_authenticated_user(self, context: Context) -> Reply:
        credential = self._require_token(context)
        if credential.kind != "user":
            raise ApiError(403, "Resource not accessible by integration")
        account = self._account(credential.login or "")
        values = {
            **self._profile_json(context, account),
            "private_gists": 0,
            "total_private_repos": 0,
            "owned_private_repos": 0,
            "disk_usage": 0,
            "collaborators": 0,
            "two_factor_authentication": True,
            "user_view_type": "private",  # the discriminator of the oneOf GitHub answers
        }
        return Reply(200, context.build("private-user", values))

    def _get_user(self, context: Context) -> Reply:
        self._require_token(context)
        account = self._account(context.params["username"])
        values = {**self._profile_json(context, account), "user_view_type": "public"}
        return Reply(200, context.build("public-user", values))

    def _get_org(self, context: Context) -> Reply:
        self._require_token(context)
        return Reply(
            200, context.build("organization-full", self._org_json(context, self._org(context.params["org"])))
        )

    def _get_rate_limit(self, context: Context) -> Reply:
        key = context.credential.token if context.credential else "anonymous"
        reset, used = self._rates.get(key, [int(time.time()) + 3600, 0])
        core = {
            "limit": self.rate_limit,
            "remaining": max(self.rate_limit - used, 0),
            "reset": reset,
            "used": used,
        }
        other = {"limit": self.rate_limit, "remaining": self.rate_limit, "reset": reset, "used": 0}
        body = {
            "resources": {"core": core, "graphql": other, "search": {**other, "limit": 30, "remaining": 30}},
            "rate": core,
        }
        return Reply(200, context.build("rate-limit-overview", body))

    def _installation_json(self, context: Context, installation: Installation) -> dict[str, Any]:
        org = self._accounts[installation.org.lower()]
        permissions = {
            "administration": "write",
            "contents": "write",
            "environments": "write",
            "metadata": "read",
            "members": "read",
        }
        if installation.workflows:
            permissions["workflows"] = "write"
        return context.build(
            "installation",
            {
                "id": installation.id,
                "app_id": int(installation.app_id),
                "app_slug": installation.app_slug,
                "target_id": org.id,
                "target_type": "Organization",
                "single_file_name": None,
                "repository_selection": "all",
                "access_tokens_url": f"{context.api_url}/app/installations/{installation.id}/access_tokens",
                "html_url": f"{context.web_url}/organizations/{org.login}/settings/installations/{installation.id}",
                "repositories_url": f"{context.api_url}/installation/repositories",
                "events": [],
                "account": self._user_json(context, org),
                "permissions": permissions,
                "created_at": installation.created_at,
                "updated_at": installation.created_at,
                "suspended_by": None,
                "suspended_at": None,
            },
        )

    def _get_org_installation(self, context: Context) -> Reply:
        assert context.credential is not None
        org = self._org(context.params["org"])
        for installation in self._installations.values():
            if (
                installation.org.lower() == org.login.lower()
                and installation.app_id == context.credential.app_id
            ):
                return Reply(200, self._installation_json(context, installation))
        raise ApiError(404, "Not Found")

    def _create_installation_token(self, context: Context) -> Reply:
        assert context.credential is not None
        installation = self._installations.get(int(context.params["installation_id"]))
        if installation is None or installation.app_id != context.credential.app_id:
            raise ApiError(404, "Not Found")
        token = "ghs_" + secrets.token_hex(18)
        bot = f"{installation.app_slug}[bot]"
        self._credentials[token] = Credential(
            token, "installation", bot, installation.workflows, (), installation.org, installation.app_id
        )
        expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
        permissions = self._installation_json(context, installation)["permissions"]
        body = {
            "token": token,
            "expires_at": expires,
            "permissions": permissions,
            "repository_selection": "all",
        }
        return Reply(201, context.build("installation-token", body))

    # repositories

    def _create_org_repo(self, context: Context) -> Reply:
        credential = self._require_token(context)
        org = self._org(context.params["org"])
        if credential.org is not None and credential.org.lower() != org.login.lower():
            raise ApiError(404, "Not Found")
        return self._create_repo(context, org)

    def _create_user_repo(self, context: Context) -> Reply:
        credential = self._require_token(context)
        if credential.kind != "user":
            raise ApiError(403, "Resource not accessible by integration")
        return self._create_repo(context, self._account(credential.login or ""))

    def _create_repo(self, context: Context, owner: Account) -> Reply:
        body = context.json()
        # GitHub replaces characters it does not allow in names by "-".
        name = re.sub(r"[^A-Za-z0-9._-]", "-", str(body.get("name") or ""))
        failed = "Repository creation failed."
        if not name or name in (".", ".."):
            raise ApiError(
                422, failed, [{"resource": "Repository", "code": "missing_field", "field": "name"}]
            )
        if len(name) > 100:
            raise ApiError(
                422,
                failed,
                [
                    {
                        "resource": "Repository",
                        "code": "custom",
                        "field": "name",
                        "message": "name is too long (maximum is 100 characters)",
                    }
                ],
            )
        if f"{owner.login}/{name}".lower() in self._repos:
            raise ApiError(
                422,
                failed,
                [
                    {
                        "resource": "Repository",
                        "code": "custom",
                        "field": "name",
                        "message": "name already exists on this account",
                    }
                ],
            )
        team = None
        if "team_id" in body:
            team = next(
                (t for t in self._teams.values() if t.id == body["team_id"] and t.org == owner.login), None
            )
            if team is None:
                raise ApiError(
                    422, failed, [{"resource": "Repository", "code": "invalid", "field": "team_id"}]
                )
        visibility = body.get("visibility") or ("private" if body.get("private") else "public")
        repo = Repo(
            owner=owner.login,
            name=name,
            id=next(self._ids),
            private=visibility != "public",
            visibility=visibility,
            description=body.get("description") or None,
            homepage=body.get("homepage") or None,
            has_issues=body.get("has_issues", True),
            has_projects=body.get("has_projects", True),
            has_wiki=body.get("has_wiki", True),
            is_template=body.get("is_template", False),
            created_by=context.credential.login if context.credential else None,
        )
        if body.get("auto_init"):
            readme = f"# {name}\n" + (f"\n{repo.description}\n" if repo.description else "")
            tree = repo.git.create_tree(
                [{"path": "README.md", "mode": "100644", "type": "blob", "content": readme}], None
            )
            author = self._signature(context, None)
            repo.refs["refs/heads/main"] = repo.git.put_commit(
                Commit(tree, (), "Initial commit", author, author)
            )
        self._repos[repo.key] = repo
        if team is not None:
            team.repos[repo.key] = "pull"
        repo.hidden_calls = self._hidden_after_create
        data = self._repo_json(context, repo)
        return Reply(201, data, {"Location": data["url"]})

    def _get_repo(self, context: Context) -> Reply:
        return Reply(200, self._repo_json(context, self._repo(context)))

    # Orders of GET /orgs/{org}/repos: timestamps have whole seconds, so ties go by id (creation order).
    REPO_ORDERS: dict[str, Callable[[Repo], Any]] = {
        "created": lambda repo: (repo.created_at, repo.id),
        "updated": lambda repo: (repo.updated_at, repo.id),
        "pushed": lambda repo: (repo.pushed_at, repo.id),
        "full_name": lambda repo: (repo.full_name.lower(), repo.id),
    }

    def _list_org_repos(self, context: Context) -> Reply:
        credential = self._require_token(context)
        org = self._org(context.params["org"])
        repos = [repo for repo in self._repos.values() if repo.owner.lower() == org.login.lower()]
        if credential.org is not None and credential.org.lower() != org.login.lower():
            repos = [repo for repo in repos if not repo.private]  # another org's installation: public only
        kind = context.query.get("type", "all")
        if kind == "public":
            repos = [repo for repo in repos if not repo.private]
        elif kind == "private":  # GitHub counts internal repositories as private here
            repos = [repo for repo in repos if repo.private]
        elif kind == "forks":
            repos = []  # the fake has no forks; `sources` (not forks) and `member` are therefore `all`
        sort = context.query.get("sort", "created")
        direction = context.query.get("direction") or ("asc" if sort == "full_name" else "desc")
        repos.sort(key=self.REPO_ORDERS[sort], reverse=direction == "desc")
        chosen, link = self._paginate(context, repos)
        headers = {"Link": link} if link else {}
        return Reply(200, [self._minimal_repo_json(context, repo) for repo in chosen], headers)

    @staticmethod
    def _paginate(context: Context, items: list[Any]) -> tuple[list[Any], str | None]:
        """(the page's items, Link header or None) for `per_page` (default 30, at most 100) and `page`."""
        # Integers: the request check answered 422 to anything else before the handler ran.
        per_page = int(context.query.get("per_page", PER_PAGE))
        page = max(int(context.query.get("page", 1)), 1)
        # GitHub caps per_page at 100; below 1 the fake takes the default.
        per_page = min(per_page, MAX_PER_PAGE) if per_page >= 1 else PER_PAGE
        last = max(math.ceil(len(items) / per_page), 1)

        def url(number: int) -> str:
            query = {key: value for key, value in context.query.items() if key != "page"}
            query["page"] = str(number)
            return f"{context.api_url}{quote(context.path)}?{urlencode(query)}"

        # GitHub's order: prev, next, last, first; none at all when everything fits on one page.
        links = []
        if page > 1:
            links.append(f'<{url(page - 1)}>; rel="prev"')
        if page < last:
            links += [f'<{url(page + 1)}>; rel="next"', f'<{url(last)}>; rel="last"']
        if page > 1:
            links.append(f'<{url(1)}>; rel="first"')
        start = (page - 1) * per_page
        return items[start : start + per_page], ", ".join(links) or None

    def _update_repo(self, context: Context) -> Reply:
        repo = self._repo(context)
        body = context.json()
        new_name = body.get("name")
        if new_name and new_name != repo.name:
            if f"{repo.owner}/{new_name}".lower() in self._repos:
                raise ApiError(
                    422,
                    "Validation Failed",
                    [
                        {
                            "resource": "Repository",
                            "code": "custom",
                            "field": "name",
                            "message": "name already exists on this account",
                        }
                    ],
                )
            old_key = repo.key
            del self._repos[old_key]
            repo.name = new_name
            self._repos[repo.key] = repo
            for team in self._teams.values():
                if old_key in team.repos:
                    team.repos[repo.key] = team.repos.pop(old_key)
        branch = body.get("default_branch")
        if branch and repo.refs and f"refs/heads/{branch}" not in repo.refs:
            raise ApiError(
                422,
                "Validation Failed",
                [{"resource": "Repository", "code": "invalid", "field": "default_branch"}],
            )
        if branch:
            repo.default_branch = branch
        if "visibility" in body or "private" in body:
            repo.visibility = body.get("visibility") or ("private" if body.get("private") else "public")
            repo.private = repo.visibility != "public"
        for key in (
            "description",
            "homepage",
            "has_issues",
            "has_projects",
            "has_wiki",
            "is_template",
            "archived",
        ):
            if key in body:
                setattr(repo, key, body[key])
        repo.updated_at = _now()
        return Reply(200, self._repo_json(context, repo))

    def _delete_repo(self, context: Context) -> Reply:
        repo = self._repo(context)
        del self._repos[repo.key]
        for team in self._teams.values():
            team.repos.pop(repo.key, None)
        return Reply(204)

    # git data

    def _create_blob(self, context: Context) -> Reply:
        repo = self._repo(context)
        self._nonempty(repo)
        body = context.json()
        encoding = body.get("encoding", "utf-8")
        if encoding not in ("utf-8", "utf8", "base64"):
            raise ApiError(422, f"encoding must be either 'utf-8' or 'base64', not {encoding!r}")
        content = str(body["content"])
        data = base64.b64decode(content) if encoding == "base64" else content.encode()
        sha = repo.git.put_blob(data)
        url = f"{context.api_url}/repos/{repo.full_name}/git/blobs/{sha}"
        return Reply(201, context.build("short-blob", {"url": url, "sha": sha}), {"Location": url})

    def _create_tree(self, context: Context) -> Reply:
        repo = self._repo(context)
        credential = self._require_token(context)
        body = context.json()
        entries = body.get("tree") or []
        if not credential.workflow_scope and any(
            str(entry.get("path", "")).lstrip("/").startswith(".github/workflows/") for entry in entries
        ):
            # GitHub hides the refusal to write workflows without the `workflow` scope as a 404.
            raise ApiError(404, "Not Found")
        self._nonempty(repo)
        sha = repo.git.create_tree(entries, body.get("base_tree"))
        data = self._tree_json(context, repo, sha, recursive=False)
        return Reply(201, data, {"Location": data["url"]})

    def _resolve_tree(self, repo: Repo, name: str) -> str | None:
        sha = repo.refs.get(f"refs/heads/{name}", name)
        found = repo.git.objects.get(sha)
        if isinstance(found, Commit):
            return found.tree
        return sha if isinstance(found, Tree) else None

    def _get_tree(self, context: Context) -> Reply:
        repo = self._repo(context)
        self._nonempty(repo)
        sha = self._resolve_tree(repo, context.params["tree_sha"])
        if sha is None:
            raise ApiError(404, "Not Found")
        # GitHub: "setting this parameter to any value returns the objects or subtrees" (even 0 or false).
        return Reply(200, self._tree_json(context, repo, sha, recursive="recursive" in context.query))

    def _create_commit(self, context: Context) -> Reply:
        repo = self._repo(context)
        self._nonempty(repo)
        body = context.json()
        if repo.git.get(body["tree"], Tree) is None:
            raise ApiError(422, "Tree SHA does not exist")
        parents = tuple(body.get("parents") or ())
        if any(repo.git.get(parent, Commit) is None for parent in parents):
            raise ApiError(422, "Parent SHA does not exist or is not a commit object")
        author = self._signature(context, body.get("author"))
        committer = self._signature(context, body.get("committer"), author)
        sha = repo.git.put_commit(Commit(body["tree"], parents, body["message"], author, committer))
        data = self._commit_json(context, repo, sha)
        return Reply(201, data, {"Location": data["url"]})

    def _get_commit(self, context: Context) -> Reply:
        repo = self._repo(context)
        self._nonempty(repo)
        sha = context.params["commit_sha"]
        if repo.git.get(sha, Commit) is None:
            raise ApiError(404, "Not Found")
        return Reply(200, self._commit_json(context, repo, sha))

    def _create_ref(self, context: Context) -> Reply:
        repo = self._repo(context)
        self._nonempty(repo)
        body = context.json()
        ref, sha = body["ref"], body["sha"]
        if not ref.startswith("refs/") or ref.count("/") < 2:
            raise ApiError(
                422, "Reference name is not valid. It must start with 'refs' and have at least two slashes."
            )
        if sha not in repo.git.objects:
            raise ApiError(422, "Object does not exist")
        if ref in repo.refs:
            raise ApiError(422, "Reference already exists")
        repo.refs[ref] = sha
        repo.pushed_at = _later(repo.pushed_at)
        data = self._ref_json(context, repo, ref)
        return Reply(201, data, {"Location": data["url"]})

    def _get_ref(self, context: Context) -> Reply:
        repo = self._repo(context)
        self._nonempty(repo)
        ref = "refs/" + context.params["ref"]
        if ref not in repo.refs:
            raise ApiError(404, "Not Found")
        return Reply(200, self._ref_json(context, repo, ref))

    def _update_ref(self, context: Context) -> Reply:
        repo = self._repo(context)
        self._nonempty(repo)
        body = context.json()
        ref, sha = "refs/" + context.params["ref"].removeprefix("refs/"), body["sha"]
        if repo.git.get(sha, Commit) is None:
            raise ApiError(422, "Object does not exist")
        if ref not in repo.refs:
            raise ApiError(422, "Reference does not exist")
        fast_forward = repo.refs[ref] in repo.git.ancestors(sha)
        if not fast_forward and not body.get("force"):
            raise ApiError(422, "Update is not a fast forward")
        branch = ref.removeprefix("refs/heads/")
        protection = repo.protections.get(branch) if ref.startswith("refs/heads/") else None
        if not fast_forward and protection is not None and not protection.get("allow_force_pushes"):
            raise ApiError(422, "Cannot force-push to this branch")
        repo.refs[ref] = sha
        repo.pushed_at = _later(repo.pushed_at)
        return Reply(200, self._ref_json(context, repo, ref))

    # contents

    @staticmethod
    def _resolve_commit(repo: Repo, ref: str) -> str | None:
        """The commit a `ref` query names: branch, tag, full ref or commit SHA."""
        for name in (f"refs/heads/{ref}", f"refs/tags/{ref}", ref):
            sha = repo.refs.get(name)
            if sha is not None:
                return sha
        return ref if repo.git.get(ref, Commit) is not None else None

    @staticmethod
    def _lookup(repo: Repo, tree_sha: str, path: str) -> TreeEntry | None:
        """The entry at `path` (full path as its name) below a root tree; a tree entry for "" (the root)."""
        if not path:
            return TreeEntry("040000", "tree", "", tree_sha)
        current: str | None = tree_sha
        entry: TreeEntry | None = None
        for part in path.split("/"):
            tree = repo.git.get(current, Tree) if current else None
            if tree is None:
                return None
            assert isinstance(tree, Tree)
            entry = next((item for item in tree.entries if item.name == part), None)
            if entry is None:
                return None
            current = entry.sha if entry.type == "tree" else None
        assert entry is not None
        return TreeEntry(entry.mode, entry.type, path, entry.sha)

    def _content_values(
        self, context: Context, repo: Repo, ref: str, entry: TreeEntry, kind: str
    ) -> dict[str, Any]:
        api = f"{context.api_url}/repos/{repo.full_name}"
        path = quote(entry.name)
        url = f"{api}/contents/{path}?ref={quote(ref, safe='')}"
        html_url: str | None = (
            f"{context.web_url}/{repo.full_name}/{'tree' if kind == 'dir' else 'blob'}/{ref}/{path}"
        )
        git_url: str | None = f"{api}/git/{'trees' if entry.type == 'tree' else 'blobs'}/{entry.sha}"
        if entry.type == "commit":  # a submodule's commit lives in another repository
            html_url = git_url = None
        blob = repo.git.objects.get(entry.sha)
        return {
            "type": kind,
            "size": len(blob.data) if isinstance(blob, Blob) else 0,
            "name": entry.name.rpartition("/")[2],
            "path": entry.name,
            "sha": entry.sha,
            "url": url,
            "git_url": git_url,
            "html_url": html_url,
            # GitHub Enterprise serves raw files under the web root (the fake does not serve them).
            "download_url": f"{context.web_url}/{repo.full_name}/raw/{ref}/{path}"
            if kind == "file"
            else None,
            "_links": {"self": url, "git": git_url, "html": html_url},
        }

    def _get_content(self, context: Context) -> Reply:
        repo = self._repo(context)
        if not repo.refs:
            raise ApiError(404, "This repository is empty.")
        ref = context.query.get("ref") or repo.default_branch
        commit_sha = self._resolve_commit(repo, ref)
        if commit_sha is None:
            raise ApiError(404, f"No commit found for the ref {ref}")
        commit = repo.git.objects[commit_sha]
        assert isinstance(commit, Commit)
        path = context.params["path"].strip("/")
        entry = self._lookup(repo, commit.tree, path)
        link = repo.git.objects.get(entry.sha) if entry is not None and entry.mode == "120000" else None
        if entry is not None and isinstance(link, Blob):
            # GitHub answers a symlink to a file of the repository with that file; else the link itself.
            target = link.data.decode("utf-8", "replace")
            followed = self._lookup(
                repo, commit.tree, posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
            )
            if followed is None or followed.type != "blob" or followed.mode == "120000":
                values = {**self._content_values(context, repo, ref, entry, "symlink"), "target": target}
                return Reply(200, context.build("content-symlink", values))
            entry = followed
        if entry is None:
            raise ApiError(404, "Not Found")
        if entry.type == "tree":
            tree = repo.git.objects[entry.sha]
            assert isinstance(tree, Tree)
            listing = []
            for item in tree.entries:
                child = TreeEntry(
                    item.mode, item.type, f"{path}/{item.name}" if path else item.name, item.sha
                )
                # Documented quirk: a listing calls a submodule "file" (symlinks stay "symlink").
                kind = "dir" if item.type == "tree" else "symlink" if item.mode == "120000" else "file"
                listing.append(self._content_values(context, repo, ref, child, kind))
            return Reply(200, listing)
        if entry.type == "commit":
            values = {
                **self._content_values(context, repo, ref, entry, "submodule"),
                "submodule_git_url": f"{context.web_url}/submodules/{entry.sha}.git",
            }
            return Reply(200, context.build("content-submodule", values))
        blob = repo.git.objects[entry.sha]
        assert isinstance(blob, Blob)
        raw = self._raw_media_type(context.headers.get("accept", ""))
        if raw is not None:
            headers = {"Content-Type": f"{raw}; charset=utf-8", "X-GitHub-Media-Type": "github.v3; param=raw"}
            return Reply(200, headers=headers, raw=blob.data)
        if len(blob.data) > MAX_CONTENT_BYTES:
            raise ApiError(
                403,
                "This API returns blobs up to 1 MB in size. The requested blob is too large to fetch via "
                "the API, but you can use the Git Data API to request blobs up to 100 MB in size.",
                [{"resource": "Blob", "field": "data", "code": "too_large"}],
            )
        # GitHub wraps the base64 text at 60 characters, each line ending in a newline.
        encoded = base64.b64encode(blob.data).decode()
        content = "".join(encoded[start : start + 60] + "\n" for start in range(0, len(encoded), 60))
        values = {
            **self._content_values(context, repo, ref, entry, "file"),
            "content": content,
            "encoding": "base64",
        }
        return Reply(200, context.build("content-file", values))

    @staticmethod
    def _raw_media_type(accept: str) -> str | None:
        """The raw media type the Accept header asks for, as GitHub echoes it in Content-Type, or None."""
        for item in accept.split(","):
            media = item.partition(";")[0].strip().lower()
            if schema.RAW_MEDIA_TYPE.fullmatch(media):
                return media.removesuffix("+json")
        return None

    # branches

    def _branch(self, context: Context) -> tuple[Repo, str]:
        repo = self._repo(context)
        branch = context.params["branch"]
        if f"refs/heads/{branch}" not in repo.refs:
            raise ApiError(404, "Branch not found")
        return repo, branch

    def _get_branch(self, context: Context) -> Reply:
        repo, branch = self._branch(context)
        return Reply(200, self._branch_json(context, repo, branch))

    def _get_protection(self, context: Context) -> Reply:
        repo, branch = self._branch(context)
        if branch not in repo.protections:
            raise ApiError(404, "Branch not protected")
        values = {"enabled": True, "name": branch, **self._protection_values(context, repo, branch)}
        values["protection_url"] = values["url"]
        return Reply(200, context.build("branch-protection", values))

    def _put_protection(self, context: Context) -> Reply:
        repo, branch = self._branch(context)
        if repo.private and not self.paid_plan:
            raise ApiError(
                403, "Upgrade to GitHub Pro or make this repository public to enable this feature."
            )
        body = context.json()
        restrictions = body.get("restrictions")
        if restrictions is not None:
            owner = self._accounts[repo.owner.lower()]
            if owner.type != "Organization":
                raise ApiError(
                    422,
                    "Only organization repositories can have users and team restrictions",
                    ["Only organization repositories can have users and team restrictions"],
                )
            unknown = [
                slug
                for slug in restrictions.get("teams", [])
                if (repo.owner.lower(), slug.lower()) not in self._teams
            ]
            unknown += [
                login for login in restrictions.get("users", []) if login.lower() not in self._accounts
            ]
            if unknown:
                raise ApiError(
                    422,
                    "Validation Failed",
                    [f"Could not resolve to a user or team: {name}" for name in unknown],
                )
        repo.protections[branch] = body
        return Reply(200, context.build("protected-branch", self._protection_values(context, repo, branch)))

    # environments

    def _list_environments(self, context: Context) -> Reply:
        repo = self._repo(context)
        environments = [self._environment_json(context, repo, env) for env in repo.environments.values()]
        return Reply(200, {"total_count": len(environments), "environments": environments})

    def _get_environment(self, context: Context) -> Reply:
        repo = self._repo(context)
        environment = repo.environments.get(context.params["environment_name"])
        if environment is None:
            raise ApiError(404, "Not Found")
        return Reply(200, self._environment_json(context, repo, environment))

    def _put_environment(self, context: Context) -> Reply:
        repo = self._repo(context)
        body = context.json()
        protection_keys = {"wait_timer", "reviewers", "prevent_self_review"} & set(body)
        if repo.private and not self.paid_plan and protection_keys:
            raise ApiError(
                422,
                "Failed to create the environment protection rules. Please ensure the billing "
                "plan supports the required protection rules.",
            )
        wait_timer = body.get("wait_timer", 0) or 0
        if not 0 <= wait_timer <= 43200:
            raise ApiError(422, "Invalid request.\n\nwait_timer must be between 0 and 43200 minutes.")
        given = body.get("reviewers") or []
        if len(given) > 6:
            raise ApiError(422, "Invalid request.\n\nOnly 6 reviewers may be specified.")
        reviewers: list[tuple[str, int]] = []
        for item in given:
            kind, number = item.get("type"), item.get("id")
            if kind == "Team":
                team = next((t for t in self._teams.values() if t.id == number), None)
                if team is None:
                    raise ApiError(422, f"Invalid request.\n\nTeam {number} was not found.")
                if repo.key not in team.repos:
                    # Reported behaviour (FACTS.md): a team without access to the repository is dropped.
                    continue
            elif not any(
                account.id == number and account.type == "User" for account in self._accounts.values()
            ):
                raise ApiError(422, f"Invalid request.\n\nUser {number} was not found.")
            reviewers.append((str(kind), int(number)))
        policy = body.get("deployment_branch_policy")
        if policy is not None and policy.get("protected_branches") == policy.get("custom_branch_policies"):
            raise ApiError(
                422,
                "Invalid request.\n\nExactly one of protected_branches and custom_branch_policies "
                "must be true.",
            )
        name = context.params["environment_name"]
        environment = repo.environments.get(name)
        if environment is None:
            environment = repo.environments[name] = Environment(name, next(self._ids))
            environment.rule_ids = {
                kind: next(self._ids) for kind in ("wait_timer", "required_reviewers", "branch_policy")
            }
        environment.wait_timer = wait_timer
        environment.prevent_self_review = bool(body.get("prevent_self_review", False))
        environment.reviewers = reviewers
        environment.deployment_branch_policy = (
            {
                "protected_branches": policy["protected_branches"],
                "custom_branch_policies": policy["custom_branch_policies"],
            }
            if policy
            else None
        )
        if not (policy or {}).get("custom_branch_policies"):
            environment.branch_policies = []
        environment.updated_at = _now()
        return Reply(200, self._environment_json(context, repo, environment))

    def _add_branch_policy(self, context: Context) -> Reply:
        repo = self._repo(context)
        environment = repo.environments.get(context.params["environment_name"])
        if environment is None or not (environment.deployment_branch_policy or {}).get(
            "custom_branch_policies"
        ):
            raise ApiError(404, "Not Found")
        body = context.json()
        kind = body.get("type", "branch")
        existing = next(
            (p for p in environment.branch_policies if (p["name"], p["type"]) == (body["name"], kind)), None
        )
        if existing is not None:
            url = f"{context.api_url}/repos/{repo.full_name}/environments/{quote(environment.name, safe='')}"
            return Reply(303, None, {"Location": f"{url}/deployment-branch-policies/{existing['id']}"})
        number = next(self._ids)
        policy = {
            "id": number,
            "node_id": _node_id("GateBranchPolicy", number),
            "name": body["name"],
            "type": kind,
        }
        environment.branch_policies.append(policy)
        return Reply(200, context.build("deployment-branch-policy", policy))

    # teams

    def _team(self, context: Context) -> Team:
        self._require_token(context)
        team = self._teams.get((context.params["org"].lower(), context.params["team_slug"].lower()))
        if team is None:
            raise ApiError(404, "Not Found")
        return team

    def _list_teams(self, context: Context) -> Reply:
        self._require_token(context)
        org = self._org(context.params["org"])
        teams = [team for team in self._teams.values() if team.org == org.login]
        return Reply(200, [context.build("team", self._team_json(context, team)) for team in teams])

    def _get_team(self, context: Context) -> Reply:
        return Reply(200, context.build("team-full", self._team_full_json(context, self._team(context))))

    def _grant_team(self, context: Context) -> Reply:
        team = self._team(context)
        repo = self._repo(context)
        if repo.owner.lower() != team.org.lower():
            raise ApiError(
                422,
                "Validation Failed",
                [{"resource": "TeamRepository", "code": "invalid", "field": "repository"}],
            )
        permission = context.json().get("permission") or team.permission
        if permission not in TEAM_PERMISSIONS:
            raise ApiError(
                422,
                "Validation Failed",
                [
                    {
                        "resource": "TeamRepository",
                        "code": "invalid",
                        "field": "permission",
                        "value": permission,
                    }
                ],
            )
        team.repos[repo.key] = permission
        return Reply(204)


def running_fake_github() -> Iterator[FakeGitHub]:
    """Start a fake, yield it, stop it, then fail on any violation it recorded (the fixture's body)."""
    with FakeGitHub() as fake:
        yield fake
    fake.assert_no_violations()


@pytest.fixture
def fake_github() -> Iterator[FakeGitHub]:
    """A fresh fake GitHub per test (org `acme`, user `slipway-bot` with `fake.token`); checks violations."""
    yield from running_fake_github()
