"""The fake GitHub's git object store: blobs, trees and commits hashed exactly as git hashes them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
FILE_MODES = {"100644", "100755", "120000"}
TREE_MODE = "040000"
SUBMODULE_MODE = "160000"


class GitError(Exception):
    """A git-level refusal; `status` and `message` are what GitHub answers."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Blob:
    """File contents."""

    data: bytes


@dataclass(frozen=True)
class TreeEntry:
    """One entry of a tree: mode (`100644`, `040000`, ...), type (blob|tree|commit), name and object."""

    mode: str
    type: str
    name: str
    sha: str


@dataclass(frozen=True)
class Tree:
    """A directory: entries in git's order."""

    entries: tuple[TreeEntry, ...]


@dataclass(frozen=True)
class Signature:
    """Author or committer of a commit."""

    name: str
    email: str
    date: str  # ISO 8601, as the API shows it


@dataclass(frozen=True)
class Commit:
    """A commit: tree, parents, message and who made it."""

    tree: str
    parents: tuple[str, ...]
    message: str
    author: Signature
    committer: Signature


GitObject = Blob | Tree | Commit


def _hash(kind: str, payload: bytes) -> str:
    return hashlib.sha1(f"{kind} {len(payload)}\0".encode() + payload, usedforsecurity=False).hexdigest()


def _unix(date: str) -> int:
    return int(datetime.fromisoformat(date.replace("Z", "+00:00")).timestamp())


def _sort_key(entry: TreeEntry) -> bytes:
    # git orders a directory as if its name ended with "/".
    return (entry.name + ("/" if entry.type == "tree" else "")).encode()


@dataclass
class GitStore:
    """All objects of one repository, keyed by their real git SHA-1."""

    objects: dict[str, GitObject] = field(default_factory=dict)

    def put_blob(self, data: bytes) -> str:
        """Store file contents; return the blob SHA."""
        sha = _hash("blob", data)
        self.objects[sha] = Blob(data)
        return sha

    def put_tree(self, entries: list[TreeEntry]) -> str:
        """Store a tree of direct entries; return its SHA."""
        ordered = tuple(sorted(entries, key=_sort_key))
        payload = b"".join(
            f"{entry.mode.lstrip('0')} {entry.name}\0".encode() + bytes.fromhex(entry.sha)
            for entry in ordered
        )
        sha = _hash("tree", payload)
        self.objects[sha] = Tree(ordered)
        return sha

    def put_commit(self, commit: Commit) -> str:
        """Store a commit; return its SHA."""
        lines = [f"tree {commit.tree}"] + [f"parent {parent}" for parent in commit.parents]
        for role, who in (("author", commit.author), ("committer", commit.committer)):
            lines.append(f"{role} {who.name} <{who.email}> {_unix(who.date)} +0000")
        payload = ("\n".join(lines) + "\n\n" + commit.message).encode()
        sha = _hash("commit", payload)
        self.objects[sha] = commit
        return sha

    def get(self, sha: str, kind: type[GitObject]) -> GitObject | None:
        """The object `sha` when it exists and is of `kind`."""
        found = self.objects.get(sha)
        return found if isinstance(found, kind) else None

    def leaves(self, tree_sha: str, prefix: str = "") -> dict[str, TreeEntry]:
        """Every non-tree entry below `tree_sha`, by full path (entry.name is the full path)."""
        tree = self.objects[tree_sha]
        assert isinstance(tree, Tree)
        found: dict[str, TreeEntry] = {}
        for entry in tree.entries:
            path = prefix + entry.name
            if entry.type == "tree":
                found.update(self.leaves(entry.sha, path + "/"))
            else:
                found[path] = TreeEntry(entry.mode, entry.type, path, entry.sha)
        return found

    def build(self, leaves: dict[str, TreeEntry]) -> str:
        """Store the nested trees holding `leaves` (full paths); return the root tree SHA."""
        here: list[TreeEntry] = []
        below: dict[str, dict[str, TreeEntry]] = {}
        for path, entry in leaves.items():
            head, _, rest = path.partition("/")
            if rest:
                below.setdefault(head, {})[rest] = entry
            else:
                here.append(TreeEntry(entry.mode, entry.type, head, entry.sha))
        for name, children in below.items():
            here.append(TreeEntry(TREE_MODE, "tree", name, self.build(children)))
        return self.put_tree(here)

    def create_tree(self, entries: list[dict], base_tree: str | None) -> str:
        """GitHub's `POST /git/trees`: apply `entries` (inline content, sha, or sha null = delete) on a base."""
        if base_tree is not None and self.get(base_tree, Tree) is None:
            raise GitError(422, "base_tree is not a valid tree oid")
        leaves = self.leaves(base_tree) if base_tree else {}
        for item in entries:
            path = str(item.get("path") or "").strip("/")
            mode, kind = item.get("mode"), item.get("type")
            if not path or ".." in path.split("/") or mode is None or kind is None:
                raise GitError(422, "Invalid tree info")
            if "content" in item and item.get("sha") is not None:
                raise GitError(422, "Must supply either tree.sha or tree.content, not both")
            self._remove(leaves, path)
            if "content" in item:
                if kind != "blob" or mode not in FILE_MODES:
                    raise GitError(422, "Invalid tree info")
                sha = self.put_blob(str(item["content"]).encode())
                leaves[path] = TreeEntry(mode, "blob", path, sha)
            elif item.get("sha") is None:
                continue  # a null sha deletes the path
            elif kind == "tree":
                if mode != TREE_MODE or self.get(item["sha"], Tree) is None:
                    raise GitError(422, "GitRPC::BadObjectState")
                leaves.update(self.leaves(item["sha"], path + "/"))
            elif kind == "blob":
                if mode not in FILE_MODES or self.get(item["sha"], Blob) is None:
                    raise GitError(422, "GitRPC::BadObjectState")
                leaves[path] = TreeEntry(mode, "blob", path, item["sha"])
            else:  # a submodule points at a commit of another repository: nothing to check here
                leaves[path] = TreeEntry(SUBMODULE_MODE, "commit", path, item["sha"])
        return self.build(leaves)

    @staticmethod
    def _remove(leaves: dict[str, TreeEntry], path: str) -> None:
        for existing in list(leaves):
            if existing == path or existing.startswith(path + "/"):
                del leaves[existing]
        # A file where a directory now goes (`docs` then `docs/x.md`) gives way too.
        parts = path.split("/")
        for depth in range(1, len(parts)):
            leaves.pop("/".join(parts[:depth]), None)

    def walk(self, tree_sha: str, recursive: bool, prefix: str = "") -> list[tuple[str, TreeEntry]]:
        """(full path, entry) for the entries of a tree, and of its subtrees when recursive."""
        tree = self.objects[tree_sha]
        assert isinstance(tree, Tree)
        found: list[tuple[str, TreeEntry]] = []
        for entry in tree.entries:
            path = prefix + entry.name
            found.append((path, entry))
            if recursive and entry.type == "tree":
                found.extend(self.walk(entry.sha, True, path + "/"))
        return found

    def ancestors(self, sha: str) -> list[str]:
        """`sha` and every commit reachable from it, nearest first."""
        seen: list[str] = []
        queue = [sha]
        while queue:
            current = queue.pop(0)
            if current in seen:
                continue
            seen.append(current)
            commit = self.objects.get(current)
            if isinstance(commit, Commit):
                queue.extend(commit.parents)
        return seen

    def files(self, commit_sha: str) -> dict[str, bytes]:
        """Path → contents of every blob in a commit's tree."""
        commit = self.objects[commit_sha]
        assert isinstance(commit, Commit)
        found: dict[str, bytes] = {}
        for path, entry in self.leaves(commit.tree).items():
            blob = self.objects.get(entry.sha)
            if isinstance(blob, Blob):
                found[path] = blob.data
        return found
