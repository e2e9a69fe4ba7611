"""Reading the typed fields of one document: each problem collected with its field's path, never a
stop at the first; references parsed once per import."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Any, NamedTuple

from services.catalog.refs import QUOTE_LIMIT, EntityRef, parse_entity_ref, quote
from services.descriptors.parse import DNS_LABEL
from services.errors import InvalidInput


class Ref(NamedTuple):
    ref: EntityRef
    written: str  # the name as the document wrote it (case kept), for entities declared from it
    path: str  # the field it came from, for messages
    text: str  # the reference as written


_FIELD_NAME = re.compile(r"^[A-Za-z0-9_./-]+$")
_MOST_NAMED = 10  # names in one message; the rest are counted
MOST_PROBLEMS = 20  # problems listed for one document (a list of 100,000 bad tags is one more line)


def listing(names: list[str]) -> str:
    """Names or field paths for a message (`spec.x, metadata.y`): an odd or long one quoted, at most ten."""
    shown = [name if len(name) <= QUOTE_LIMIT and _FIELD_NAME.match(name) else quote(name)
             for name in names[:_MOST_NAMED]]
    more = len(names) - len(shown)
    return ", ".join(shown) + (f" and {more:,} more" if more > 0 else "")


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    return f"a {type(value).__name__}"


@functools.lru_cache(maxsize=4096)
def _item_path(path: str, index: int) -> str:
    """`path[index]`, one string for all the documents that keep it (in their Refs)."""
    return f"{path}[{index}]"


def _written_name(text: str) -> str:
    """The name part of a reference as written (`group:default/Team-A` -> `Team-A`)."""
    rest = text.strip().partition(":")[2] if ":" in text else text.strip()
    return rest.rpartition("/")[2]


def _valid_prefixed(value: str, suffix: re.Pattern[str]) -> bool:
    """Backstage's `prefix/suffix` rule for annotation and label keys."""
    parts = value.split("/")
    if len(parts) == 2:
        prefix, name = parts
        if not (0 < len(prefix) <= 253 and all(DNS_LABEL.match(p) and len(p) <= 63 for p in prefix.split("."))):
            return False
    elif len(parts) == 1:
        name = parts[0]
    else:
        return False
    return 0 < len(name) <= 63 and bool(suffix.match(name))


class _Checks:
    """Reads the typed fields of one document, collecting every problem rather than stopping at the first."""

    def __init__(self, ref_cache: dict[tuple[str, ...], Any]) -> None:
        self.problems: list[str] = []
        self.unlisted = 0  # problems past MOST_PROBLEMS, counted
        self.ref_cache = ref_cache

    def fail(self, message: str) -> None:
        if len(self.problems) < MOST_PROBLEMS:
            self.problems.append(message)
        else:
            self.unlisted += 1

    def mapping(self, parent: dict[str, Any], key: str, path: str, *, required: bool = False) -> dict[str, Any]:
        if key not in parent:
            if required:
                self.fail(f"{path} is missing")
            return {}
        value = parent[key]
        if not isinstance(value, dict):
            self.fail(f"{path} must be a mapping, not {_type_name(value)}")
            return {}
        return value

    def string(self, parent: dict[str, Any], key: str, path: str, *, required: bool = False,
               allow_empty: bool = False, max_length: int | None = None) -> str | None:
        if key not in parent:
            if required:
                self.fail(f"{path} is missing")
            return None
        value = parent[key]
        if value is None:
            self.fail(f"{path} is {'missing (null)' if required else 'null'}")
            return None
        if not isinstance(value, str):
            self.fail(f"{path} must be a string, not {_type_name(value)} ({quote(value)})")
            return None
        if not value and not allow_empty:
            self.fail(f"{path} is empty")
            return None
        if max_length is not None and len(value) > max_length:
            self.fail(f"{path} is longer than {max_length} characters (Slipway keeps at most {max_length})")
            return None
        return value

    def string_list(self, parent: dict[str, Any], key: str, path: str, *, required: bool = False) -> list[str]:
        if key not in parent:
            if required:
                self.fail(f"{path} is missing")
            return []
        values = parent[key]
        if not isinstance(values, list):
            self.fail(f"{path} must be a list, not {_type_name(values)} ({quote(values)})")
            return []
        good: list[str] = []
        for index, value in enumerate(values):
            if not isinstance(value, str) or not value:
                self.fail(f"{path}[{index}] must be a non-empty string, not {quote(value)}")
            else:
                good.append(value)
        return good

    def ref(self, text: str | None, path: str, *, default_kind: str | None,
            kinds: Sequence[str] | None) -> Ref | None:
        if text is None:
            return None
        # The same references recur across documents (owners, systems): parse each text once.
        parsed = self.ref_cache.get((text, default_kind))
        if parsed is None:
            try:
                parsed = parse_entity_ref(text, default_kind=default_kind, field="ref")
            except InvalidInput as error:
                parsed = error.errors.get("ref", [error.detail])[0]
            self.ref_cache[(text, default_kind)] = parsed
        if isinstance(parsed, str):
            self.fail(f"{path}: {parsed}")
            return None
        ref = parsed
        if kinds and ref.kind not in kinds:
            self.fail(f"{path} {quote(text)} must name a {' or a '.join(kinds)}, not a {ref.kind}")
            return None
        # One Ref per reference as written in each field (in the same cache, under a longer key): an
        # import keeps the Refs of every document, and the same owners recur in thousands of them.
        made = self.ref_cache.get((text, default_kind, path))
        if made is None:
            made = self.ref_cache[(text, default_kind, path)] = Ref(ref, _written_name(text), path, text)
        return made

    def refs(self, parent: dict[str, Any], key: str, path: str, *, default_kind: str | None,
             kinds: Sequence[str] | None, required: bool = False) -> list[Ref]:
        found: list[Ref] = []
        seen: set[EntityRef] = set()
        for index, text in enumerate(self.string_list(parent, key, path, required=required)):
            ref = self.ref(text, _item_path(path, index), default_kind=default_kind, kinds=kinds)
            if ref is not None and ref.ref not in seen:
                seen.add(ref.ref)
                found.append(ref)
        return found
