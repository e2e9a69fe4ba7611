"""Reading descriptor files: YAML as Backstage reads it (safe, bounded), and the format's constants."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from services.catalog.refs import QUOTE_LIMIT
from services.errors import CatalogError

API_VERSIONS = ("backstage.io/v1alpha1", "backstage.io/v1beta1")
# Export writes the kinds in this order: what a document refers to comes before it.
MODELLED_KINDS = ("Domain", "System", "Group", "User", "API", "Resource", "Component")
# Kinds whose rows keep the namespace (the same name may be in two); the others have one namespace.
NAMESPACED_KINDS = ("API", "Resource")
NAME_ANNOTATION = "slipway.dev/backstage-name"
PROJECT_SLUG_ANNOTATION = "github.com/project-slug"
SOURCE_LOCATION_ANNOTATION = "backstage.io/source-location"
TEAM_SLUG_ANNOTATION = "github.com/team-slug"
CHAT_ANNOTATIONS = ("slack.com/channel", "slack.com/channel-name", "slack.com/channel-id")
ROOT_FIELDS = ("apiVersion", "kind", "metadata", "spec", "relations", "status")
LINK_FIELDS = ("url", "title", "icon", "type")
BATCH_SIZE = 1000
# Large enough to keep query counts low, small enough for any database's parameter limit.
CHUNK_SIZE = 2000

# Backstage's field formats (catalog-model validation: KubernetesValidatorFunctions, makeValidator).
DNS_LABEL = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
OBJECT_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
TAG = re.compile(r"^[a-z0-9:+#]+(-[a-z0-9:+#]+)*$")
KIND = re.compile(r"^[a-zA-Z][a-z0-9A-Z]*$")
URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:\S+$")

# What each kind keeps; any other field present is named in the report as not kept.
KEPT_METADATA = {
    "Component": {"name", "namespace", "title", "description", "tags", "links", "annotations"},
    "API": {"name", "namespace", "title", "description", "tags", "links", "annotations"},
    "Resource": {"name", "namespace", "title", "description", "tags", "links", "annotations"},
    "Group": {"name", "namespace", "title", "description", "annotations"},
    "User": {"name", "namespace"},
    "System": {"name", "namespace", "title", "description"},
    "Domain": {"name", "namespace", "title", "description"},
}
KEPT_SPEC = {
    "Component": {"type", "lifecycle", "owner", "system", "dependsOn", "dependencyOf", "providesApis", "consumesApis"},
    "API": {"type", "lifecycle", "owner", "system", "definition", "remotes"},
    "Resource": {"type", "owner", "system", "dependsOn", "dependencyOf"},
    "Group": {"type", "profile", "parent", "children", "members"},
    "User": {"profile", "memberOf"},
    "System": {"owner", "domain"},
    "Domain": {"owner"},
}
KEPT_PROFILE = {"Group": {"displayName", "email"}, "User": {"displayName", "email", "picture"}}


# What one file or document may cost, checked before anything is built from it (issue #13: a
# 507-byte file of nested aliases took 1.6 GB and 40 s). The largest real descriptors
# (/work/shared/real-catalogs, tests/data/backstage) are far below each limit: one document of
# 348 KB (an inline API definition), at most 170 nodes in a document, no alias anywhere; the
# benchmark's 10k-service file (bench/gen_catalog.py) is 4.4 MB, at most 33 nodes a document.
# - Bytes of one file: 7x the 10k-service file (its import takes 156 MB, ~35 bytes a byte), room
#   for the export of a catalog of ~70,000 services; a larger one is imported as a folder of files.
MAX_FILE_BYTES = 32 * 1024 * 1024
# - Nodes of one document, counted while libyaml composes it (~300 bytes of memory each): a Group
#   listing 99,000 members still fits, a document can never hold more than ~30 MB of nodes.
MAX_DOCUMENT_NODES = 100_000
# - Aliases (`*name`) in one document: YAML's anchors are rare in hand-written descriptors (none in
#   the real ones); a thousand is room for any reuse of blocks, not for a bomb's fan-out.
MAX_DOCUMENT_ALIASES = 1_000
# - Nodes of one document with every alias expanded, what a walk of the built value visits (a
#   repr, a JSON dump): twice the node limit. A "billion laughs" of 9 levels of 9 has 9^9.
MAX_EXPANDED_NODES = 2 * MAX_DOCUMENT_NODES


class DescriptorInputError(CatalogError):
    """The input as a whole cannot be read: no such path, or no descriptor file in it."""


@dataclass(frozen=True)
class RefusedDocument:
    """A document over one of the limits above, in place of its content: reported as invalid, while
    the other documents of its file are still read."""

    reason: str

# ---------------------------------------------------------------------------------------------
# YAML as Backstage reads it.

_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
BaseDumper: type = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_BOOL_TAG = "tag:yaml.org,2002:bool"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_STR_TAG, _MAP_TAG, _SEQ_TAG, _NULL_TAG = (f"tag:yaml.org,2002:{name}" for name in ("str", "map", "seq", "null"))


class _TooManyNodes(Exception):
    """A document's composition stopped at MAX_DOCUMENT_NODES; `position` is a character offset
    inside that document, from which the next one is searched."""

    def __init__(self, position: int) -> None:
        super().__init__(position)
        self.position = position


class DescriptorLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """libyaml's safe loader with YAML 1.2 scalars, as Backstage parses descriptors.

    PyYAML follows YAML 1.1, where `yes`, `on` and `2024-01-01` are a boolean and a date; Backstage
    (YAML 1.2) reads them as strings, so an annotation `x/enabled: yes` is valid there and here.
    It also counts the nodes of the document being composed (`nodes_left`), and stops at the limit.
    """

    nodes_left = MAX_DOCUMENT_NODES

    def descend_resolver(self, parent: yaml.Node | None, index: Any) -> None:
        """Called by libyaml's composer before it makes each node (aliases aside), tagged or not: the
        one hook inside its composition, so an oversized document stops before it is all in memory."""
        self.nodes_left -= 1
        if self.nodes_left < 0:
            raise _TooManyNodes(parent.start_mark.index if parent is not None else 0)

    def ascend_resolver(self) -> None:
        """No path resolvers are registered: nothing to undo."""

    def resolve(self, kind: type, value: Any, implicit: tuple[bool, bool]) -> str:
        """PyYAML's Resolver.resolve without path resolvers (none are registered): called for every
        node libyaml composes, the generic one was about a sixth of the parsing time (profiled)."""
        if kind is yaml.ScalarNode:
            if implicit[0]:
                for tag, regexp in self.yaml_implicit_resolvers.get(value[:1], ()):
                    if regexp.match(value):
                        return tag
            return _STR_TAG
        return _SEQ_TAG if kind is yaml.SequenceNode else _MAP_TAG


DescriptorLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in (_BOOL_TAG, _TIMESTAMP_TAG)]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}
DescriptorLoader.add_implicit_resolver(
    _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def component_slug(name: str) -> str:
    """The service slug of a valid Backstage name: a DNS label (lower case, `_` and `.` become `-`)."""
    slug = name.lower().replace("_", "-").replace(".", "-")
    return name if slug == name else slug  # the name itself when it is one: one string, not two, kept


# Outside the default namespace a component's, group's, system's or domain's key (its slug, in URLs) is
# `<namespace>--<name>`: neither a valid name nor a namespace holds `--` (their separators are single),
# so it never meets a key of the default namespace and always reads back.
NAMESPACE_SEPARATOR = "--"


def entry_key(kind: str, namespace: str, name: str) -> str:
    """The catalog key of a Component (a service slug), Group, System or Domain named `name` in `namespace`."""
    base = component_slug(name) if kind.lower() == "component" else name.lower()
    return base if namespace in ("", "default") else f"{namespace.lower()}{NAMESPACE_SEPARATOR}{base}"


def ref_key(ref: Any) -> str:
    """The catalog key an EntityRef names."""
    return entry_key(ref.kind, ref.namespace, ref.name)


def key_parts(key: str) -> tuple[str, str]:
    """(namespace, name part) of a catalog key."""
    namespace, separator, name = key.partition(NAMESPACE_SEPARATOR)
    return (namespace, name) if separator else ("default", key)


def ref_text_key(kind: str, ref: str) -> str | None:
    """The catalog key a stored reference (`component:billing/payments`) names, or None for another kind."""
    ref_kind, _, rest = ref.partition(":")
    if ref_kind != kind:
        return None
    namespace, _, name = rest.rpartition("/")
    return entry_key(kind, namespace or "default", name)


# ---------------------------------------------------------------------------------------------
# Reading files.


def descriptor_files(folder: Path) -> list[Path]:
    """The .yaml/.yml files under `folder`, recursively, in a stable order; hidden folders are left out."""
    found: list[Path] = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(Path(root) / name for name in sorted(files)
                     if name.lower().endswith((".yaml", ".yml")) and not name.startswith("."))
    return found


class _MergeKey(Exception):
    """A `<<` merge key: left to PyYAML's own constructor."""


def _build(node: yaml.Node, loader: Any, memo: dict[int, Any], strings: dict[str, str]) -> Any:
    """A composed node as plain data (dicts, lists, strings); other tags go to PyYAML's constructor.

    Short strings come from `strings`, one object per distinct value for the whole stream: kinds,
    keys, types, owners and tags recur in every document, and what an import keeps of 100,000
    documents held ~12 copies of them per document (measured)."""
    tag, kind = node.tag, node.id
    if kind == "scalar":
        if tag == _STR_TAG:
            value = node.value
            if len(value) > _SHARED_STRING:
                return value
            shared = strings.get(value)
            if shared is None:
                if len(strings) >= SHARED_STRINGS:
                    strings.clear()  # bounded: the recurring ones are soon shared again
                shared = strings[value] = value
            return shared
        if tag == _NULL_TAG:
            return None
    elif (kind == "mapping" and tag == _MAP_TAG) or (kind == "sequence" and tag == _SEQ_TAG):
        done = memo.get(id(node))
        if done is not None:
            return done
        if kind == "sequence":
            items: list[Any] = []
            memo[id(node)] = items
            items.extend(_build(item, loader, memo, strings) for item in node.value)
            return items
        mapping: dict[Any, Any] = {}
        memo[id(node)] = mapping
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise _MergeKey
            key = _build(key_node, loader, memo, strings)
            value = _build(value_node, loader, memo, strings)
            try:
                mapping[key] = value
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    None, None, "found an unhashable key", key_node.start_mark) from None
        return mapping
    return loader.construct_object(node, deep=True)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if node.id == "sequence":
        return node.value  # type: ignore[no-any-return]
    return [child for pair in node.value for child in pair]


def _refusal(root: yaml.Node) -> str | None:
    """Why a composed document is refused (too many aliases, too large once they are expanded, or an
    alias inside itself), or None. Walks the node graph without recursion, each node once."""
    seen = {id(root)}
    stack = [root]
    aliases = 0
    while stack:
        for child in _children(stack.pop()):
            if id(child) in seen:
                aliases += 1
            else:
                seen.add(id(child))
                if child.id != "scalar":
                    stack.append(child)
    if aliases > MAX_DOCUMENT_ALIASES:
        return (f"refused: the document uses {aliases:,} aliases (*name), more than the "
                f"{MAX_DOCUMENT_ALIASES:,} one descriptor may use")
    if not aliases:
        return None  # a tree: expanded, it is no larger than it was composed
    # Expanded sizes, children first; a node met again while its own size is pending is its own part.
    pending = -1
    size: dict[int, int] = {}
    walk: list[tuple[yaml.Node, bool]] = [(root, False)]
    while walk:
        node, children_done = walk.pop()
        if children_done:
            total = 1 + sum(size[id(child)] for child in _children(node))
            if total > MAX_EXPANDED_NODES:
                return (f"refused: with its aliases expanded the document has more than {MAX_EXPANDED_NODES:,} "
                        "nodes, the limit of one descriptor (nested aliases, as in a 'billion laughs' document)")
            size[id(node)] = total
        elif id(node) in size:
            if size[id(node)] == pending:
                return "refused: an alias (*name) refers to a node that contains it, so it never ends"
        elif node.id == "scalar":
            size[id(node)] = 1
        else:
            size[id(node)] = pending
            walk.append((node, True))
            walk.extend((child, False) for child in _children(node))
    return None


_DOCUMENT_START = re.compile(r"^---(?=[ \t\r\n]|$)", re.MULTILINE)
_SHARED_STRING = 64  # strings up to this length are shared within a stream (see _build),
SHARED_STRINGS = 50_000  # up to this many at a time (~3 MB)


class _TextReader:
    """`text[start:end]` as a file for libyaml, read a chunk at a time: given a str, libyaml first
    makes a UTF-8 copy of all of it (a second copy of a 32 MB file), and a slice would be a third."""

    def __init__(self, text: str, start: int, end: int) -> None:
        self.text, self.position, self.end = text, start, end

    def read(self, size: int) -> str:
        stop = min(self.position + size, self.end)
        chunk = self.text[self.position:stop]
        self.position = stop
        return chunk


def _load_documents(text: str, start: int = 0, end: int | None = None) -> Iterator[Any]:
    """Every document of a YAML stream (of `text[start:end]`, `start` being the start of a
    document), one at a time, as yaml.load_all with DescriptorLoader would give it, or a
    RefusedDocument for one over the limits.

    libyaml composes the nodes; turning them into dicts, lists and strings here is faster than
    PyYAML's generic constructor (measured on the 10k-service file). Anything unusual (other tags,
    merge keys) goes to that constructor. An alias is built once, so a document of nested aliases
    ("billion laughs") stays small here; it is refused all the same, as the walks after this one
    (a repr, a JSON dump) would expand it.
    """
    end = len(text) if end is None else end
    # An alias needs an anchor (`&name`) in its document: without any `&`, no document has one.
    may_alias = text.find("&", start, end) >= 0
    strings: dict[str, str] = {}
    while True:
        loader = DescriptorLoader(_TextReader(text, start, end))
        try:
            while loader.check_node():
                loader.nodes_left = MAX_DOCUMENT_NODES
                node = loader.get_node()
                refusal = _refusal(node) if may_alias else None
                if refusal is not None:
                    yield RefusedDocument(refusal)
                    continue
                try:
                    yield _build(node, loader, {}, strings)
                except _MergeKey:
                    yield loader.construct_document(node)
                loader.constructed_objects = {}
            return
        except _TooManyNodes as stop:
            # Go on from the next document: `---` at the start of a line ends any scalar. The
            # composer's state is lost with the document, so a stream with directives stops here.
            boundary = _DOCUMENT_START.search(text, start + stop.position + 1, end)
            stopped = boundary is not None and re.search(r"^%", text, re.MULTILINE) is not None
            yield RefusedDocument(f"refused: the document has more than {MAX_DOCUMENT_NODES:,} YAML nodes, the "
                                  "limit of one descriptor" + ("; the rest of the file (it has % directives) "
                                                               "was not read" if stopped else ""))
            if boundary is None or stopped:
                return
            start = boundary.start()
        except yaml.MarkedYAMLError as error:
            if start:  # the error's line in the file, not in what was read after the refused document
                lines = text.count("\n", 0, start)
                for name in ("problem_mark", "context_mark"):
                    if (mark := getattr(error, name)) is not None:
                        setattr(error, name, yaml.Mark(mark.name, start + mark.index, lines + mark.line,
                                                       mark.column, None, None))
            raise
        finally:
            loader.dispose()


def read_text(path: Path) -> str:
    """A file's text; raises ValueError with a readable message when it cannot be read as UTF-8 or is
    larger than MAX_FILE_BYTES (read no further than that)."""
    try:
        with path.open("rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise ValueError(f"cannot read: {error.strerror or error}") from None
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"larger than {MAX_FILE_BYTES:,} bytes, the limit of one descriptor file "
                         "(import a larger catalog as a folder of files)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None


def parse_text(text: str) -> list[Any]:
    """Every document of a YAML stream (a RefusedDocument for each one over the limits); raises
    ValueError with a readable message when it is not YAML."""
    return list(iter_documents(text))


def iter_documents(text: str, start: int = 0, end: int | None = None) -> Iterator[Any]:
    """parse_text one document at a time, of `text[start:end]` (`start` at a document's start): an
    import checks each document as it is read, never holding the file's documents all at once. The
    ValueError of a file that is not YAML comes when the reading reaches the error."""
    try:
        yield from _load_documents(text, start, end)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        # The problem may quote the input (an unknown tag, in full): cut like any quoted value.
        problem = str(error.problem or error.context)
        raise ValueError(f"YAML syntax error{where}: {_cut(problem)}") from None
    except (yaml.YAMLError, RecursionError, ValueError, TypeError, AttributeError) as error:
        # A scalar PyYAML cannot construct (`!!int x`, an odd tag; `!!timestamp x` fails with an
        # AttributeError inside PyYAML) is bad input like any other.
        raise ValueError(f"YAML error: {_cut(str(error))}") from None


def _cut(message: str) -> str:
    """A parser's message, which may quote the input, no longer than two quoted values."""
    return message if len(message) <= 2 * QUOTE_LIMIT else message[:2 * QUOTE_LIMIT - 3] + "..."
