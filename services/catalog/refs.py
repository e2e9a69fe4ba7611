"""Entity references (`kind:namespace/name`, as in Backstage) and the names and slugs they use."""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.errors import InvalidInput

# Backstage's rule for names: 1-63 characters, [a-zA-Z0-9] runs separated by one of -_.
NAME_PATTERN = re.compile(r"^([a-zA-Z0-9]+[-_.])*[a-zA-Z0-9]+$")
NAMESPACE_PATTERN = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$", re.IGNORECASE)
# Backstage's tag format; and the longest free text (a description) any interface accepts.
TAG_PATTERN = re.compile(r"^[a-z0-9:+#]+(-[a-z0-9:+#]+)*$")
MAX_TEXT = 10_000
# Service slugs are DNS labels (they become repository and host names).
SLUG_PATTERN = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class EntityRef:
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.namespace}/{self.name}"


def is_valid_name(name: str) -> bool:
    return isinstance(name, str) and 0 < len(name) <= 63 and bool(NAME_PATTERN.match(name))


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
        raise InvalidInput.field(field, f"'{text}' has no kind (write it as kind:name, e.g. component:{text})")
    if not is_valid_name(name):
        raise InvalidInput.field(field, f"'{text}' does not name a valid entity")
    if not NAMESPACE_PATTERN.match(namespace):
        raise InvalidInput.field(field, f"'{text}' has an invalid namespace")
    return EntityRef(kind.lower(), namespace.lower(), name.lower())
