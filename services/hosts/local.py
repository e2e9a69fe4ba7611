"""The local host: bare git repositories under the data directory (works offline).

Environments, team grants and branch protection have no meaning for a bare repository, so they
are recorded in `slipway.json` inside it, where tests and people can read them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import tempfile
from pathlib import Path

from django.conf import settings

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

MARKER = "slipway-run"
_SEGMENT = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
_SEGMENT_REF = re.compile(r"^(?!-)[A-Za-z0-9_./-]{1,200}$")
RECORD = "slipway.json"
RUN_TRAILER = "Slipway-Run"


class LocalHost:
    """Bare repositories at <data dir>/repositories/<owner>/<name>.git."""

    name = "local"

    def __init__(self, root: Path | None = None, owner: str | None = None) -> None:
        self.root = Path(root or settings.SLIPWAY_REPOSITORY_DIR)
        self.owner = owner or settings.SLIPWAY_LOCAL_OWNER
        self.calls = 0

    # -- helpers ---------------------------------------------------------------------------------

    def _path(self, name: str) -> Path:
        return self.root / self.owner / f"{name}.git"

    def _git(self, *args: str, git_dir: Path | None = None, cwd: Path | None = None,
             env: dict[str, str] | None = None) -> str:
        command = ["git", *(["--git-dir", str(git_dir)] if git_dir else []), *args]
        identity = {"GIT_AUTHOR_NAME": "Slipway", "GIT_AUTHOR_EMAIL": "slipway@localhost",
                    "GIT_COMMITTER_NAME": "Slipway", "GIT_COMMITTER_EMAIL": "slipway@localhost",
                    "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0"}
        try:
            result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=60,
                                    env={**os.environ, **identity, **(env or {})})
        except subprocess.TimeoutExpired:
            raise TransientHostError(f"git {args[0]} timed out") from None
        if result.returncode:
            raise PermanentHostError(f"git {args[0]} failed: {result.stderr.strip()[-500:]}")
        return result.stdout

    def _repository(self, name: str) -> Repository:
        path = self._path(name)
        return Repository(key=f"localhost/{self.owner}/{name}".lower(), full_name=f"{self.owner}/{name}",
                          web_url=path.as_uri(), clone_url=str(path))

    def _record(self, repository: Repository) -> tuple[Path, dict]:
        path = Path(repository.clone_url) / RECORD
        return path, json.loads(path.read_text()) if path.exists() else {"environments": {}, "teams": {},
                                                                           "protection": {}}

    def _save_record(self, path: Path, record: dict) -> None:
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(record, indent=2, sort_keys=True))
        temporary.replace(path)

    # -- the protocol ------------------------------------------------------------------------------

    def repository_taken(self, *, name: str) -> bool:
        self.calls += 1
        return self._path(name).exists()

    def create_repository(self, *, name: str, description: str, run_id: str) -> Repository:
        """Create the bare repository, or find the one this run created before."""
        self.calls += 1
        path = self._path(name)
        marker = path / MARKER
        if path.exists():
            if marker.exists() and marker.read_text().strip() == run_id:
                return self._repository(name)
            raise NameTaken(f"A repository named {self.owner}/{name} already exists and was not created by this "
                            "run; it was left untouched. Choose another service name.")
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=path.parent))
        self._git("init", "--bare", "--initial-branch", "main", str(staging))
        (staging / "description").write_text(description.replace("\n", " ") + "\n")
        (staging / MARKER).write_text(run_id + "\n")
        try:
            staging.rename(path)  # atomic: a concurrent create of the same name loses cleanly
        except OSError:
            raise NameTaken(f"A repository named {self.owner}/{name} was created meanwhile by someone else; "
                            "it was left untouched.") from None
        return self._repository(name)

    def push_files(self, *, repository: Repository, files: dict[str, str], message: str, run_id: str) -> str:
        """One commit holding every file on main; pushing again for the same run changes nothing."""
        self.calls += 1
        git_dir = Path(repository.clone_url)
        try:
            head = self._git("rev-parse", "--verify", "--quiet", "refs/heads/main", git_dir=git_dir).strip()
        except PermanentHostError:
            head = ""
        if head:
            body = self._git("log", "-1", "--format=%B", head, git_dir=git_dir)
            if f"{RUN_TRAILER}: {run_id}" in body:
                return head
            raise PermanentHostError(f"{repository.full_name} already has commits not made by this run")
        with tempfile.TemporaryDirectory(prefix="slipway-push-") as work:
            index = Path(work) / "index"
            env = {"GIT_INDEX_FILE": str(index)}
            for path, text in sorted(files.items()):
                blob = subprocess.run(
                    ["git", "--git-dir", str(git_dir), "hash-object", "-w", "--stdin"], input=text.encode(),
                    capture_output=True, check=True, timeout=60,
                ).stdout.decode().strip()
                mode = "100755" if text.startswith("#!") else "100644"
                self._git("update-index", "--add", "--cacheinfo", f"{mode},{blob},{path}", git_dir=git_dir, env=env)
            tree = self._git("write-tree", git_dir=git_dir, env=env).strip()
            commit = self._git("commit-tree", tree, "-m", f"{message}\n\n{RUN_TRAILER}: {run_id}",
                               git_dir=git_dir).strip()
        # Only create the branch if it still does not exist (a racing push of this run wins once).
        self._git("update-ref", "refs/heads/main", commit, "0" * 40, git_dir=git_dir)
        return commit

    def grant_team(self, *, repository: Repository, team: str, permission: str, team_id: int | None = None) -> dict:
        """Record the team's access."""
        self.calls += 1
        path, record = self._record(repository)
        record["teams"][team] = permission
        self._save_record(path, record)
        return {}

    def create_environment(self, *, repository: Repository, environment: EnvironmentSpec) -> None:
        """Record the environment and its protection rules."""
        self.calls += 1
        path, record = self._record(repository)
        record["environments"][environment.name] = {
            "wait_timer": environment.wait_timer, "reviewers": list(environment.reviewer_teams),
            "branch_policy": environment.branch_policy,
        }
        self._save_record(path, record)

    def protect_branch(self, *, repository: Repository, branch: str, required_approvals: int) -> None:
        """Record the branch protection."""
        self.calls += 1
        path, record = self._record(repository)
        record["protection"][branch] = {"required_approving_review_count": required_approvals}
        self._save_record(path, record)

    def read_file(self, *, full_name: str, path: str, ref: str = "", etag: str = "") -> FileRead:
        """A file at `ref` (default: HEAD) of the bare repository `owner/name`; its blob id is the validator."""
        self.calls += 1
        path = checked_repository_path(path)
        owner, _, name = full_name.partition("/")
        if not (owner and name and all(_SEGMENT.match(part) and part.strip(".") for part in (owner, name))):
            raise PermanentHostError(f"{full_name[:100]!r} is not owner/name")
        git_dir = self.root / owner / f"{name}.git"
        if not git_dir.is_dir():
            return FileRead("missing", error=f"there is no repository {owner}/{name} on the local host")
        if ref and not _SEGMENT_REF.match(ref):
            raise PermanentHostError(f"{ref[:100]!r} is not a branch or tag name")
        try:
            blob = self._git("rev-parse", "--verify", "--quiet", f"{ref or 'HEAD'}:{path}", git_dir=git_dir).strip()
        except PermanentHostError:
            return FileRead("missing", error=f"{path} is not in {owner}/{name}" + (f" at {ref}" if ref else ""))
        if etag and blob == etag:
            return FileRead("unchanged", etag=blob)
        if int(self._git("cat-file", "-s", blob, git_dir=git_dir).strip() or 0) > MAX_READ_BYTES:
            raise PermanentHostError(f"{path} is larger than {MAX_READ_BYTES:,} bytes")
        data = subprocess.run(["git", "--git-dir", str(git_dir), "cat-file", "blob", blob], capture_output=True,
                              timeout=60, check=False).stdout
        try:
            return FileRead("read", text=data.decode("utf-8-sig"), etag=blob)
        except UnicodeDecodeError:
            raise PermanentHostError(f"{path} is not UTF-8 text") from None

    def list_repositories(self, *, organisation: str, known: list[tuple[str, int]]) -> list[RepositoryPage]:
        """The bare repositories under <root>/<organisation>/ in name order, one page; a repository's
        HEAD commit stands for GitHub's pushed_at (it changes with every push)."""
        self.calls += 1
        if not (_SEGMENT.match(organisation or "") and organisation.strip(".")):
            raise PermanentHostError(f"{str(organisation)[:100]!r} is not an owner name")
        folder = self.root / organisation
        listing = []
        for path in sorted(folder.glob("*.git")) if folder.is_dir() else []:
            try:
                head = self._git("rev-parse", "--verify", "--quiet", "HEAD", git_dir=path).strip()
            except PermanentHostError:
                head = ""  # an empty repository
            listing.append(RepositoryListing(full_name=f"{organisation}/{path.name[:-4]}", archived=False,
                                             pushed_at=head, default_branch="main"))
        etag = hashlib.sha256(repr(listing).encode()).hexdigest()
        if known and known[0][0] == etag:
            return [RepositoryPage(etag=etag, unchanged=True, repositories=[])]
        return [RepositoryPage(etag=etag, unchanged=False, repositories=listing)]
