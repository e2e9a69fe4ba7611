"""The layout of `services/`, read with `ast` and never imported: no import cycles, layers that import
downward only, one seam for each of PyGithub and cookiecutter, small modules, documented packages."""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Collection
from dataclasses import dataclass
from functools import cache
from pathlib import Path

SERVICES = Path(__file__).resolve().parent.parent / "services"
MAX_LINES = 600
SERVICE_LAYER = ("services.catalog", "services.descriptors", "services.scaffolder", "services.hosts",
                 "services.access", "services.models", "services.audit", "services.errors")
EDGES = ("services.web", "services.api", "services.management", "services.tasks", "services.http")
ABOVE_HOSTS = ("services.catalog", "services.descriptors", "services.scaffolder", "services.access",
               "services.web", "services.api", "services.http", "services.tasks")
ABOVE_TASKS = ("services.web", "services.api", "services.http", "services.management")
SEAMS = (("github", "services.hosts.github"), ("cookiecutter", "services.scaffolder.templates"))
EMPTY_BY_DJANGO = ("services.management", "services.management.commands")

Graph = dict[str, dict[str, int]]  # module -> {services module it imports when run: first line doing so}


@dataclass(frozen=True)
class Import:
    """One import made absolute; for `from X import a, b` the module is X and the names a, b."""

    module: str
    names: tuple[str, ...]
    line: int
    type_only: bool


def within(module: str, packages: str | tuple[str, ...]) -> bool:
    """Whether the dotted name is one of the packages or lies inside one of them."""
    packages = (packages,) if isinstance(packages, str) else packages
    return any(module == package or module.startswith(package + ".") for package in packages)


def imports_in(source: str, module: str, is_package: bool) -> list[Import]:
    """Every import in the source at any depth; those under `if TYPE_CHECKING:` are marked type-only."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    found: list[Import] = []

    def visit(node: ast.AST, type_only: bool) -> None:
        test = getattr(node, "test", None)
        if isinstance(node, ast.If) and getattr(test, "id", getattr(test, "attr", "")) == "TYPE_CHECKING":
            for block, block_type_only in ((node.body, True), (node.orelse, type_only)):
                for child in block:
                    visit(child, block_type_only)
            return
        if isinstance(node, ast.Import):
            found.extend(Import(alias.name, (), node.lineno, type_only) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            absolute = ".".join([*base, *([node.module] if node.module else [])])
            found.append(Import(absolute, tuple(a.name for a in node.names), node.lineno, type_only))
        for child in ast.iter_child_nodes(node):
            visit(child, type_only)

    visit(ast.parse(source), False)
    return found


def targets(imported: Import, modules: Collection[str]) -> set[str]:
    """The modules an import names: `from X import m` is X.m when that is a module, else X."""
    if not imported.names:
        return {imported.module}
    return {f"{imported.module}.{name}" if f"{imported.module}.{name}" in modules else imported.module
            for name in imported.names}


@cache
def source_files() -> dict[str, Path]:
    """Every module under services/ by dotted name, migrations and caches left out."""
    files: dict[str, Path] = {}
    for path in sorted(SERVICES.rglob("*.py")):
        parts = path.relative_to(SERVICES.parent).with_suffix("").parts
        if "migrations" not in parts and "__pycache__" not in parts:
            files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return files


@cache
def known_modules() -> frozenset[str]:
    """Every importable services name: its modules and each folder above one (namespace packages too)."""
    dotted = [module.split(".") for module in source_files()]
    return frozenset(".".join(parts[:end]) for parts in dotted for end in range(1, len(parts) + 1))


@cache
def parsed() -> dict[str, list[Import]]:
    """Each services module's imports, type-only ones included."""
    return {module: imports_in(path.read_text(), module, path.name == "__init__.py")
            for module, path in source_files().items()}


@cache
def import_graph() -> Graph:
    """Module -> services modules it imports at run time (implicit parent packages not counted)."""
    graph: Graph = {module: {} for module in parsed()}
    for module, imports in parsed().items():
        for imported in (i for i in imports if not i.type_only):
            for target in targets(imported, known_modules()):
                if within(target, "services"):
                    graph[module][target] = min(graph[module].get(target, imported.line), imported.line)
    return graph


def reachable(graph: Graph, start: str) -> set[str]:
    """Every module an import chain from start reaches (start itself only if it is on a cycle)."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        fresh = [child for child in graph[todo.pop()] if child in graph and child not in seen]
        seen.update(fresh)
        todo += fresh
    return seen


def shortest_cycle(graph: Graph, start: str, component: set[str]) -> list[str]:
    """A shortest import chain from start back to itself inside its component: [start, ..., start]."""
    came_from = {start: start}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for child in sorted(graph[node]):
            if child == start:
                path = [node]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [*reversed(path), start]
            if child in component and child not in came_from:
                came_from[child] = node
                queue.append(child)
    raise AssertionError(f"{start} is on no cycle inside {sorted(component)}")


def violations(importers: tuple[str, ...], forbidden: tuple[str, ...]) -> list[str]:
    """`module:line imports target` for each run-time import from importers into forbidden."""
    return [f"{module}:{line} imports {target}" for module, edges in sorted(import_graph().items())
            if within(module, importers)
            for target, line in sorted(edges.items()) if within(target, forbidden)]


def test_the_walker_sees_the_tree_and_every_kind_of_import() -> None:
    """The walk finds the whole tree and resolves absolute, relative, nested and TYPE_CHECKING imports."""
    graph = import_graph()
    assert len(graph) > 30, sorted(graph)
    assert graph.get("services.tasks"), "services.tasks imports no services module: the walk is broken"
    sample = ("from typing import TYPE_CHECKING\nimport services.models\n"
              "from services import catalog, errors\nfrom services.models import Service\n"
              "from . import writes\nfrom ..hosts.base import Host\n"
              "if TYPE_CHECKING:\n    from services.web import views\n"
              "def later():\n    from services.tasks import advance\n")
    known = {"services.models", "services.errors", "services.catalog", "services.catalog.writes",
             "services.hosts.base", "services.tasks", "services.web", "services.web.views"}
    found = imports_in(sample, "services.catalog.reads", is_package=False)
    assert set().union(*(targets(i, known) for i in found if not i.type_only)) == {
        "typing", "services.models", "services.catalog", "services.errors", "services.catalog.writes",
        "services.hosts.base", "services.tasks"}
    assert set().union(*(targets(i, known) for i in found if i.type_only)) == {"services.web.views"}
    in_package = imports_in("from .writes import f", "services.catalog", is_package=True)
    assert [i.module for i in in_package] == ["services.catalog.writes"]


def test_no_import_cycle_in_services() -> None:
    """No services module runs an import chain that leads back to itself."""
    graph = import_graph()
    reach = {module: reachable(graph, module) for module in graph}
    uncovered = {module for module in graph if module in reach[module]}
    cycles: list[str] = []
    while uncovered:
        start = min(uncovered)
        cycle = shortest_cycle(graph, start, {module for module in reach[start] if start in reach[module]})
        cycles.append(" -> ".join(cycle))
        uncovered -= set(cycle)
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_service_layer_never_imports_edges() -> None:
    """The service layer, models, audit and errors import nothing of web, api, http, management or tasks."""
    found = violations(SERVICE_LAYER, EDGES)
    assert not found, "the service layer imports an edge:\n" + "\n".join(found)


def test_edges_share_the_service_layer_not_each_other() -> None:
    """The pages and the API call the same service layer; neither borrows from the other, and the
    commands use neither (http/ is plumbing both may use)."""
    found = (violations(("services.web",), ("services.api", "services.management"))
             + violations(("services.api",), ("services.web", "services.management"))
             + violations(("services.management",), ("services.web", "services.api", "services.http")))
    assert not found, "\n".join(found)


def test_hosts_know_nothing_of_the_catalog() -> None:
    """services.hosts uses only models, errors and other hosts modules, nothing above it."""
    found = violations(("services.hosts",), ABOVE_HOSTS)
    assert not found, "services.hosts imports above itself:\n" + "\n".join(found)


def test_pygithub_and_cookiecutter_each_have_one_seam() -> None:
    """Only services.hosts.github imports PyGithub, only services.scaffolder.templates cookiecutter."""
    problems: list[str] = []
    for library, seam in SEAMS:
        importers = {module: min(lines) for module, imports in parsed().items()
                     if (lines := [i.line for i in imports if within(i.module, library)])}
        if seam not in source_files():
            problems.append(f"the {library} seam {seam} does not exist")
        elif seam not in importers:
            problems.append(f"the {library} seam {seam} does not import {library}")
        problems += [f"{module}:{line} imports {library} outside {seam}"
                     for module, line in sorted(importers.items()) if module != seam]
    assert not problems, "\n".join(problems)


def test_no_module_over_600_lines() -> None:
    """Every services module has at most 600 lines."""
    counts = {module: len(path.read_text().splitlines()) for module, path in source_files().items()}
    over = [f"{module}: {count} lines" for module, count in sorted(counts.items()) if count > MAX_LINES]
    assert not over, f"modules over {MAX_LINES} lines:\n" + "\n".join(over)


def test_every_package_opens_with_a_docstring() -> None:
    """Every services package has an __init__ that opens with a docstring (bar Django's empty ones)."""
    files = source_files()
    missing = [f"{package}: no __init__.py" for package in sorted(known_modules() - files.keys())]
    bare = [f"{module}: no docstring" for module, path in files.items()
            if path.name == "__init__.py" and module not in EMPTY_BY_DJANGO
            and not ast.get_docstring(ast.parse(path.read_text()))]
    assert not missing + bare, "packages without a docstring:\n" + "\n".join(missing + bare)


def test_tasks_import_downward_only() -> None:
    """services.tasks imports no edge, and only services.apps imports services.tasks."""
    found = violations(("services.tasks",), ABOVE_TASKS) + [
        f"{module}:{line} imports {target} (only services.apps may)"
        for module, edges in sorted(import_graph().items())
        if module != "services.apps" and not within(module, "services.tasks")
        for target, line in sorted(edges.items()) if within(target, "services.tasks")]
    assert not found, "\n".join(found)


def test_package_inits_hold_only_their_docstring() -> None:
    """Importing one module of a package runs its __init__: only models/ (re-exports, as Django expects)
    and hosts/ (picks the configured host) hold code there, so no import drags in a whole package."""
    allowed = {"services.models", "services.hosts"}
    crowded = [module for module, path in sorted(source_files().items())
               if path.name == "__init__.py" and module not in allowed
               and any(not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))
                       for node in ast.parse(path.read_text()).body)]
    assert not crowded, "package __init__ files with code:\n" + "\n".join(crowded)
