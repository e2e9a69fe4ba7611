"""What a descriptor file may cost (issue #13): bounded YAML, and bounded messages about bad values.

A 507-byte file of nested aliases ("billion laughs") took `import_catalog` 1.6 GB and 40 s: the
error message about it repr()'d the expanded value. Each limit is tested at its real value, with the
work counted in nodes, not seconds.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from services.catalog import reads, writes
from services.catalog.ownership import ownership_answer
from services.catalog.refs import QUOTE_LIMIT, parse_entity_ref, quote
from services.catalog.sync.locations import catalog_import
from services.descriptors import parse
from services.descriptors.checks import validate
from services.descriptors.fields import MOST_PROBLEMS
from services.descriptors.parse import (
    MAX_DOCUMENT_ALIASES,
    MAX_DOCUMENT_NODES,
    MAX_EXPANDED_NODES,
    MAX_FILE_BYTES,
    RefusedDocument,
    parse_text,
)
from services.descriptors.report import DocumentResult, ImportReport
from services.errors import CatalogError, InvalidInput
from services.models import Service

pytestmark = pytest.mark.django_db

EXAMPLES = Path(__file__).resolve().parents[2] / "data" / "backstage"
REAL_CATALOGS = Path("/work/shared/real-catalogs/files")
# The longest message a document's problem may be: its own words, a field path and one quoted value.
LONGEST_MESSAGE = 400


def component(name: str, metadata: str = "", spec: str = "") -> str:
    return (f"apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n{metadata}"
            f"spec:\n  type: service\n  lifecycle: production\n  owner: team-a\n{spec}")


def laughs(levels: int, indent: str = "    ") -> str:
    """Nested aliases: `a` is 9 strings, `b` nine `a`s... `levels` levels (9**levels strings)."""
    names = "abcdefghijklmnop"[:levels]
    lines = [f"{indent}a: &a [x,x,x,x,x,x,x,x,x]"]
    lines += [f"{indent}{name}: &{name} [{','.join([f'*{below}'] * 9)}]" for below, name in zip(names, names[1:])]
    return "\n".join(lines) + "\n"


def bomb(levels: int) -> str:
    """A Component whose title is the top of `levels` nested aliases (a list: invalid, so reported)."""
    top = "abcdefghijklmnop"[levels - 1]
    return component("bomb", metadata=f"  x-laughs:\n{laughs(levels)}  title: *{top}\n")


def run_import(tmp_path: Path, text: str, name: str = "catalog-info.yaml") -> ImportReport:
    path = tmp_path / name
    path.write_text(text)
    return catalog_import(path=path)


def reasons(report: ImportReport, index: int) -> list[str]:
    (result,) = [result for result in report.documents if result.index == index]
    return result.reasons


# ---------------------------------------------------------------------------------------------
# Bounded YAML.


def test_billion_laughs_document_is_refused_by_its_expanded_size_and_the_others_imported(tmp_path) -> None:
    # 9**6 strings expanded: more than MAX_EXPANDED_NODES, though only ~60 nodes and 45 aliases.
    text = "---\n".join([component("before"), bomb(6), component("after")])
    report = run_import(tmp_path, text)

    (refusal,) = reasons(report, 2)
    assert MAX_EXPANDED_NODES < 9**6
    assert refusal.startswith(f"refused: with its aliases expanded the document has more than {MAX_EXPANDED_NODES:,} "
                              "nodes, the limit of one descriptor")
    assert report.documents[1].location == "catalog-info.yaml:2"  # the file and the document
    assert sorted(Service.objects.values_list("slug", flat=True)) == ["after", "before"]


def test_expanded_size_is_counted_once_per_node_not_once_per_expansion(monkeypatch) -> None:
    """The 9-level bomb of the issue (9**9 strings) is measured on its ~90 composed nodes."""
    visits = 0
    children = parse._children

    def counting(node: Any) -> list[Any]:
        nonlocal visits
        visits += 1
        return children(node)

    monkeypatch.setattr(parse, "_children", counting)
    (document,) = parse_text("apiVersion: x\nkind: Component\nmetadata:\n" + laughs(9, "  "))
    assert isinstance(document, RefusedDocument)
    assert visits <= 3 * 12  # 12 collections (the root, metadata, a..i), each met at most three times


def test_too_many_aliases_are_refused() -> None:
    aliases = ",".join(["*v"] * (MAX_DOCUMENT_ALIASES + 1))
    (document,) = parse_text(f"name: &v value\nmany: [{aliases}]\n")
    assert isinstance(document, RefusedDocument)
    assert f"more than the {MAX_DOCUMENT_ALIASES:,}" in document.reason
    (fine,) = parse_text(f"name: &v value\nmany: [{','.join(['*v'] * MAX_DOCUMENT_ALIASES)}]\n")
    assert fine["many"] == ["value"] * MAX_DOCUMENT_ALIASES


def test_an_alias_inside_itself_is_refused() -> None:
    (document,) = parse_text("a: &loop [1, *loop]\n")
    assert isinstance(document, RefusedDocument)
    assert "never ends" in document.reason


def test_an_oversized_document_stops_composing_at_the_node_limit_and_the_next_is_read(monkeypatch) -> None:
    composed = 0
    descend = parse.DescriptorLoader.descend_resolver

    def counting(self: Any, parent: Any, index: Any) -> None:
        nonlocal composed
        composed += 1
        descend(self, parent, index)

    monkeypatch.setattr(parse.DescriptorLoader, "descend_resolver", counting)
    # Tagged nodes too: libyaml resolves no tag for them, so they are counted where every node is.
    huge = "members: [" + ",".join(["!!str x"] * (3 * MAX_DOCUMENT_NODES)) + "]\n"
    documents = parse_text("a: 1\n---\n" + huge + "---\nb: 2\n")

    assert documents[0] == {"a": 1} and documents[2:] == [{"b": 2}]
    assert isinstance(documents[1], RefusedDocument)
    assert f"more than {MAX_DOCUMENT_NODES:,} YAML nodes" in documents[1].reason
    # 3 nodes of each small document, and the huge one's up to the one over the limit: never its 300,000.
    assert composed == 3 + (MAX_DOCUMENT_NODES + 1) + 3


def test_a_syntax_error_after_an_oversized_document_names_its_line_in_the_file(monkeypatch) -> None:
    monkeypatch.setattr(parse, "MAX_DOCUMENT_NODES", 10)  # small, to keep the text readable
    text = "a: 1\n---\nb: [" + ",".join(["x"] * 20) + "]\n---\nc: 1\nd: [\n"
    with pytest.raises(ValueError, match="^YAML syntax error at line 7, column 1: "):
        parse_text(text)


def test_a_group_of_99_000_members_is_within_the_limits() -> None:
    members = ",".join(f"user-{number}" for number in range(99_000))
    (document,) = parse_text(f"kind: Group\nmetadata: {{name: everyone}}\nspec: {{members: [{members}]}}\n")
    assert len(document["spec"]["members"]) == 99_000


def test_a_file_over_the_byte_limit_is_refused_without_reading_it_all(tmp_path) -> None:
    big = tmp_path / "big.yaml"
    with big.open("wb") as file:
        file.truncate(MAX_FILE_BYTES + 1)  # sparse: nothing is written
    (tmp_path / "ok.yaml").write_text(component("ok"))
    report = catalog_import(path=tmp_path)
    assert report.file_errors == [{"file": "big.yaml", "error": "larger than 33,554,432 bytes, the limit of one "
                                   "descriptor file (import a larger catalog as a folder of files)"}]
    assert Service.objects.filter(slug="ok").exists()


def real_files() -> list[Path]:
    files = sorted(EXAMPLES.rglob("*.yaml"))
    if REAL_CATALOGS.is_dir():  # the shared real-world descriptors, when this machine has them
        files += sorted(REAL_CATALOGS.glob("*.y*ml"))
    return files


def test_no_real_descriptor_is_refused() -> None:
    files = real_files()
    assert len(files) > 10
    for path in files:
        text = path.read_bytes().decode("utf-8-sig")
        try:
            documents = parse_text(text)
        except ValueError:
            continue  # a file that is not YAML at all (some real ones are templates) is another matter
        assert not [document for document in documents if isinstance(document, RefusedDocument)], path


def test_a_yaml_error_quoting_the_input_is_cut(tmp_path) -> None:
    report = run_import(tmp_path, "a: !" + "x" * 100_000 + " b\n")  # an unknown tag, quoted by PyYAML
    (error,) = report.file_errors
    assert error["error"].startswith("YAML syntax error at line 1, column 4: could not determine a constructor")
    assert len(error["error"]) <= LONGEST_MESSAGE


def test_a_bad_timestamp_is_one_file_error_not_a_crash(tmp_path) -> None:
    """PyYAML fails with an AttributeError on `!!timestamp` of a non-date."""
    (tmp_path / "bad.yaml").write_text("a: !!timestamp not-a-date\n")
    (tmp_path / "ok.yaml").write_text(component("ok"))
    report = catalog_import(path=tmp_path)
    assert [error["file"] for error in report.file_errors] == ["bad.yaml"]
    assert report.file_errors[0]["error"].startswith("YAML error")
    assert Service.objects.filter(slug="ok").exists()


# ---------------------------------------------------------------------------------------------
# Every message quoting a value is bounded.

MEGABYTE = "x" * 1_000_000


def test_a_megabyte_value_in_every_checked_field_gives_short_messages(tmp_path) -> None:
    documents = [
        component(f"A{MEGABYTE}!"),  # metadata.name
        component("ok-1", spec=f"  dependsOn: [{MEGABYTE}]\n"),  # a reference with no kind
        component("ok-2", spec=f"  system: 'system:{MEGABYTE}!'\n"),  # a reference to no valid entity
        component("ok-3", metadata=f"  tags: [{MEGABYTE}!]\n  links: [{{url: '{MEGABYTE} y'}}]\n"),
        component("ok-4", metadata=f"  namespace: {MEGABYTE}!\n"),
        component("ok-5").replace("apiVersion: backstage.io/v1alpha1", f"apiVersion: {MEGABYTE}"),
        component("ok-6").replace("kind: Component", f"kind: C{MEGABYTE}!"),
        component("ok-7") + f"? {MEGABYTE}\n: extra\n",  # an unknown top-level field (a long key: `? `)
        component("ok-8", spec=f"  lifecycle2: [{MEGABYTE}, {MEGABYTE}]\n").replace(
            "  type: service\n", f"  type: [{MEGABYTE}]\n"),  # not a string: the list is quoted
        component("ok-9", metadata=f"  ? {MEGABYTE}\n  : unkept\n"),  # valid: a note names the field not kept
    ]
    report = run_import(tmp_path, "---\n".join(documents))

    assert len(report.documents) == len(documents)
    messages = [message for result in report.documents for message in result.reasons + result.notes]
    assert len(messages) >= len(documents)
    assert max(len(message) for message in messages) <= LONGEST_MESSAGE, max(messages, key=len)[:500]
    assert all(len(result.line()) <= MOST_PROBLEMS * LONGEST_MESSAGE for result in report.documents)


def test_a_value_of_nested_aliases_is_quoted_cheaply(monkeypatch) -> None:
    """Even were the expanded-size limit lifted, the message about a bomb visits a few items only: the
    memory it takes is that of a short message, not of 9**7 strings (~30 MB as one repr)."""
    monkeypatch.setattr(parse, "MAX_EXPANDED_NODES", 10**12)
    (document,) = parse_text(bomb(7))
    result = DocumentResult(file="bomb.yaml", index=1)
    tracemalloc.start()
    try:
        validate(document, result)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    (problem,) = result.reasons
    assert problem.startswith("metadata.title must be a string, not a list ([[[")
    assert len(problem) <= LONGEST_MESSAGE
    assert peak < 1_000_000


def test_a_list_of_many_bad_values_lists_a_few_problems_and_counts_the_rest(tmp_path) -> None:
    report = run_import(tmp_path, component("ok", metadata=f"  tags: [{','.join(['Bad'] * 5000)}]\n"))
    problems = reasons(report, 1)
    assert len(problems) == MOST_PROBLEMS + 1
    assert problems[-1] == f"and {5000 - MOST_PROBLEMS:,} more problems"


class Counted:
    """A value that counts how often it is shown."""

    shown = 0

    def __repr__(self) -> str:
        Counted.shown += 1
        return "c"


def test_quote_cuts_any_value_to_its_limit_and_reads_a_few_items_of_it() -> None:
    assert quote("payments") == "'payments'"
    assert quote(MEGABYTE) == "'" + "x" * (QUOTE_LIMIT - 4) + "..."
    assert len(quote({MEGABYTE: [MEGABYTE]})) <= QUOTE_LIMIT
    Counted.shown = 0
    assert len(quote([[Counted()] * 1000] * 1000)) <= QUOTE_LIMIT
    assert Counted.shown <= 4 * 4  # not a million
    tracemalloc.start()
    try:
        quote(MEGABYTE)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 10 * QUOTE_LIMIT  # the megabyte is never copied


def test_entity_reference_errors_quote_a_short_part_of_the_reference() -> None:
    for text in (MEGABYTE, f"component:{MEGABYTE}!", f"component:{MEGABYTE}!/name"):
        with pytest.raises(InvalidInput) as raised:
            parse_entity_ref(text, field="owner")
        assert len(raised.value.errors["owner"][0]) <= LONGEST_MESSAGE


def test_catalog_errors_quote_a_short_part_of_what_was_asked() -> None:
    long = "x" * 100_000
    asked = "y" * 500  # the longest value an ownership lookup takes
    calls = [
        lambda: reads.service_detail(long), lambda: reads.team_detail(long), lambda: reads.service_page(long),
        lambda: ownership_answer("service", asked), lambda: ownership_answer("user", asked),
        lambda: ownership_answer("team", asked),
        lambda: writes.resolve_team(long), lambda: writes.resolve_user(long),
        lambda: writes.resolve_owner(f"{long}:name"),  # a kind that is neither group nor user
    ]
    for call in calls:
        with pytest.raises(CatalogError) as raised:
            call()
        messages = [raised.value.detail, *(m for ms in raised.value.errors.values() for m in ms)]
        assert max(len(message) for message in messages) <= LONGEST_MESSAGE, messages[0][:200]


def test_a_group_naming_many_unknown_members_lists_a_few_of_them(tmp_path) -> None:
    members = [f"user-{number}" for number in range(50)]
    group = ("apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: everyone\n"
             f"spec:\n  type: team\n  children: []\n  members: [{', '.join(members)}]\n")
    (tmp_path / "group.yaml").write_text(group)

    (declared,) = catalog_import(path=tmp_path, dry_run=True).documents[0].notes
    assert declared == f"member users {', '.join(members[:10])} and 40 more not described anywhere: declared by this import"

    problems = catalog_import(path=tmp_path, dry_run=True, strict=True).documents[0].reasons
    assert len(problems) == MOST_PROBLEMS + 1
    assert problems[-1] == f"and {50 - MOST_PROBLEMS} more such references"
