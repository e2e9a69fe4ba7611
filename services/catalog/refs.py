"""Entity references (`kind:namespace/name`, as in Backstage) and the names and slugs they use; quote()
for every message that shows a value someone gave."""

from __future__ import annotations

import difflib
import re
import reprlib
from dataclasses import dataclass
from typing import Any

from services.errors import InvalidInput

# Backstage's rule for names: 1-63 characters, [a-zA-Z0-9] runs separated by one of -_.
NAME_PATTERN = re.compile(r"^([a-zA-Z0-9]+[-_.])*[a-zA-Z0-9]+$")
NAMESPACE_PATTERN = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$", re.IGNORECASE)
# Backstage's tag format; and the longest free text (a description) any interface accepts.
TAG_PATTERN = re.compile(r"^[a-z0-9:+#]+(-[a-z0-9:+#]+)*$")
MAX_TEXT = 10_000
# Service slugs are DNS labels (they become repository and host names).
SLUG_PATTERN = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
ENVIRONMENT_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")

# Each format above in words, for people: an error message never shows a regular expression.
SLUG_RULE = "1 to 63 characters: lowercase letters, digits and hyphens, starting and ending with a letter or digit"
NAME_RULE = "1 to 63 characters: letters and digits, with single hyphens, underscores or dots between them"
TAG_RULE = ("1 to 63 characters: lowercase letters, digits and the signs : + #, in words joined by single "
            "hyphens (e.g. python, team:core, c++)")
ENVIRONMENT_NAME_RULE = ("1 to 100 characters: letters, digits, dots, underscores and hyphens, starting with a "
                         "letter or digit")

# How much of a given value a message shows: enough to recognise it, never all of a large one (issue
# #13: a message quoting a megabyte, or a value of nested aliases, costs what the input chose).
QUOTE_LIMIT = 80
_SHORT_REPR = reprlib.Repr()
_SHORT_REPR.maxlevel = 3  # a list in a mapping in a list: deeper is `[...]`, so nested aliases stay cheap
_SHORT_REPR.maxdict = _SHORT_REPR.maxlist = _SHORT_REPR.maxtuple = _SHORT_REPR.maxset = 4
_SHORT_REPR.maxstring = _SHORT_REPR.maxlong = _SHORT_REPR.maxother = QUOTE_LIMIT


def quote(value: Any, limit: int = QUOTE_LIMIT) -> str:
    """A value for a message: its repr, at most `limit` characters (cut short with `...`)."""
    # A string is cut before its repr (never copy a megabyte to show eighty characters); anything else
    # is shown by a repr that visits a few items of each level only.
    text = repr(value[:limit]) if isinstance(value, str | bytes) else _SHORT_REPR.repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


@dataclass(frozen=True)
class EntityRef:
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.namespace}/{self.name}"


def is_valid_name(name: str) -> bool:
    return isinstance(name, str) and 0 < len(name) <= 63 and bool(NAME_PATTERN.fullmatch(name))


def parse_entity_ref(
    ref: str, *, default_kind: str | None = None, default_namespace: str = "default", field: str = "ref"
) -> EntityRef:
    """Parse `name`, `kind:name`, `namespace/name` or `kind:namespace/name`, case-insensitively.

    Raises InvalidInput naming `field` when the reference is malformed or has no kind and no default.
    """
    if not isinstance(ref, str) or not ref.strip():
        raise InvalidInput.field(field, "an entity reference must be a non-empty string")
    text = ref.strip()
    kind, sep, rest = text.partition(":")
    if not sep:
        kind, rest = "", text
    namespace, sep, name = rest.rpartition("/")
    if not sep:
        namespace = ""
    kind = kind or (default_kind or "")
    namespace = namespace or default_namespace
    if not kind:
        raise InvalidInput.field(field, f"{quote(text)} has no kind (write it as kind:name, e.g. "
                                        f"component:{text[:QUOTE_LIMIT]})")
    if not is_valid_name(name):
        raise InvalidInput.field(field, f"{quote(text)} does not name a valid entity (a name is {NAME_RULE})")
    if not NAMESPACE_PATTERN.fullmatch(namespace):
        raise InvalidInput.field(field, f"{quote(text)} has an invalid namespace (letters and digits in words joined by "
                                        "single hyphens)")
    return EntityRef(kind.lower(), namespace.lower(), name.lower())


def near_miss(value: str, well_known: tuple[str, ...]) -> str | None:
    """The well-known value `value` looks like a slip of (`prodution`, `Production `), or None when it is
    one of them or nothing like them: free text stays free, a near miss is only pointed out."""
    if not value or value in well_known:
        return None
    plain = value.strip().lower()
    if plain in well_known:
        return plain
    close = difflib.get_close_matches(plain, well_known, n=1, cutoff=0.8)
    return close[0] if close else None
