"""Refreshing a location: read its descriptor files (conditionally: an unchanged file is not parsed
again), follow its `kind: Location` documents, import what changed for the location as origin, and
record the sources, conflicts and orphans. A refresh that cannot read its root keeps what the
catalog had and records why on the location."""

from __future__ import annotations

import hashlib
import logging
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from services.catalog import codeowners
from services.catalog.generation import bump_generation
from services.catalog.refs import EntityRef
from services.catalog.sync.reading import Reader, reader_for
from services.descriptors.checks import Entity
from services.descriptors.importer import ImportOrigin, check_stream, import_entities
from services.descriptors.report import ImportReport
from services.hosts.base import FileRead, HostError, TransientHostError
from services.hosts.repository_keys import LOCAL_KEY_HOST
from services.models import CatalogConflict, CodeOwners, Location, LocationSource

logger = logging.getLogger(__name__)

MAX_SOURCES = 1_000  # descriptor files one location reads (a folder, or Location documents and their targets)
MAX_LOCATION_BYTES = 64 * 1024 * 1024  # text one refresh parses, all its files together
# An organisation: a descriptor (and what its Location documents name) in each of up to 100,000
# repositories (hosts/github.py lists no more), and the text of those that changed since the last refresh.
MAX_ORGANISATION_SOURCES = 200_000
MAX_ORGANISATION_BYTES = 256 * 1024 * 1024
LEASE = timedelta(minutes=15)  # a refresh longer than this is presumed dead and may be taken over


@dataclass
class SourceState:
    """What one refresh found at one source."""

    path: str
    state: str  # read | unchanged | missing | failed | none (an organisation's repository without a descriptor)
    etag: str = ""
    digest: str = ""  # SHA-256 of the text read (the text itself is not kept: it is parsed as it is read)
    error: str = ""
    named_by: str = ""
    transient: bool = False
    targets: list[str] = field(default_factory=list)
    entities: int = 0
    had_problems: bool = False
    fresh: bool = True  # asked of the host this time (not answered from what was kept)


@dataclass
class RefreshResult:
    """What a refresh (or its dry run) read, imported, refused and orphaned."""

    location: Location
    report: ImportReport
    sources: list[SourceState]
    conflicts: list[Any] = field(default_factory=list)
    orphans: dict[str, list[str]] = field(default_factory=dict)
    error: str = ""
    changed: bool = False
    skipped: bool = False  # every source unchanged: nothing was parsed or imported
    seconds: float = 0.0
    listing: list[dict[str, Any]] | None = None  # an organisation's repositories, as listed this time
    retry_soon: bool = False  # the host could not answer now: try again before the period is over
    codeowners: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # repository key -> path, text, etag
    host_calls: int = 0

    @property
    def state(self) -> str:
        if self.error:
            return Location.State.FAILED
        problems = (self.conflicts or self.report.exit_code == 1
                    or any(source.state in ("missing", "failed") for source in self.sources))
        return Location.State.PARTIAL if problems else Location.State.OK

    def summary(self) -> dict[str, Any]:
        by_state: dict[str, int] = {}
        for source in self.sources:
            by_state[source.state] = by_state.get(source.state, 0) + 1
        return {
            "sources": by_state, "documents": self.report.counts(), "conflicts": len(self.conflicts),
            "orphans": {kind: len(keys) for kind, keys in self.orphans.items()},
            "missing": [{"path": s.path, "named_by": s.named_by, "error": s.error}
                        for s in self.sources if s.state == "missing"][:50],
            "failed": [{"path": s.path, "error": s.error} for s in self.sources if s.state == "failed"][:50],
            "skipped": self.skipped, "seconds": round(self.seconds, 3), "host_calls": self.host_calls,
        }


def claim_location(location_id: int) -> Location | None:
    """Take the location for one refresh (a conditional update: two workers never refresh it at once);
    None when another refresh holds it, which then runs again soon after (nothing is lost)."""
    now = timezone.now()
    taken = (Location.objects.filter(pk=location_id)
             .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
             .update(lease_until=now + LEASE, state=Location.State.REFRESHING))
    if taken != 1:
        Location.objects.filter(pk=location_id).update(next_refresh_at=now)  # the running one may miss the news
        return None
    return Location.objects.select_related("team").get(pk=location_id)


def location_refresh(*, location: Location, actor: Any = None, dry_run: bool = False, force: bool = False,
                     strict: bool = False, full: bool = False, only: list[str] | None = None) -> RefreshResult:
    """Read the location and bring the catalog in line with it; `dry_run` reads and plans, writing nothing.
    `full` parses every source even when unchanged (a dry run always does, to show everything); `only`
    names the repositories of an organisation to read (a push webhook), the others kept as they were."""
    started = time.monotonic()
    reader = reader_for(location, only=only)
    # Without their text: an unchanged source is neither parsed nor written again (thousands, for an organisation).
    known = {source.path: source for source in location.sources.all()} if location.pk else {}
    report = ImportReport(dry_run=dry_run, strict=strict)
    result = RefreshResult(location=location, report=report, sources=[])
    try:
        entities = _read(reader, known, report, result, full=full or dry_run)
    except HostError as error:  # an organisation that cannot be listed: nothing is known, nothing changes
        entities, result.error = [], f"the repositories could not be listed: {error}"
        result.retry_soon = isinstance(error, TransientHostError)
    result.listing = getattr(reader, "listing", None)
    if not result.error and not dry_run and location.kind != Location.Kind.PATH:
        result.codeowners = _read_codeowners(reader, location, result)
    result.host_calls = getattr(reader, "calls", 0)
    roots = [source for source in result.sources if not source.named_by]
    if result.error:
        pass
    elif location.kind == Location.Kind.ORGANISATION:
        if not result.sources:
            result.error = f"{location.target} has no repository visible to Slipway"
    elif not roots or all(source.state in ("missing", "failed") for source in roots):
        # Nothing of the location could be read (or its descriptor is gone): what the catalog has is kept.
        result.error = (roots[0].error if roots else "the location holds no descriptor file") or "it could not be read"
    if not result.error and not result.skipped:
        # Entries of files not parsed this time, or holding a document that could not be applied, are not
        # orphaned: what a broken or unreadable descriptor no longer shows was not removed on purpose.
        unread = frozenset(s.path for s in result.sources if s.state in ("unchanged", "failed") or s.had_problems)
        origin = ImportOrigin(
            location_id=location.pk, label=location.label, team=location.team.slug if location.team_id else None,
            unread_paths=unread,
            repository=(_repository_key(location, location.target) if location.kind == Location.Kind.REPOSITORY
                        else None),
            repository_host=_repository_host(location) if location.kind == Location.Kind.ORGANISATION else None)
        with transaction.atomic():
            importer = import_entities(entities, report, origin=origin, actor=actor, strict=strict,
                                       dry_run=dry_run, force=force)
            result.conflicts, result.orphans = importer.conflicts, importer.orphans
            result.changed = bool(importer.audit)
            result.seconds = time.monotonic() - started
            if not dry_run:
                _record(location, result)
    result.seconds = time.monotonic() - started
    if not dry_run and (result.error or result.skipped):
        _record(location, result)
    return result


def _repository_host(location: Location) -> str:
    """The host part of the keys of the location's repositories (services.hosts.repository_keys)."""
    return LOCAL_KEY_HOST if location.host == "local" else settings.SLIPWAY_DEFAULT_GIT_HOST


def _repository_key(location: Location, full_name: str) -> str:
    return f"{_repository_host(location)}/{full_name}".lower()


def _read_codeowners(reader: Reader, location: Location,
                     result: RefreshResult) -> dict[str, tuple[str, str, str]]:
    """The CODEOWNERS of each repository whose descriptor was read again (or whose CODEOWNERS was never
    read): the one found before asked conditionally (a 304 costs nothing), else GitHub's three places
    in order. A repository that cannot be read now keeps what was last read."""
    if location.kind == Location.Kind.REPOSITORY:
        roots = {location.target: result.sources[0]} if result.sources else {}
    else:
        roots = {"/".join(source.path.split("/")[:2]): source for source in result.sources
                 if not source.named_by and source.state in ("read", "unchanged")}
    keys = {_repository_key(location, full_name): full_name for full_name in roots}
    known = {row[0]: row[1:] for row in CodeOwners.objects.filter(repository__in=list(keys)).values_list(
        "repository", "path", "etag", "text")}
    wanted = [(key, full_name) for key, full_name in keys.items()
              if key not in known or roots[full_name].state == "read"]

    def one(item: tuple[str, str]) -> tuple[str, tuple[str, str, str] | None]:
        key, full_name = item
        path, etag, text = known.get(key, ("", "", ""))
        candidates = [path, *(c for c in codeowners.CANDIDATE_PATHS if c != path)] if path else list(
            codeowners.CANDIDATE_PATHS)
        try:
            for candidate in candidates:
                answer = reader.host.read_file(full_name=full_name, path=candidate, ref=location.ref,
                                               etag=etag if candidate == path else "")
                if answer.state == "unchanged":
                    return key, (path, text, etag)
                if answer.state == "read":
                    return key, (candidate, answer.text[:codeowners.MAX_BYTES], answer.etag)
            return key, ("", "", "")
        except (HostError, ValueError):
            return key, None  # kept as it was

    if not wanted:
        return {}
    with ThreadPoolExecutor(max_workers=max(1, min(reader.concurrency, len(wanted))),
                            thread_name_prefix="sync-codeowners") as pool:
        found = dict(pool.map(one, wanted))
    return {key: value for key, value in found.items() if value is not None}


WAVE = 256  # files taken from the queue at a time (their reads go out reader.concurrency at once)


def _read_wave(reader: Reader, wave: list[tuple[str, str, Any, str]]) -> list[FileRead | Exception]:
    """Each file's answer, or the error reading it raised, in the wave's order."""

    def one(item: tuple[str, str, Any, str]) -> FileRead | Exception:
        try:
            return reader.read(item[0], etag=item[3])
        except (HostError, ValueError) as error:
            return error

    if reader.concurrency <= 1 or len(wave) <= 1:
        return [one(item) for item in wave]
    with ThreadPoolExecutor(max_workers=min(reader.concurrency, len(wave)), thread_name_prefix="sync-read") as pool:
        return list(pool.map(one, wave))


def _digest(text: str) -> str:
    """SHA-256 of the text's UTF-8, a megabyte at a time (not a second copy of a large file)."""
    digest = hashlib.sha256()
    for start in range(0, len(text), 1 << 20):
        digest.update(text[start:start + (1 << 20)].encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def _read(reader: Reader, known: dict[str, LocationSource], report: ImportReport, result: RefreshResult,
          *, full: bool) -> list[Entity]:
    """Every source reachable from the reader's roots, breadth first; the entities of those that changed."""
    organisation = result.location.kind == Location.Kind.ORGANISATION
    most_sources = MAX_ORGANISATION_SOURCES if organisation else MAX_SOURCES
    most_bytes = MAX_ORGANISATION_BYTES if organisation else MAX_LOCATION_BYTES
    entities: list[Entity] = []
    ref_cache: dict[tuple[str, str | None], EntityRef | str] = {}
    queue = deque((path, "") for path in reader.roots())
    seen: set[str] = set()
    parsed_bytes = 0
    # Files read one at a time are handled one at a time: a wave holds the texts of all its files.
    wave_size = WAVE if reader.concurrency > 1 else 1
    while queue:
        # A wave: the next files to read, read at once (reader.concurrency), then handled in order.
        wave: list[tuple[str, str, LocationSource | None, str]] = []
        while queue and len(wave) < wave_size:
            path, named_by = queue.popleft()
            if path in seen:
                continue
            if len(seen) >= most_sources:
                report.file_errors.append({"file": path, "error": f"not read: a location reads at most "
                                                                  f"{most_sources:,} files (split it into several "
                                                                  "locations)"})
                queue.clear()
                break
            seen.add(path)
            previous = known.get(path)
            reuse = (previous is not None and not previous.had_problems
                     and previous.state in (LocationSource.State.READ, LocationSource.State.NONE))
            wave.append((path, named_by, previous, previous.etag if reuse and not full else ""))
        answer = None  # the last file's text, let go before the next ones are read
        answers = _read_wave(reader, wave)
        for number, (path, named_by, previous, _) in enumerate(wave):
            answer, answers[number] = answers[number], None  # each text is let go once it is checked
            source = SourceState(path=path, state="failed", named_by=named_by)
            result.sources.append(source)
            if isinstance(answer, TransientHostError):
                source.error, source.transient = str(answer), True
                report.file_errors.append({"file": path, "error": f"could not be read now: {answer}"})
                continue
            if isinstance(answer, Exception):
                source.error = str(answer)
                report.file_errors.append({"file": path, "error": str(answer)})
                continue
            source.state, source.etag, source.error = answer.state, answer.etag, answer.error
            source.fresh = previous is None or answer.etag != previous.etag or answer.state == "read"
            if answer.state == "missing" and not named_by and organisation:
                source.state, source.error = "none", ""  # a repository holding no descriptor: nothing to report
                continue
            if answer.state == "missing":
                report.file_errors.append({"file": path, "error": answer.error + (
                    f" (named by {named_by})" if named_by else "")})
                continue
            if answer.state == "unchanged":
                source.targets, source.entities = list(previous.targets), previous.entities
                queue.extend((target, path) for target in source.targets)
                continue
            source.digest = _digest(answer.text)
            parsed_bytes += len(answer.text)
            if parsed_bytes > most_bytes:
                source.state, source.error = "failed", f"not read: a location's files hold at most {most_bytes:,} bytes"
                report.file_errors.append({"file": path, "error": source.error})
                continue
            try:
                results, valid, _, followed = check_stream(answer.text, path, ref_cache)
            except ValueError as error:
                source.state, source.error = "failed", str(error)
                report.file_errors.append({"file": path, "error": str(error)})
                continue
            report.files_read += 1
            report.documents.extend(results)
            entities.extend(valid)
            source.entities = len(valid)
            for location_document in followed:
                for target in location_document.targets:
                    try:
                        resolved = reader.resolve(path, target)
                    except ValueError as refusal:
                        location_document.result.note(str(refusal))
                        continue
                    source.targets.append(resolved)
                    queue.append((resolved, path))
    result.skipped = (not full and bool(result.sources) and set(known) == seen
                      and all(s.state == "unchanged" or (s.state == "none" and not s.fresh) for s in result.sources))
    troubled = {r.file for r in report.documents if r.outcome in ("invalid", "conflict")}  # once: not per source
    for source in result.sources:
        source.had_problems = source.path in troubled
    return entities


def _record_codeowners(location: Location, found: dict[str, tuple[str, str, str]], now: Any) -> None:
    """Keep what was read of each repository's CODEOWNERS; ownership answers change with it."""
    if not found:
        return
    rows = {row.repository: row for row in CodeOwners.objects.filter(repository__in=list(found))}
    changed = False
    for key, (path, text, etag) in found.items():
        row = rows.get(key)
        if row is None:
            CodeOwners.objects.create(repository=key, location=location, path=path, text=text, etag=etag,
                                      read_at=now)
            changed = True
        elif (row.path, row.text, row.etag) != (path, text, etag):
            changed |= (row.path, row.text) != (path, text)
            CodeOwners.objects.filter(pk=row.pk).update(location=location, path=path, text=text, etag=etag,
                                                        read_at=now)
    if changed:
        bump_generation()


def _record(location: Location, result: RefreshResult) -> None:
    """The refresh's sources, conflicts and outcome, on the location (in the import's transaction)."""
    now = timezone.now()
    jitter = (location.pk or 0) * 7919 % max(1, location.refresh_seconds // 10)  # spread locations over the period
    values: dict[str, Any] = {
        "state": result.state, "last_refreshed_at": now, "lease_until": None,
        "next_refresh_at": now + timedelta(seconds=location.refresh_seconds + jitter),
        "summary": result.summary(),
    }
    if result.listing is not None:
        values["listing"] = result.listing
    if result.error:
        values["last_error"] = result.error
        if result.retry_soon or any(source.transient for source in result.sources):  # sooner than the period
            values["next_refresh_at"] = now + timedelta(seconds=min(300, location.refresh_seconds))
        Location.objects.filter(pk=location.pk).update(**values)
        logger.warning("location.refresh_failed", extra={"location": location.pk, "error": result.error})
        return
    values["last_error"] = ""
    if result.changed:
        values["last_changed_at"] = now
    Location.objects.filter(pk=location.pk).update(**values)
    _record_codeowners(location, result.codeowners, now)
    if result.skipped:
        return
    kept = {source.path for source in result.sources}
    # Plain rows, not model instances: thousands of them for an organisation, most left as they are.
    existing = {path: (row_id, had_problems) for row_id, path, had_problems
                in location.sources.values_list("id", "path", "had_problems")}
    gone = [row_id for path, (row_id, _) in existing.items() if path not in kept]
    for start in range(0, len(gone), 1000):
        LocationSource.objects.filter(pk__in=gone[start:start + 1000]).delete()
    new, changed = [], []
    names = ["state", "etag", "digest", "entities", "error", "named_by", "targets", "had_problems", "read_at"]
    failed: set[int] = set()
    for source in result.sources:
        row = existing.get(source.path)
        if row is not None and (source.state == "unchanged" or not source.fresh) and not source.had_problems \
                and not row[1]:
            continue  # answered from what was kept (its text was not even loaded): the row already says so
        if row is not None and source.state == "failed":
            failed.add(row[0])  # keeps what was last read of it (its entries are kept too), and says why
            continue
        fields = {"state": "read" if source.state == "unchanged" else source.state, "etag": source.etag,
                  # The text itself is not kept (nothing reads it back: an unchanged file is known by its
                  # ETag); at 100,000 services it was a 45 MB copy held through the import, then written.
                  "digest": source.digest if source.state == "read" else "",
                  "entities": source.entities, "error": source.error[:2000], "named_by": source.named_by,
                  "targets": source.targets, "had_problems": source.had_problems, "read_at": now}
        if row is None:
            new.append(LocationSource(location=location, path=source.path, **fields))
        else:
            changed.append(LocationSource(id=row[0], location=location, path=source.path, **fields))
    LocationSource.objects.bulk_create(new, batch_size=500)
    LocationSource.objects.bulk_update(changed, names, batch_size=500)
    errors = {source.path: source.error[:2000] for source in result.sources if source.state == "failed"}
    for path, (row_id, _) in existing.items():
        if row_id in failed:
            LocationSource.objects.filter(pk=row_id).update(error=errors[path], had_problems=True, read_at=now)
    # Conflicts: those of the files read again are replaced (keeping when each was first seen); those of
    # unchanged files stay.
    reread = {source.path for source in result.sources if source.state != "unchanged"}
    found = {(conflict.kind, conflict.name): conflict for conflict in result.conflicts}
    shown_changed = False  # pages show conflicts: a change is a catalog change for the caches
    for old in location.conflicts.all():
        conflict = found.pop((old.kind, old.name), None)
        if conflict is not None:
            CatalogConflict.objects.filter(pk=old.pk).update(last_seen=now, message=conflict.message,
                                                             held_by=conflict.held_by[:600], path=conflict.path)
            shown_changed |= (old.path, old.message) != (conflict.path, conflict.message)
        elif old.path in reread or old.path not in kept:
            old.delete()
            shown_changed = True
    if found or shown_changed:
        bump_generation()
    CatalogConflict.objects.bulk_create(
        CatalogConflict(location=location, kind=conflict.kind, name=conflict.name, path=conflict.path,
                        held_by=conflict.held_by[:600], message=conflict.message, first_seen=now, last_seen=now)
        for conflict in found.values())
