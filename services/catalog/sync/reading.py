"""Reading a location's descriptor files: from a folder on the server, or from a repository through
its host (services/hosts). A reader also says where a `kind: Location` target points, refusing
targets that would leave the location."""

from __future__ import annotations

import hashlib
import posixpath
import threading
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from django.conf import settings

from services.catalog.refs import quote
from services.descriptors.parse import descriptor_files, read_text
from services.errors import InvalidInput
from services.hosts import host_for
from services.hosts.base import FileRead, checked_repository_path
from services.hosts.repository_keys import normalize_repository
from services.models import Location


class Reader(Protocol):
    concurrency: int  # how many reads may go out at once

    def roots(self) -> list[str]:
        """The sources a refresh starts from."""
        ...

    def read(self, path: str, *, etag: str) -> FileRead: ...

    def resolve(self, source: str, target: str) -> str:
        """The path of a Location target named in `source`; ValueError (the reason) when it is not followed."""
        ...


def _relative(source: str, target: str) -> str:
    """A target relative to the file that names it, kept inside the location (no `..` above its root)."""
    if target.startswith("/") or "\\" in target:
        raise ValueError(f"target {quote(target)} is not a relative path: only files of this location are followed")
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(source), target))
    if joined == ".." or joined.startswith("../") or joined == ".":
        raise ValueError(f"target {quote(target)} leaves the location: not followed")
    return joined


class PathReader:
    """A file, or a folder (recursively), on the server; targets stay inside the folder of the root file."""

    concurrency = 1  # files on a local disk: one at a time

    def __init__(self, target: str) -> None:
        given = Path(target)
        self.folder = given.resolve() if given.is_dir() else given.resolve().parent
        self.root_file = None if given.is_dir() else given.name

    def roots(self) -> list[str]:
        if self.root_file is not None:
            return [self.root_file]
        return [str(path.relative_to(self.folder)) for path in descriptor_files(self.folder)]

    def read(self, path: str, *, etag: str) -> FileRead:
        file = (self.folder / path).resolve()
        if not file.is_relative_to(self.folder):
            raise ValueError(f"{quote(path)} leaves the location")
        if not file.is_file():
            return FileRead("missing", error=f"{path} does not exist")
        text = read_text(file)  # ValueError: not UTF-8, too large, unreadable
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        return FileRead("unchanged", etag=digest) if etag == digest else FileRead("read", text=text, etag=digest)

    def resolve(self, source: str, target: str) -> str:
        if "://" in target:
            raise ValueError(f"target {quote(target)} is a URL: a location on the server follows its own files only")
        return _relative(source, target)


class _Hosts:
    """One host client per thread: the refresh reads several files at once (SLIPWAY_SYNC_READ_CONCURRENCY),
    and a PyGithub client is not shared between threads."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.local = threading.local()
        self.made: list[Any] = []
        self.lock = threading.Lock()

    def get(self) -> Any:
        host = getattr(self.local, "host", None)
        if host is None:
            host = self.local.host = host_for(self.name)
            with self.lock:
                self.made.append(host)
        return host

    @property
    def calls(self) -> int:
        return sum(host.calls for host in self.made)


class _HostBacked:
    """A reader that asks a repository host, several reads at once (SLIPWAY_SYNC_READ_CONCURRENCY)."""

    def __init__(self, location: Location) -> None:
        self.location = location
        self.hosts = _Hosts(location.host)
        self.concurrency = max(1, int(settings.SLIPWAY_SYNC_READ_CONCURRENCY))

    @property
    def host(self) -> Any:
        """This thread's client of the host."""
        return self.hosts.get()

    @property
    def calls(self) -> int:
        return self.hosts.calls


class HostReader(_HostBacked):
    """The descriptor (and the files its Location documents name) in one repository, through its host."""

    def roots(self) -> list[str]:
        return [self.location.path]

    def read(self, path: str, *, etag: str) -> FileRead:
        return self.host.read_file(full_name=self.location.target, path=path, ref=self.location.ref, etag=etag)

    def resolve(self, source: str, target: str) -> str:
        if "://" not in target:
            return checked_repository_path(_relative(source, target))
        # A URL into this same repository (`https://github.com/acme/x/blob/main/docs/api.yaml`) is followed.
        parts = urlsplit(target)
        try:
            key = normalize_repository(target)
        except InvalidInput:
            raise ValueError(f"target {quote(target)} is not a file of a repository: not followed") from None
        if key.split("/", 1)[1] != self.location.target.lower():
            raise ValueError(f"target {quote(target)} is in another repository: register it as a location of its own")
        segments = unquote(parts.path).strip("/").split("/")
        if len(segments) < 5 or segments[2] not in ("blob", "tree"):
            raise ValueError(f"target {quote(target)} does not name a file (…/blob/<branch>/<path>)")
        return checked_repository_path("/".join(segments[4:]))


class OrganisationReader(_HostBacked):
    """Every repository of an organisation that holds the descriptor (`location.path`), archived ones left
    out. The listing is asked page by page with each page's ETag (an unchanged page costs an uncounted
    304); a repository whose pushed_at is what it was when last read is not asked at all. A source's
    validator is `<pushed_at> <state> <ETag>`, so a repository without a descriptor is not asked again
    until something is pushed to it."""

    def __init__(self, location: Location, *, only: list[str] | None = None) -> None:
        super().__init__(location)
        self.pushed: dict[str, str] = {}
        self.listing: list[dict[str, Any]] = []
        # A push webhook names the repositories to read: the listing kept from the last refresh is used
        # as it is, and only those repositories are asked (the next scheduled refresh lists again).
        self.only = {name.lower() for name in only or []}

    def roots(self) -> list[str]:
        """List the organisation (raises HostError when it cannot be listed: the refresh then fails)."""
        before = self.location.listing or []
        if self.only and before:
            self.listing = before
            roots = self._roots()
            listed = {"/".join(path.split("/")[:2]).lower() for path in roots}
            for name in sorted(self.only - listed):  # pushed to, but new since the last listing
                self.pushed[name] = ""
                roots.append(f"{name}/{self.location.path}")
            return roots
        pages = self.host.list_repositories(
            organisation=self.location.target,
            known=[(page.get("etag", ""), len(page.get("repositories", []))) for page in before])
        self.listing = []
        for number, page in enumerate(pages):
            if page.unchanged and number < len(before):
                self.listing.append(before[number])
            else:
                self.listing.append({"etag": page.etag, "repositories": [
                    [r.full_name, r.archived, r.pushed_at] for r in page.repositories]})
        return self._roots()

    def _roots(self) -> list[str]:
        roots = []
        for page in self.listing:
            for full_name, archived, pushed_at in page["repositories"]:
                if not archived:
                    self.pushed[full_name.lower()] = pushed_at
                    roots.append(f"{full_name}/{self.location.path}")
        return roots

    def read(self, path: str, *, etag: str) -> FileRead:
        owner, name, rest = path.split("/", 2)
        full_name = f"{owner}/{name}"
        pushed = self.pushed.get(full_name.lower(), "")
        was_pushed, was_state, content_etag = (etag.split(" ", 2) + ["", "", ""])[:3]
        if etag and was_pushed == pushed and pushed and full_name.lower() not in self.only:
            if was_state == "read":
                return FileRead("unchanged", etag=etag)
            return FileRead("missing", etag=etag, error=f"{full_name} holds no {rest}")
        answer = self.host.read_file(full_name=full_name, path=rest, ref=self.location.ref,
                                     etag=content_etag if was_state == "read" else "")
        state = "read" if answer.state in ("read", "unchanged") else "missing"
        return FileRead(answer.state, text=answer.text, etag=f"{pushed} {state} {answer.etag}",
                        error=answer.error if answer.state != "missing" else f"{full_name} holds no {rest}")

    def resolve(self, source: str, target: str) -> str:
        owner, name, rest = source.split("/", 2)
        if "://" in target:
            raise ValueError(f"target {quote(target)} is a URL: an organisation's descriptors are followed within "
                             "their own repository")
        return f"{owner}/{name}/{checked_repository_path(_relative(rest, target))}"


def reader_for(location: Location, *, only: list[str] | None = None) -> Reader:
    if location.kind == Location.Kind.PATH:
        return PathReader(location.target)
    if location.kind == Location.Kind.ORGANISATION:
        return OrganisationReader(location, only=only)
    return HostReader(location)
