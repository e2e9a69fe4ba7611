"""Import: read and check every document (in two processes for a large file), resolve references,
then plan (planning.py) and write (writing.py) only what differs, in one transaction."""

from __future__ import annotations

import gc
import multiprocessing
import os
import re
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import DatabaseError, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from services.catalog.refs import quote
from services.descriptors.checks import Entity, LocationTargets, validate
from services.descriptors.fields import MOST_PROBLEMS, Ref, listing
from services.descriptors.namespaced import Namespaced
from services.descriptors.origins import FoundConflict, Origins
from services.descriptors.parse import (
    MODELLED_KINDS,
    NAME_ANNOTATION,
    RefusedDocument,
    iter_documents,
    key_parts,
    ref_key,
)
from services.descriptors.parts import Parts
from services.descriptors.planning import ORIGIN_COLUMNS, SERVICE_COLUMNS, TEAM_COLUMNS, Planner
from services.descriptors.report import DocumentResult, ImportReport
from services.descriptors.writing import Writer, chunks
from services.errors import CatalogError
from services.models import Domain, Membership, Profile, Service, ServiceDependency, System, Team

User = get_user_model()

# ---------------------------------------------------------------------------------------------
# Importing.


@dataclass
class ImportOrigin:
    """The location an import reads for: it may change only the entries it produced (or unclaimed ones)."""

    location_id: int | None  # None for a dry run of a location not registered yet
    label: str
    team: str | None = None  # registered by a member for this team: only its entries may be described
    # Entries from these sources are kept as they are when not produced (their source could not be read).
    unread_paths: frozenset[str] = frozenset()
    # A component that names no repository is in the one it was read from: `repository` (a repository
    # location), or `<repository_host>/<owner>/<name>` from the first two segments of its file's path
    # (an organisation).
    repository: str | None = None
    repository_host: str | None = None

    def repository_for(self, path: str) -> str | None:
        if self.repository:
            return self.repository
        if self.repository_host and path.count("/") >= 2:
            return f"{self.repository_host}/{'/'.join(path.split('/')[:2])}".lower()
        return None


def import_entities(entities: list[Entity], report: ImportReport, *, origin: ImportOrigin, actor: Any = None,
                    strict: bool = False, dry_run: bool = False, force: bool = False) -> _Importer:
    """Plan and (unless `dry_run`) write what the checked entities change, for `origin`; returns the importer,
    whose `conflicts` and `orphans` say what it refused and what its location no longer produces.

    Invalid documents are already in the report; the valid ones are imported. Re-importing the same input
    changes nothing and records no audit event. `strict` refuses documents naming a team, user, system or
    domain that is neither in the catalog nor in the input (by default such teams and users are created
    as declared). A descriptor never moves a service already in the catalog to another owner, nor changes
    an entry another origin holds (a copy-paste of another team's descriptor would take it): such a
    document is refused with the reason, unless `force` (an administrator on the server) says so.
    """
    # An import makes hundreds of thousands of long-lived objects and no reference cycles: the
    # collector's repeated full passes over them were a third of the 10k-service import's time.
    collecting = gc.isenabled()
    gc.disable()
    try:
        importer = _Importer(entities, report, strict=strict, actor=actor, force=force, origin=origin)
        if dry_run:
            importer.run(write=False)
        else:
            try:
                with transaction.atomic():
                    importer.run(write=True)
            except DatabaseError as error:
                # Only a concurrent write can get here (everything was validated and diffed first).
                raise CatalogError(f"The catalog changed during the import; nothing was written ({error}).") from None
    finally:
        if collecting:
            gc.enable()
    return importer


# results, valid entities, documents read, Location documents (their targets)
_Checked = tuple[list[DocumentResult], list[Entity], int, list[LocationTargets]]
# A file this large is parsed and validated in two halves at once, one in a forked process: on the
# 10k-service file (4.4 MB) parsing was the largest part of the import, and machines have 2+ cores.
PARALLEL_BYTES = 1_000_000
# What the forked process checked is sent to the importing one this many documents at a time, as it
# goes: never the whole half at once (a pickle of 60,000 documents' entities is ~50 MB).
SEND_DOCUMENTS = 2_000
_DOCUMENT_START = re.compile(r"^---(?=[ \t\r\n]|$)", re.MULTILINE)
_RefCache = dict[tuple[str, ...], Any]


def check_text(text: str, label: str, ref_cache: _RefCache, start: int = 0, end: int | None = None,
               sink: Callable[[_Checked], None] | None = None) -> _Checked:
    """Parse and validate one YAML stream (`text[start:end]`, `start` at a document's start) a
    document at a time, keeping what each one gives and never the documents themselves; raises
    ValueError when it is not YAML. With `sink`, what is checked goes to it every SEND_DOCUMENTS
    documents instead of being returned (the document count still is)."""
    results: list[DocumentResult] = []
    entities: list[Entity] = []
    followed: list[LocationTargets] = []
    index = 0
    for index, document in enumerate(iter_documents(text, start, end), start=1):
        if document is None:
            continue  # an empty document (a stray `---`, a comment-only header): nothing to say
        result = DocumentResult(file=label, index=index)
        results.append(result)
        if isinstance(document, RefusedDocument):  # over a limit of parse.py: never built
            result.fail(document.reason)
            continue
        entity = validate(document, result, ref_cache)
        del document  # the next one is parsed while this is still referenced otherwise
        if isinstance(entity, LocationTargets):
            followed.append(entity)
        elif entity is not None:
            entities.append(entity)
        if sink is not None and len(results) >= SEND_DOCUMENTS:
            sink((results, entities, index, followed))
            results, entities, followed = [], [], []
    if sink is not None and results:
        sink((results, entities, index, followed))
        results, entities, followed = [], [], []
    return results, entities, index, followed


def check_stream(text: str, label: str, ref_cache: _RefCache) -> _Checked:
    """check_text, in two processes for a large stream; raises ValueError when it is not YAML."""
    if len(text) >= PARALLEL_BYTES:
        checked = _check_halves(text, label, ref_cache)
        if checked is not None:
            return checked
    return check_text(text, label, ref_cache)


def _check_halves(text: str, label: str, ref_cache: _RefCache) -> _Checked | None:
    """check_text on the two halves of a stream at once, or None to do it the plain way.

    The cut is a document start (`---` at the start of a line, which ends any scalar in YAML);
    a stream with directives, a single core, or any error in either half goes the plain way, so
    what is reported never depends on the cut. The forked process sends what it checked in parts
    as it goes, taken in by a thread here while this process checks the first half.
    """
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    match = _DOCUMENT_START.search(text, len(text) // 2)
    if cpus < 2 or match is None or re.search(r"^%", text, re.MULTILINE):
        return None
    try:
        context = multiprocessing.get_context("fork")
    except ValueError:
        return None
    cut = match.start()
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_check_in_child, args=(text, cut, label, ref_cache, sender), daemon=True)
    child.start()
    sender.close()
    parts: list[_Checked] = []
    done: list[int] = []  # the second half's document count, once it is all checked

    def take() -> None:
        try:
            while (part := receiver.recv()) is not None:
                if isinstance(part, int):
                    done.append(part)
                    return
                parts.append(part)
        except (EOFError, OSError):
            pass

    taker = threading.Thread(target=take, name="check-second-half", daemon=True)
    taker.start()
    try:
        try:
            first: _Checked | None = check_text(text, label, ref_cache, 0, cut)
        except ValueError:
            first = None
        taker.join()
    finally:
        receiver.close()
        child.join()
    if first is None or not done:
        return None
    results, entities, count, followed = first
    for part_results, part_entities, _, part_followed in parts:
        for result in part_results:
            result.index += count
        results.extend(part_results)
        entities.extend(part_entities)
        followed.extend(part_followed)
    return results, entities, count + done[0], followed


def _check_in_child(text: str, cut: int, label: str, ref_cache: _RefCache, sender: Any) -> None:
    try:
        sender.send(check_text(text, label, ref_cache, cut, None, sink=sender.send)[2])
    except Exception:  # noqa: BLE001 - the parent redoes the whole file and reports any error itself
        sender.send(None)
    sender.close()


class _Importer(Origins, Planner, Writer, Namespaced, Parts):
    """One import: resolves references, diffs against the catalog, then writes the differences in bulk.

    Rows are read as dicts (values()), compared in memory and written with executemany: a fixed
    handful of queries per table whatever the size of the input.
    """

    def __init__(self, entities: list[Entity], report: ImportReport, *, strict: bool, actor: Any,
                 origin: ImportOrigin, force: bool = False) -> None:
        self.report = report
        self.origin = origin
        self.conflicts: list[FoundConflict] = []
        self.orphans: dict[str, list[str]] = {}
        self.strict = strict
        self.force = force
        self.actor = actor
        self.now = timezone.now()
        self.entities: dict[str, dict[str, Entity]] = {kind: {} for kind in MODELLED_KINDS}
        self.declared_teams: dict[str, str] = {}  # key -> name as written
        self.declared_users: dict[str, str] = {}
        self.audit: list[tuple[str, str, str, dict[str, Any]]] = []  # action, object type, key, changes
        for entity in entities:
            self._index(entity)

    def _index(self, entity: Entity) -> None:
        bucket = self.entities[entity.kind]
        other = bucket.get(entity.key)
        if other is None:
            bucket[entity.key] = entity
            return
        where = other.result.location
        if other.namespace != entity.namespace:
            entity.result.skip(f"{entity.kind} '{other.name}' of namespace '{other.namespace}' is already "
                               f"defined at {where}, and a person has one account, in one namespace")
        elif other.name.lower() != entity.name.lower():
            entity.result.fail(f"'{entity.name}' and '{other.name}' ({where}) would both be service '{entity.key}'")
        else:
            entity.result.fail(f"{entity.kind} '{entity.name}' is already defined at {where}")

    def run(self, *, write: bool) -> None:
        self._load()
        self._claim()
        if self.strict:
            self._refuse_unresolved()
        self._resolve()
        self._plan_teams()
        self._plan_users()
        self._plan_memberships()
        self._plan_groupings()
        self._plan_services()
        self._plan_namespaced()
        self.report.declared_teams = sorted(self.declared_teams.values(), key=str.lower)
        self.report.declared_users = sorted(self.declared_users.values(), key=str.lower)
        if write:
            self._apply()

    # -- loading ---------------------------------------------------------------------------------

    def _load(self) -> None:
        """The rows the import touches, in a few queries whatever the input's size."""
        self.teams: dict[str, dict[str, Any]] = {row["slug"]: row for row in Team.objects.values(*TEAM_COLUMNS)}
        self.team_slug = {row["id"]: slug for slug, row in self.teams.items()}
        self.systems: dict[str, dict[str, Any]] = {
            row["slug"]: row for row in System.objects.values("id", "slug", "name", "description", "owner_id", "owner_user_id",
                                                              "domain_id", *ORIGIN_COLUMNS)}
        self.system_slug = {row["id"]: slug for slug, row in self.systems.items()}
        self.domains: dict[str, dict[str, Any]] = {
            row["slug"]: row for row in Domain.objects.values("id", "slug", "name", "description", "owner_id", "owner_user_id",
                                                              *ORIGIN_COLUMNS)}
        self.domain_slug = {row["id"]: slug for slug, row in self.domains.items()}

        components = self.entities["Component"]
        wanted_users = set(self.entities["User"])
        for kind in ("Component", "System", "Domain"):
            for entity in self.entities[kind].values():
                owner = entity.refs["owner"]
                if owner.ref.kind == "user":
                    wanted_users.add(owner.ref.name)
        for entity in self.entities["Group"].values():
            wanted_users.update(member.ref.name for member in entity.refs["members"])
        self.users: dict[str, dict[str, Any]] = {}
        self._load_users(lower_name__in=sorted(wanted_users))
        self.profiles: dict[int, dict[str, Any]] = {}
        for chunk in chunks(sorted(row["id"] for row in self.users.values())):
            for row in Profile.objects.filter(user_id__in=chunk).values("id", "user_id", "display_name", "picture",
                                                                        "declared_by_import", *ORIGIN_COLUMNS):
                self.profiles[row["user_id"]] = row

        targets = {ref_key(dep.ref) for entity in components.values()
                   for dep in entity.refs["depends_on"] if dep.ref.kind == "component"}
        self.services: dict[str, dict[str, Any]] = {}
        for chunk in chunks(sorted(set(components) | targets)):
            for row in Service.objects.filter(slug__in=chunk).order_by().values(*SERVICE_COLUMNS):
                self.services[row["slug"]] = row
        for key, entity in list(components.items()):
            row = self.services.get(key)
            held_by = (row["annotations"] or {}).get(NAME_ANNOTATION, key_parts(row["slug"])[1]) if row else entity.name
            if held_by.lower() != entity.name.lower():
                entity.result.fail(f"service '{key}' is already in the catalog as Component '{held_by}'")
                del components[key]
        owner_ids = {row["owner_user_id"] for rows in (self.services, self.systems, self.domains)
                     for row in rows.values() if row["owner_user_id"]}
        self._load_users(id__in=sorted(owner_ids - {row["id"] for row in self.users.values()}))

        self.dependencies: dict[int, dict[str, tuple[int, int | None]]] = defaultdict(dict)
        existing_ids = [self.services[key]["id"] for key in components if key in self.services]
        for chunk in chunks(existing_ids):
            rows = ServiceDependency.objects.filter(service_id__in=chunk).values_list(
                "id", "service_id", "target_ref", "target_id")
            for row_id, service_id, target_ref, target_id in rows:
                self.dependencies[service_id][target_ref] = (row_id, target_id)

        described_ids = [self.users[key]["id"] for key in self.entities["User"] if key in self.users]
        listing_ids = [self.teams[key]["id"] for key, entity in self.entities["Group"].items()
                       if key in self.teams and entity.refs["has_members"]]
        membership_rows: list[tuple[int, int, int, str]] = []
        for column, ids in (("user_id", described_ids), ("team_id", listing_ids)):
            for chunk in chunks(ids):
                membership_rows.extend(Membership.objects.filter(**{f"{column}__in": chunk})
                                       .values_list("id", "user_id", "team_id", "role"))
        self._load_users(id__in=sorted({row[1] for row in membership_rows} - set(self.user_key)))
        self.memberships: dict[tuple[str, str], int] = {  # (user key, team slug) -> row id
            (self.user_key[user_id], self.team_slug[team_id]): row_id for row_id, user_id, team_id, _ in membership_rows}
        self.membership_roles = {(self.user_key[user_id], self.team_slug[team_id]): role
                                 for _, user_id, team_id, role in membership_rows}
        self._load_namespaced()
        self._load_parts()

    def _load_users(self, **lookup: list[Any]) -> None:
        """Users by lower-case name or id; the first of two names that differ only in case wins."""
        ((name, values),) = lookup.items()
        for chunk in chunks(values):
            query = (User.objects.annotate(lower_name=Lower("username")).filter(**{name: chunk})
                     .order_by("pk").values("id", "username", "email", "lower_name", "is_staff",
                                                     "is_superuser"))
            for row in query:
                self.users.setdefault(row["lower_name"], row)
        self.user_key = {row["id"]: key for key, row in self.users.items()}

    # -- resolving references --------------------------------------------------------------------

    def _known(self, ref: Ref) -> bool:
        kind, key = ref.ref.kind, (ref.ref.name if ref.ref.kind == "user" else ref_key(ref.ref))
        if kind == "group":
            return key in self.entities["Group"] or key in self.teams
        if kind == "user":
            return key in self.entities["User"] or key in self.users
        if kind == "system":
            return key in self.entities["System"] or key in self.systems
        if kind == "domain":
            return key in self.entities["Domain"] or key in self.domains
        return True

    def _references(self, entity: Entity) -> Iterator[Ref]:
        """The references an import must resolve (dependsOn is kept as a reference, never refused)."""
        for name, value in entity.refs.items():
            if name in ("depends_on", "has_members", "provides_apis", "consumes_apis", "dependency_of") or value is None:
                continue
            yield from value if isinstance(value, list) else [value]

    def _refuse_unresolved(self) -> None:
        """--strict: refuse documents naming what is neither in the catalog nor in the input."""
        refused = True
        while refused:  # refusing one document can leave others naming it unresolved
            refused = False
            for bucket in self.entities.values():
                for key, entity in list(bucket.items()):
                    missing = [ref for ref in self._references(entity) if not self._known(ref)]
                    if missing:
                        entity.result.fail(*(f"{ref.path} {quote(ref.text)} names a {ref.ref.kind} that is "
                                             "neither in the catalog nor in this import (--strict)"
                                             for ref in missing[:MOST_PROBLEMS]))
                        if len(missing) > MOST_PROBLEMS:
                            entity.result.fail(f"and {len(missing) - MOST_PROBLEMS:,} more such references")
                        del bucket[key]
                        refused = True

    def _team(self, ref: Ref, entity: Entity, role: str) -> str:
        key = ref_key(ref.ref)
        if key not in self.entities["Group"] and key not in self.teams and key not in self.declared_teams:
            self.declared_teams[key] = ref.written
        if key in self.declared_teams:
            entity.declared.setdefault(f"{role} team", []).append(ref.written)
        return key

    def _user(self, ref: Ref, entity: Entity, role: str) -> str:
        key = ref.ref.name
        if key not in self.entities["User"] and key not in self.users and key not in self.declared_users:
            self.declared_users[key] = ref.written
        if key in self.declared_users:
            entity.declared.setdefault(f"{role} user", []).append(ref.written)
        return key

    def _grouping(self, ref: Ref | None, entity: Entity) -> str | None:
        if ref is None:
            return None
        if self._known(ref):
            return ref_key(ref.ref)
        entity.result.note(f"{ref.ref.kind} '{ref.written}' is not in the catalog: not kept")
        return None

    def _resolve(self) -> None:
        for entity in self.entities["Group"].values():
            refs = entity.refs
            entity.resolved = {
                "parent": self._team(refs["parent"], entity, "parent") if refs["parent"] else None,
                "children": [self._team(child, entity, "child") for child in refs["children"]],
                "members": [self._user(member, entity, "member") for member in refs["members"]],
            }
        for entity in self.entities["User"].values():
            entity.resolved = {"member_of": [self._team(team, entity, "group") for team in entity.refs["member_of"]]}
        for kind in ("Domain", "System"):
            for entity in self.entities[kind].values():
                owner = entity.refs["owner"]
                entity.resolved = {"owner": ("team", self._team(owner, entity, "owner")) if owner.ref.kind == "group"
                                   else ("user", self._user(owner, entity, "owner"))}
                if kind == "System":
                    entity.resolved["domain"] = self._grouping(entity.refs["domain"], entity)
        for entity in self.entities["Component"].values():
            owner = entity.refs["owner"]
            entity.resolved = {
                "owner": ("team", self._team(owner, entity, "owner")) if owner.ref.kind == "group"
                else ("user", self._user(owner, entity, "owner")),
                "system": self._grouping(entity.refs["system"], entity),
                "depends_on": [str(dep.ref) for dep in entity.refs["depends_on"]],
            }
        self._resolve_namespaced()
        for bucket in self.entities.values():
            for entity in bucket.values():
                for role, names in entity.declared.items():
                    entity.result.note(f"{role}{'s' if len(names) > 1 else ''} {listing(names)} "
                                       f"not described anywhere: declared by this import")
