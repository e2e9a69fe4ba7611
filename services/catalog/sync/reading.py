"""Reading a location's descriptor files: from a folder on the server, or from a repository through
its host (services/hosts). A reader also says where a `kind: Location` target points, refusing
targets that would leave the location."""

from __future__ import annotations

import hashlib
import posixpath
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

from services.catalog.refs import quote
from services.descriptors.parse import descriptor_files, read_text
from services.errors import InvalidInput
from services.hosts import host_for
from services.hosts.base import FileRead, checked_repository_path
from services.hosts.repository_keys import normalize_repository
from services.models import Location


class Reader(Protocol):
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


class HostReader:
    """The descriptor (and the files its Location documents name) in one repository, through its host."""

    def __init__(self, location: Location) -> None:
        self.location = location
        self.host = host_for(location.host)

    @property
    def calls(self) -> int:
        return self.host.calls

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


def reader_for(location: Location) -> Reader:
    return PathReader(location.target) if location.kind == Location.Kind.PATH else HostReader(location)
