"""The protocol every repository host implements, and the errors it raises."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


class HostError(Exception):
    """A repository host refused or failed an operation."""

class TransientHostError(HostError):
    """Worth retrying later (timeouts, 5xx, rate limits); `retry_after` seconds if the host said."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentHostError(HostError):
    """Retrying will not help (bad credentials, missing permission, invalid request)."""


class NameTaken(PermanentHostError):
    """A repository of that name exists and was not made by this run: it is never touched."""


@dataclass(frozen=True)
class Repository:
    """Where a run's repository lives."""

    key: str  # host/owner/name, the catalog's repository key
    full_name: str  # owner/name
    web_url: str
    clone_url: str
    default_branch: str = "main"
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EnvironmentSpec:
    """A deployment environment and its protection rules."""

    name: str
    wait_timer: int = 0
    reviewer_teams: tuple[str, ...] = ()
    branch_policy: str = ""
    reviewer_team_ids: dict[str, int] = field(default_factory=dict)  # known ids, to spare lookups


# The largest descriptor file a host read returns (services/descriptors/parse.py has the same limit for files).
MAX_READ_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class FileRead:
    """One file read from a repository: `read` (with its text), `unchanged` (the validator matched:
    no text), or `missing` (the repository or the file is not there; `error` says which)."""

    state: str
    text: str = ""
    etag: str = ""
    error: str = ""


@dataclass(frozen=True)
class RepositoryListing:
    """One repository of an organisation, as its listing shows it."""

    full_name: str
    archived: bool
    pushed_at: str
    default_branch: str


@dataclass(frozen=True)
class RepositoryPage:
    """One page of an organisation's repositories; `unchanged` (a 304) carries none: keep the last ones."""

    etag: str
    unchanged: bool
    repositories: list[RepositoryListing]


def checked_repository_path(path: str) -> str:
    """A file's path inside a repository, refused (ValueError) when it is absolute or leaves the repository."""
    parts = [part for part in path.replace("\\", "/").split("/") if part not in ("", ".")]
    if not parts or path.startswith("/") or ".." in parts or any(ord(c) < 32 for c in path) or len(path) > 500:
        raise ValueError(f"{path[:100]!r} is not a file path inside a repository")
    return "/".join(parts)


class RepositoryHost(Protocol):
    """Every operation is idempotent: called again for the same run, it finds its work done."""

    name: str
    calls: int  # API calls made through this object

    def repository_taken(self, *, name: str) -> bool:
        """Whether a repository of that name exists already (a read; HostError if the host cannot say)."""
        ...

    def create_repository(self, *, name: str, description: str, run_id: str) -> Repository: ...

    def push_files(self, *, repository: Repository, files: dict[str, str], message: str, run_id: str) -> str: ...

    def grant_team(self, *, repository: Repository, team: str, permission: str,
                   team_id: int | None = None) -> dict[str, Any]: ...

    def create_environment(self, *, repository: Repository, environment: EnvironmentSpec) -> None: ...

    def protect_branch(self, *, repository: Repository, branch: str, required_approvals: int) -> None: ...

    def list_repositories(self, *, organisation: str, known: list[tuple[str, int]]) -> list[RepositoryPage]:
        """An organisation's repositories, page by page, each page asked with the ETag it had (`known`: each
        page's ETag and number of repositories, as last listed)."""
        ...

    def read_file(self, *, full_name: str, path: str, ref: str = "", etag: str = "") -> FileRead:
        """A file of a repository (`ref` empty: the default branch); `unchanged` when `etag` still matches.
        Raises TransientHostError when the host cannot answer now, PermanentHostError when it refuses."""
        ...
