"""What an import did, document by document: the report every interface shows."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

# ---------------------------------------------------------------------------------------------
# The report.

# `followed`: a Location document, whose targets were read; `conflict`: it names an entry another
# origin holds (services/models/locations.py), so nothing of it was applied.
OUTCOMES = ("created", "updated", "unchanged", "skipped", "invalid", "conflict", "followed")


class DocumentResult:
    """What the import did with one document, and why.

    One is kept for every document of an import (126,200 of them for a 100,000-service catalog), so
    it is slotted and makes its lists only when something is said: most documents are created or
    unchanged without a word. `reasons`, `changes` and `notes` read as lists all the same."""

    __slots__ = ("file", "index", "kind", "name", "outcome", "_reasons", "_changes", "_notes")

    def __init__(self, file: str, index: int, kind: str = "", name: str = "", outcome: str = "",
                 reasons: list[str] | None = None, changes: list[str] | None = None,
                 notes: list[str] | None = None) -> None:
        self.file = file
        self.index = index  # 1-based position of the document in its file
        self.kind = kind
        self.name = name
        self.outcome = outcome  # created | updated | unchanged | skipped | invalid | conflict | followed
        self._reasons = reasons or None
        self._changes = changes or None
        self._notes = notes or None

    @property
    def reasons(self) -> list[str]:
        if self._reasons is None:
            self._reasons = []
        return self._reasons

    @reasons.setter
    def reasons(self, value: list[str]) -> None:
        self._reasons = value

    @property
    def changes(self) -> list[str]:
        if self._changes is None:
            self._changes = []
        return self._changes

    @changes.setter
    def changes(self, value: list[str]) -> None:
        self._changes = value

    @property
    def notes(self) -> list[str]:
        if self._notes is None:
            self._notes = []
        return self._notes

    @notes.setter
    def notes(self, value: list[str]) -> None:
        self._notes = value

    def _fields(self) -> tuple[Any, ...]:
        return (self.file, self.index, self.kind, self.name, self.outcome, self._reasons or [],
                self._changes or [], self._notes or [])

    def __eq__(self, other: object) -> bool:
        return self._fields() == other._fields() if isinstance(other, DocumentResult) else NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable, as the dataclass it replaces

    def __repr__(self) -> str:
        return (f"DocumentResult(file={self.file!r}, index={self.index!r}, kind={self.kind!r}, name={self.name!r}, "
                f"outcome={self.outcome!r}, reasons={self._reasons or []!r}, changes={self._changes or []!r}, "
                f"notes={self._notes or []!r})")

    def __getstate__(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        for name, value in zip(self.__slots__, state, strict=True):
            setattr(self, name, value)

    @property
    def location(self) -> str:
        return f"{self.file}:{self.index}"

    def fail(self, *reasons: str) -> None:
        self.outcome = "invalid"
        self.reasons.extend(reasons)
        self._notes = None  # what would not have been kept no longer matters

    def skip(self, reason: str) -> None:
        self.outcome = "skipped"
        self.reasons.append(reason)
        self._notes = None

    def conflict(self, reason: str) -> None:
        """Another origin holds the entry it names: nothing of it is applied."""
        self.outcome = "conflict"
        self.reasons.append(reason)
        self._notes = None

    def note(self, note: str) -> None:
        if note not in self.notes:
            self.notes.append(note)

    def line(self) -> str:
        """One line of the human report: `file:index Kind name -> outcome`."""
        if self.outcome == "invalid":
            body = "skipped (invalid): " + "; ".join(self.reasons)
        elif self.outcome == "skipped":
            body = "skipped: " + "; ".join(self.reasons)
        elif self.outcome == "conflict":
            body = "refused (conflict): " + "; ".join(self.reasons)
        elif self.outcome == "updated":
            body = f"updated ({', '.join(self.changes)})"
        else:
            body = self.outcome
        if self._notes:
            body += " - " + "; ".join(self._notes)
        return f"{self.location} {self.kind or '?'} {self.name or '?'} -> {body}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file, "index": self.index, "kind": self.kind, "name": self.name,
            "outcome": self.outcome, "reasons": self._reasons or [], "changes": self._changes or [],
            "notes": self._notes or [],
        }


@dataclass
class ImportReport:
    """The outcome of one import: a result per document, unreadable files, and what was declared."""

    dry_run: bool = False
    strict: bool = False
    files_read: int = 0
    documents: list[DocumentResult] = field(default_factory=list)
    file_errors: list[dict[str, str]] = field(default_factory=list)
    declared_teams: list[str] = field(default_factory=list)
    declared_users: list[str] = field(default_factory=list)
    conflicts: list[dict[str, str]] = field(default_factory=list)  # entries another origin holds
    orphans: dict[str, list[str]] = field(default_factory=dict)  # kind -> entries the location no longer produces

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(OUTCOMES, 0)
        for result in self.documents:
            counts[result.outcome] += 1
        return counts

    @property
    def exit_code(self) -> int:
        """0: nothing errored; 1: some documents or files were invalid; 2: nothing could be read."""
        if self.files_read == 0:
            return 2
        if self.file_errors or any(result.outcome in ("invalid", "conflict") for result in self.documents):
            return 1
        return 0

    def lines(self) -> Iterator[str]:
        for error in self.file_errors:
            yield f"{error['file']} -> skipped (unreadable): {error['error']}"
        for result in self.documents:
            yield result.line()

    def summary(self) -> str:
        counts = self.counts()
        files = self.files_read + len(self.file_errors)
        text = (
            f"{len(self.documents)} documents in {files} file{'s' if files != 1 else ''}: "
            + ", ".join(f"{count} {outcome}" for outcome, count in counts.items()
                        if count or outcome not in ("conflict", "followed"))
        )
        if self.file_errors:
            text += f"; {len(self.file_errors)} file{'s' if len(self.file_errors) != 1 else ''} unreadable"
        text += "."
        if self.declared_teams:
            text += ("\nTeams declared by this import (named as owner, parent or member, not described): "
                     + ", ".join(self.declared_teams))
        if self.declared_users:
            text += "\nUsers declared by this import (named, not described): " + ", ".join(self.declared_users)
        if self.orphans:
            text += ("\nOrphaned (no longer described here; kept, shown as orphans): "
                     + "; ".join(f"{kind} {', '.join(keys[:20])}" + (f" and {len(keys) - 20:,} more" if len(keys) > 20
                                                                     else "") for kind, keys in self.orphans.items()))
        if self.dry_run:
            text += "\nDry run: nothing was written."
        return text

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run, "strict": self.strict, "exit_code": self.exit_code,
            "summary": self.counts() | {"files_read": self.files_read, "files_unreadable": len(self.file_errors)},
            "declared": {"teams": self.declared_teams, "users": self.declared_users},
            "conflicts": self.conflicts, "orphans": self.orphans,
            "file_errors": self.file_errors,
            "documents": [result.as_dict() for result in self.documents],
        }
