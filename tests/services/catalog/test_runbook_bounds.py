"""Runbook text costs bounded work, done once when it is saved (services/catalog/markdown.py): a render
takes at most RENDER_STEP_BUDGET steps and a diff at most MAX_DIFF_STEPS, whatever the largest body
accepted (MAX_BODY_CHARS) holds; migration 0011_runbook_html fills both in for rows saved before.

The bounds are stated in steps, not seconds (the figures per step are in markdown.py): a test here
counts what was done, it does not time it."""

from __future__ import annotations

import difflib
import html

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from services.catalog import markdown, writes
from services.catalog.demo import _runbook_body
from services.catalog.demo_data import SERVICES
from services.catalog.markdown import (
    MAX_BODY_CHARS,
    MAX_DIFF_LINES,
    MAX_DIFF_STEPS,
    MAX_TABLE_COLUMNS,
    PLAIN_TEXT_NOTE,
    RENDER_STEP_BUDGET,
    line_diff,
    render_markdown,
    render_runbook,
)
from services.errors import InvalidInput
from services.models import Runbook, RunbookRevision

pytestmark = pytest.mark.django_db


def _filled(unit: str, size: int = MAX_BODY_CHARS) -> str:
    """`unit` repeated to exactly `size` characters."""
    return (unit * (size // len(unit) + 1))[:size]


def _table(columns: int, rows: str, size: int = MAX_BODY_CHARS) -> str:
    header = "|" + "|".join("h" * columns) + "|\n" + "|-" * columns + "|\n"
    return header + _filled(rows, size - len(header))


ORDINARY = "\n".join(_runbook_body(spec) for spec in SERVICES if spec.runbook)


@pytest.fixture
def steps(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The render steps spent (those the budget allowed), as the budget counts them."""
    spent = [0]
    spend = markdown._spend

    def counted(env: dict, count: int = 1) -> None:
        spend(env, count)
        spent[0] += count

    monkeypatch.setattr(markdown, "_spend", counted)
    return spent


# The inputs of the security review and the worst found since, each as large as a body may be.
STOPPED = {
    "unclosed brackets (the review's)": _filled("["),
    "unclosed image brackets, one a line": _filled("![\n"),
    "link labels nested 12,500 deep": "[" * (MAX_BODY_CHARS // 4) + "](" * (MAX_BODY_CHARS // 4),
    "emphasis and brackets": _filled("*["),
    "tables of 64 columns, one letter a row (13 s unbounded)":
        (_table(MAX_TABLE_COLUMNS, "a\n", 600) + "\n\n") * (MAX_BODY_CHARS // 602),
}
RENDERED = {
    "the demo's runbooks": _filled(ORDINARY + "\n"),
    "a list of one-letter items": _filled("- a\n"),
    "a list of unclosed brackets": _filled("- [\n"),
    "a table of two columns": _table(2, "|[|![|\n"),
    "links": _filled("[runbook](https://example.org/x) "),
    "character references (the review's)": _filled("&#"),
}


@pytest.mark.parametrize("body", STOPPED.values(), ids=list(STOPPED))
def test_a_largest_body_that_would_take_seconds_stops_at_the_step_budget_and_shows_as_text(steps, body):
    assert len(body) <= MAX_BODY_CHARS
    rendered = render_markdown(body)
    assert steps[0] <= RENDER_STEP_BUDGET
    assert rendered.startswith(f'<p class="render-note">{html.escape(PLAIN_TEXT_NOTE)}</p>')
    assert f'<pre class="plain-text">{html.escape(body)}</pre>' in rendered


@pytest.mark.parametrize("body", RENDERED.values(), ids=list(RENDERED))
def test_a_largest_body_of_any_other_kind_renders_as_markdown_within_the_step_budget(steps, body):
    assert len(body) <= MAX_BODY_CHARS
    rendered = render_markdown(body)
    assert steps[0] <= RENDER_STEP_BUDGET
    assert "render-note" not in rendered and "plain-text" not in rendered


def test_a_table_wider_than_the_limit_is_shown_as_its_text():
    def table(columns: int) -> str:
        return "|" + "|".join("h" * columns) + "|\n" + "|-" * columns + "|\n" + "|x" * columns + "|\n"

    assert render_markdown(table(MAX_TABLE_COLUMNS)).count("<th>") == MAX_TABLE_COLUMNS
    assert "<table>" not in render_markdown(table(MAX_TABLE_COLUMNS + 1))
    wide = render_markdown(table(1_000))  # the review's 1,000 columns
    assert "<table>" not in wide and wide.startswith("<p>|h|h|h|")


def test_a_repeated_title_is_left_out_of_the_page_only():
    rendered = render_runbook("# Restart\n\nRun it.", title="restart")
    assert rendered.html == "<h1>Restart</h1>\n<p>Run it.</p>\n"
    assert rendered.html[rendered.title_end:] == "<p>Run it.</p>\n"
    assert render_runbook("# Other\n\nRun it.", title="Restart").title_end == 0


# ---------------------------------------------------------------------------------------------
# The write path: bodies refused past the limit, rendered and diffed once, when saved.


def test_a_body_over_the_limit_is_refused_naming_the_body(service, member):
    with pytest.raises(InvalidInput) as refused:
        writes.runbook_create(actor=member, service=service, title="Big", body="x" * (MAX_BODY_CHARS + 1))
    assert list(refused.value.errors) == ["body"]
    runbook = writes.runbook_create(actor=member, service=service, title="Big", body="x" * MAX_BODY_CHARS)
    with pytest.raises(InvalidInput) as refused:
        writes.runbook_update(actor=member, runbook=runbook, data={"body": "y" * (MAX_BODY_CHARS + 1)})
    assert list(refused.value.errors) == ["body"]
    assert not Runbook.objects.filter(body__startswith="y").exists()


def test_a_body_saved_under_the_old_limit_can_still_be_reviewed_and_renamed(service, member):
    runbook = writes.runbook_create(actor=member, service=service, title="Old", body="x")
    Runbook.objects.filter(pk=runbook.pk).update(body="x" * 200_000)
    runbook.refresh_from_db()
    writes.runbook_update(actor=member, runbook=runbook,
                          data={"title": "Older", "body": runbook.body, "last_reviewed": timezone.localdate()})
    runbook.refresh_from_db()
    assert runbook.title == "Older" and len(runbook.body) == 200_000


def test_saving_renders_once_and_keeps_the_html(service, member, monkeypatch):
    runbook = writes.runbook_create(actor=member, service=service, title="On call", body="# On call\n\n*Page* ops.")
    assert runbook.html == "<h1>On call</h1>\n<p><em>Page</em> ops.</p>\n"
    assert runbook.html[runbook.html_title_end:] == "<p><em>Page</em> ops.</p>\n"
    writes.runbook_update(actor=member, runbook=runbook, data={"body": "**Call** ops."})
    writes.runbook_update(actor=member, runbook=runbook, data={"title": "Paging"})
    stored = Runbook.objects.get(pk=runbook.pk)
    assert (stored.html, stored.html_title_end) == ("<p><strong>Call</strong> ops.</p>\n", 0)
    # A change of the review date alone renders nothing.
    monkeypatch.setattr(markdown._markdown, "parse", _refuse)
    writes.runbook_update(actor=member, runbook=stored, data={"last_reviewed": timezone.localdate()})


def test_each_revision_keeps_its_change_from_the_one_before(service, member):
    runbook = writes.runbook_create(actor=member, service=service, title="On call", body="one\ntwo\n")
    writes.runbook_update(actor=member, runbook=runbook, data={"body": "one\n2\n"})
    writes.runbook_update(actor=member, runbook=runbook, data={"title": "Paging"})
    first, second, third = RunbookRevision.objects.filter(runbook=runbook).order_by("number")
    assert (first.line_count, first.previous_line_count, first.diff, first.diff_too_large) == (2, None, "", False)
    assert second.diff == "--- revision 1\n+++ revision 2\n@@ -1,2 +1,2 @@\n one\n-two\n+2"
    assert (second.line_count, second.previous_line_count) == (2, 2)
    assert (third.diff, third.diff_too_large) == ("", False)  # the title changed, not the text


def test_a_new_runbook_is_reviewed_the_day_it_is_written(service, member):
    runbook = writes.runbook_create(actor=member, service=service, title="On call")
    assert runbook.last_reviewed == timezone.localdate()
    assert Runbook.objects.get(pk=runbook.pk).last_reviewed == timezone.localdate()


# ---------------------------------------------------------------------------------------------
# Diffs.


@pytest.fixture
def diff_steps(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Lines scanned by difflib's searches for the longest common block, times the most times a line
    occurs: the matcher's work, as MAX_DIFF_STEPS bounds it."""
    scanned = [0]
    find = difflib.SequenceMatcher.find_longest_match

    def counted(self, alo=0, ahi=None, blo=0, bhi=None):
        occurs = max((len(places) for places in self.b2j.values()), default=0)
        scanned[0] += ((len(self.a) if ahi is None else ahi) - alo) * (occurs + 1) + 1
        return find(self, alo, ahi, blo, bhi)

    monkeypatch.setattr(difflib.SequenceMatcher, "find_longest_match", counted)
    return scanned


def _lines(count: int, name: str) -> str:
    return "".join(f"{name}{number}\n" for number in range(count))


# Edits on which difflib's matcher is quadratic or worse, the largest a body allows.
QUADRATIC = {
    "every line followed by a new one": (_lines(4_000, "x"), "".join(f"x{n}\ny{n}\n" for n in range(4_000))),
    "every other line changed": (_lines(8_000, "x"), "".join(f"{'xz'[n % 2]}{n}\n" for n in range(8_000))),
    "a rewrite (30,000 to 20,000 lines in the review)": ("a\n" * 25_000, "b\n" * 25_000),
}


@pytest.mark.parametrize(("old", "new"), QUADRATIC.values(), ids=list(QUADRATIC))
def test_a_diff_that_would_take_seconds_stops_at_its_bound_and_says_too_large(diff_steps, old, new):
    assert max(len(old), len(new)) <= MAX_BODY_CHARS
    diff = line_diff(old, new, old_label="revision 1", new_label="revision 2")
    assert diff_steps[0] <= MAX_DIFF_STEPS
    assert (diff.text, diff.too_large) == ("", True)
    assert (diff.old_lines, diff.new_lines) == (old.count("\n"), new.count("\n"))


def test_a_small_edit_of_the_longest_body_is_a_small_diff(diff_steps):
    old = "".join(f"{number}\n" for number in range(8_000))
    new = old.replace("\n2000\n", "\n2000 twice\n")
    assert len(new) <= MAX_BODY_CHARS and new.count("\n") > MAX_DIFF_LINES
    diff = line_diff(old, new, old_label="a", new_label="b")
    assert not diff.too_large and diff_steps[0] < 10
    assert diff.text == "--- a\n+++ b\n@@ -1998,7 +1998,7 @@\n 1997\n 1998\n 1999\n-2000\n+2000 twice\n 2001\n 2002\n 2003"


def test_a_line_repeated_around_a_change_is_diffed_at_the_change():
    diff = line_diff("x\n" * 20, "x\n" * 9 + "y\n" + "x\n" * 10, old_label="a", new_label="b")
    assert diff.text == "--- a\n+++ b\n@@ -7,7 +7,7 @@\n x\n x\n x\n-x\n+y\n x\n x\n x"


@pytest.mark.parametrize(("old", "new"), [
    ("a\nb\nc\n", "a\nc\nd\n"), ("", "new\n"), ("gone\n", ""), ("\n".join("abcdefghij"), "\n".join("abXdefghYj")),
    ("\n".join("abcdefghijklmnop"), "\n".join("abXdefghijklmnYp")),
])
def test_a_diff_reads_as_difflibs_unified_diff(old, new):
    expected = "\n".join(difflib.unified_diff(old.splitlines(), new.splitlines(), "a", "b", lineterm=""))
    assert line_diff(old, new, old_label="a", new_label="b").text == expected


# ---------------------------------------------------------------------------------------------
# The migration fills in what was saved before it.


def _refuse(*args, **kwargs):
    raise AssertionError("rendered Markdown")


@pytest.mark.django_db(transaction=True)
def test_the_migration_renders_every_runbook_and_diffs_every_revision_in_batches():
    executor = MigrationExecutor(connection)
    this = ("services", "0011_runbook_html")
    before = [parent.key for parent in executor.loader.graph.node_map[this].parents]
    executor.migrate(before)
    apps = executor.loader.project_state(before).apps
    team = apps.get_model("services", "Team").objects.create(slug="payments", name="Payments")
    service = apps.get_model("services", "Service").objects.create(slug="ledger", name="Ledger", owner_team=team)
    old_runbook, old_revision = apps.get_model("services", "Runbook"), apps.get_model("services", "RunbookRevision")
    # More runbooks and revisions than a batch (50), a body over today's limit, a gap in the numbers.
    runbooks = [old_runbook.objects.create(service=service, slug=f"r{n}", title=f"R{n}", body=f"# R{n}\n\n*{n}*")
                for n in range(60)]
    for runbook in runbooks:
        old_revision.objects.create(runbook=runbook, number=1, title=runbook.title, body=runbook.body)
    long_body = "[" * 200_000
    old_runbook.objects.filter(pk=runbooks[0].pk).update(body=long_body)
    for number, body in [(2, "one\ntwo\n"), (3, "one\n2\n"), (5, long_body)]:
        old_revision.objects.create(runbook=runbooks[0], number=number, title="R0", body=body)

    executor = MigrationExecutor(connection)
    executor.migrate([this])

    assert Runbook.objects.get(slug="r7").html == "<h1>R7</h1>\n<p><em>7</em></p>\n"
    assert Runbook.objects.get(slug="r7").html_title_end == len("<h1>R7</h1>\n")
    assert all(runbook.html for runbook in Runbook.objects.all())
    assert Runbook.objects.get(slug="r0").html.startswith('<p class="render-note">')
    revisions = {revision.number: revision for revision in RunbookRevision.objects.filter(runbook__slug="r0")}
    assert (revisions[1].previous_line_count, revisions[1].line_count, revisions[1].diff) == (None, 3, "")
    assert revisions[2].diff.startswith("--- revision 1\n+++ revision 2\n")
    assert revisions[3].diff == "--- revision 2\n+++ revision 3\n@@ -1,2 +1,2 @@\n one\n-two\n+2"
    assert (revisions[5].previous_line_count, revisions[5].line_count) == (2, 1)
    assert revisions[5].diff.startswith("--- revision 3\n+++ revision 5\n")
    assert RunbookRevision.objects.filter(number=1, previous_line_count=None).count() == 60
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
