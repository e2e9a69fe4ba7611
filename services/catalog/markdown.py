"""Runbook text, with a bounded amount of work: Markdown to sanitized HTML (markdown-it, then nh3/Ammonia)
and the line diff between two revisions (difflib).

Both are done once, when a runbook is saved (catalog/writes.py keeps the results), never when it is
read. markdown-it-py's cost per character varies a hundredfold with the input: `"[" * 199_000` took
2.3 s, a 1,000-column table of 198 KB 2.2 s, and 80 tables of 64 columns whose rows are one letter
each (every missing cell filled in) 13.3 s for 50,000 characters. difflib's matcher is quadratic on
some edits (every line followed by a new one: 30,000 lines took 114 s). Hence the limits below, each
with what it was measured to cost: CPU seconds on this project's 2-core VM, best of 5 (the same VM
under other load takes up to ~1.5 times as long)."""

from __future__ import annotations

import difflib
import html as html_escaping
from dataclasses import dataclass
from typing import Any

import nh3
from markdown_it import MarkdownIt
from markdown_it.rules_block import StateBlock
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token

from services.errors import InvalidInput

# The longest runbook body accepted, in characters (the form, the API and catalog/writes.py refuse
# more; it was 200,000). The demo's runbooks are ~3,500. To render a body of this size: ordinary
# runbook Markdown 0.03 s; the worst inputs found that stay within the step budget, 12,500 list items
# or paragraphs of one letter each (`"- [\n" * n`, `"a\n\n" * n`), 0.42-0.54 s; those the budget stops
# (unclosed brackets, filled-in table cells) 0.17-0.36 s, from 0.8-13.3 s without it.
MAX_BODY_CHARS = 50_000
# Work allowed to one render, in steps: an inline rule tried at a position, or a token skipped while
# looking for a link label's end, is a step; a block rule tried at a line is BLOCK_STEPS (a block
# costs its tokens and an inline parse of its own), a table cell CELL_STEPS (counted before the
# table is built: its rule builds every cell in one go). Measured: ~0.8 us a step for unclosed
# brackets, 1.5-3.5 us for blocks and cells, up to 14 us for emphasis (which the size limit binds
# first). Ordinary runbook Markdown takes ~15,000 steps at the size limit, text that is all links
# ~75,000, a list of one-letter items ~210,000. Past the budget the body is shown as escaped text
# after PLAIN_TEXT_NOTE.
RENDER_STEP_BUDGET = 300_000
BLOCK_STEPS = 16
CELL_STEPS = 12
# Widest table rendered as one: a "table" with more columns is shown as the text it is (a runbook's
# tables have a handful of columns).
MAX_TABLE_COLUMNS = 64
PLAIN_TEXT_NOTE = ("This runbook's Markdown is too complex to render (for example thousands of unclosed "
                   "brackets or table cells): it is shown as plain text.")

# Lines of each side a diff considers, once the lines both sides share at the start and the end are
# set aside (an edit of a few lines in a long runbook is a few lines).
MAX_DIFF_LINES = 5_000
# Work allowed to difflib's matcher, in steps: each search for the longest common block costs the
# lines it scans times the most times any line occurs (an upper bound of its work). Measured at
# 0.2-0.6 us a step: the worst diffs found stop at ~0.12 s (the quadratic edit above with 1,000 lines,
# 500,000 steps, is shown: 0.12 s; with 2,000 it is too large after 0.1 s).
MAX_DIFF_STEPS = 1_000_000
DIFF_CONTEXT_LINES = 3

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table").enable("strikethrough")
_TAGS = nh3.ALLOWED_TAGS | {"h1", "h2", "h3", "h4", "h5", "h6", "pre", "code", "table", "thead", "tbody", "tr",
                             "th", "td", "hr", "del", "s", "p", "br", "img"}
_STEPS_LEFT = "slipway_steps_left"


class _BudgetExceeded(Exception):
    """The work allowed ran out."""


def _spend(env: dict[str, Any], steps: int = 1) -> None:
    left = env[_STEPS_LEFT] - steps
    if left < 0:
        raise _BudgetExceeded
    env[_STEPS_LEFT] = left


def _inline_step(state: StateInline, silent: bool) -> bool:
    """First inline rule: counts a step, matches nothing."""
    _spend(state.env)
    return False


def _block_step(state: StateBlock, start_line: int, end_line: int, silent: bool) -> bool:
    """First block rule: counts the steps of a block (its tokens, its own inline parse), matches nothing."""
    _spend(state.env, BLOCK_STEPS)
    return False


# The table rule as markdown-it has it, with the rules it may interrupt (Ruler has no public getter).
_table_rule = _markdown.block.ruler.__rules__[_markdown.block.ruler.__find__("table")]
_table = _table_rule.fn


def _table_of_bounded_width(state: StateBlock, start_line: int, end_line: int, silent: bool) -> bool:
    """GFM's table rule, for tables of at most MAX_TABLE_COLUMNS columns (counted on the delimiter row,
    `|---|---|`, whose columns a table's must equal); a wider one is left to the other rules."""
    if start_line + 1 < end_line:
        delimiter_row = state.src[state.bMarks[start_line + 1]:state.eMarks[start_line + 1]]
        columns = delimiter_row.strip().strip("|").count("|") + 1
        if columns > MAX_TABLE_COLUMNS:
            return False
        if not silent and _table(state, start_line, end_line, True):
            # The rule builds every cell in one go, rows short of cells filled in (65,536 of them at
            # most): the cells are counted first, an upper bound (every line up to a blank one a row).
            rows, line, left = 1, start_line + 2, state.env[_STEPS_LEFT]
            while line < end_line and not state.isEmpty(line) and rows * columns * CELL_STEPS <= left:
                rows, line = rows + 1, line + 1
            _spend(state.env, rows * columns * CELL_STEPS)
    return _table(state, start_line, end_line, silent)


_markdown.block.ruler.at("table", _table_of_bounded_width, {"alt": list(_table_rule.alt)})
_markdown.inline.ruler.before("text", "slipway_budget", _inline_step)
_markdown.block.ruler.before("table", "slipway_budget", _block_step)
_skip_token = _markdown.inline.skipToken


def _counted_skip_token(state: StateInline) -> None:
    """The look-ahead for a link label's end (helpers.parseLinkLabel) skips tokens one at a time, most
    answered from a cache without trying any rule: each is a step too."""
    _spend(state.env)
    _skip_token(state)


_markdown.inline.skipToken = _counted_skip_token  # type: ignore[method-assign]  # this instance only


@dataclass(frozen=True)
class RenderedRunbook:
    """A runbook's body as HTML; the page leaves out `html[:title_end]`, an <h1> repeating the title."""

    html: str
    title_end: int


def render_runbook(body: str, *, title: str, step_budget: int = RENDER_STEP_BUDGET) -> RenderedRunbook:
    """The HTML of a runbook's body, and where an opening level-1 heading that repeats the title ends."""
    env: dict[str, Any] = {_STEPS_LEFT: step_budget}
    try:
        tokens = _markdown.parse(body or "", env)
    except _BudgetExceeded:
        return RenderedRunbook(plain_text_html(body), 0)
    if title and _repeats_title(tokens, title):
        heading = _html(tokens[:3], env)
        return RenderedRunbook(heading + _html(tokens[3:], env), len(heading))
    return RenderedRunbook(_html(tokens, env), 0)


def check_body(body: str) -> None:
    """Refuse a runbook body longer than MAX_BODY_CHARS, naming the field."""
    if len(body) > MAX_BODY_CHARS:
        raise InvalidInput.field("body", f"Ensure this field has no more than {MAX_BODY_CHARS:,} characters "
                                         f"(it has {len(body):,}).")


def render_markdown(text: str, *, title: str = "", step_budget: int = RENDER_STEP_BUDGET) -> str:
    """Markdown source to sanitized HTML: no script, no event handler, no javascript: URL survives.

    With `title`, a first level-1 heading that repeats it is left out (the page shows the title already).
    Past `step_budget` parser steps: the text, escaped, after PLAIN_TEXT_NOTE."""
    rendered = render_runbook(text, title=title, step_budget=step_budget)
    return rendered.html[rendered.title_end:]


def plain_text_html(text: str) -> str:
    """The body as escaped plain text, with the note saying why."""
    return (f'<p class="render-note">{html_escaping.escape(PLAIN_TEXT_NOTE)}</p>\n'
            f'<pre class="plain-text">{html_escaping.escape(text or "")}</pre>\n')


def _html(tokens: list[Token], env: dict[str, Any]) -> str:
    html = _markdown.renderer.render(tokens, _markdown.options, env)
    return nh3.clean(html, tags=_TAGS, url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer")


def _repeats_title(tokens: list[Token], title: str) -> bool:
    """Whether the document opens with an H1 whose words are the title's, ignoring case and spacing.

    Judged on parsed tokens, not on the source's first line: `#  Title #`, `#\tTitle`, a setext
    `Title` underlined with `===` and an emphasized title all count, and an indented `    # Title`
    (a code block) does not."""
    if len(tokens) < 3 or tokens[0].type != "heading_open" or tokens[0].tag != "h1":
        return False
    words = "".join(child.content if child.type in ("text", "code_inline") else " "
                    for child in tokens[1].children or [] if child.type in ("text", "code_inline", "softbreak"))
    return _words(words) == _words(title)


def _words(text: str) -> str:
    return " ".join(text.split()).casefold()


# ---------------------------------------------------------------------------------------------
# Line diffs.


@dataclass(frozen=True)
class LineDiff:
    """A unified diff (empty when the texts are the same), or `too_large` and no diff."""

    text: str
    too_large: bool
    old_lines: int
    new_lines: int


class _BoundedMatcher(difflib.SequenceMatcher):
    """difflib's matcher, stopped once its searches have scanned `steps` lines (times the most times
    any line occurs: an upper bound of the work of each search)."""

    def __init__(self, a: list[str], b: list[str], steps: int) -> None:
        super().__init__(None, a, b)
        self.steps_left = steps
        self.most_occurrences = max((len(places) for places in self.b2j.values()), default=0)

    def find_longest_match(self, alo: int = 0, ahi: int | None = None, blo: int = 0,
                           bhi: int | None = None) -> difflib.Match:
        scanned = (len(self.a) if ahi is None else ahi) - alo
        self.steps_left -= max(scanned, 0) * (self.most_occurrences + 1) + 1
        if self.steps_left < 0:
            raise _BudgetExceeded
        return super().find_longest_match(alo, ahi, blo, bhi)


def line_diff(old: str, new: str, *, old_label: str, new_label: str, max_lines: int = MAX_DIFF_LINES,
              max_steps: int = MAX_DIFF_STEPS) -> LineDiff:
    """The unified diff of two texts, line by line with DIFF_CONTEXT_LINES of context; `too_large`
    when the lines that differ are more than `max_lines` on a side or the matcher needs more than
    `max_steps`."""
    a, b = old.splitlines(), new.splitlines()
    head = 0
    while head < len(a) and head < len(b) and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < len(a) - head and tail < len(b) - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    middle_a, middle_b = a[head:len(a) - tail], b[head:len(b) - tail]
    if not middle_a and not middle_b:
        return LineDiff("", False, len(a), len(b))
    too_large = LineDiff("", True, len(a), len(b))
    if max(len(middle_a), len(middle_b)) > max_lines:
        return too_large
    try:
        middle = _BoundedMatcher(middle_a, middle_b, max_steps).get_opcodes()
    except _BudgetExceeded:
        return too_large
    opcodes = [("equal", 0, head, 0, head)] if head else []
    opcodes += [(tag, i1 + head, i2 + head, j1 + head, j2 + head) for tag, i1, i2, j1, j2 in middle]
    if tail:
        opcodes.append(("equal", len(a) - tail, len(a), len(b) - tail, len(b)))
    lines = [f"--- {old_label}", f"+++ {new_label}"]
    for group in _grouped(opcodes, DIFF_CONTEXT_LINES):
        lines.append(f"@@ -{_range(group[0][1], group[-1][2])} +{_range(group[0][3], group[-1][4])} @@")
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                lines += [" " + line for line in a[i1:i2]]
                continue
            lines += ["-" + line for line in a[i1:i2]]
            lines += ["+" + line for line in b[j1:j2]]
    return LineDiff("\n".join(lines), False, len(a), len(b))


def revision_diff(previous: tuple[int, str] | None, body: str, number: int) -> dict[str, Any]:
    """A revision's fields that describe its change from `previous` (number, body), None for the first."""
    if previous is None:
        return {"line_count": len(body.splitlines()), "previous_line_count": None, "diff": "",
                "diff_too_large": False}
    diff = line_diff(previous[1], body, old_label=f"revision {previous[0]}", new_label=f"revision {number}")
    return {"line_count": diff.new_lines, "previous_line_count": diff.old_lines, "diff": diff.text,
            "diff_too_large": diff.too_large}


Opcode = tuple[str, int, int, int, int]  # difflib's: tag, old start, old end, new start, new end


def _grouped(opcodes: list[Opcode], context: int) -> list[list[Opcode]]:
    """The changes in hunks with `context` lines around each (difflib's get_grouped_opcodes)."""
    codes = list(opcodes)
    if codes[0][0] == "equal":
        tag, i1, i2, j1, j2 = codes[0]
        codes[0] = tag, max(i1, i2 - context), i2, max(j1, j2 - context), j2
    if codes[-1][0] == "equal":
        tag, i1, i2, j1, j2 = codes[-1]
        codes[-1] = tag, i1, min(i2, i1 + context), j1, min(j2, j1 + context)
    groups: list[list[Opcode]] = []
    group: list[Opcode] = []
    for tag, i1, i2, j1, j2 in codes:
        if tag == "equal" and i2 - i1 > 2 * context:
            group.append((tag, i1, min(i2, i1 + context), j1, min(j2, j1 + context)))
            groups.append(group)
            group = []
            i1, j1 = max(i1, i2 - context), max(j1, j2 - context)
        group.append((tag, i1, i2, j1, j2))
    if group and not (len(group) == 1 and group[0][0] == "equal"):
        groups.append(group)
    return groups


def _range(start: int, stop: int) -> str:
    """A hunk's line range as unified diffs write it (difflib's _format_range_unified)."""
    beginning, length = start + 1, stop - start
    if length == 1:
        return f"{beginning}"
    if not length:
        beginning -= 1
    return f"{beginning},{length}"
