"""Markdown to HTML that is safe to show: rendered by markdown-it, sanitized by nh3 (Ammonia)."""

from __future__ import annotations

from typing import Any

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table").enable("strikethrough")
_TAGS = nh3.ALLOWED_TAGS | {"h1", "h2", "h3", "h4", "h5", "h6", "pre", "code", "table", "thead", "tbody", "tr",
                             "th", "td", "hr", "del", "s", "p", "br", "img"}


def render_markdown(text: str, *, title: str = "") -> str:
    """Markdown source to sanitized HTML: no script, no event handler, no javascript: URL survives.

    With `title`, a first level-1 heading that repeats it is left out (the page shows the title already)."""
    env: dict[str, Any] = {}
    tokens = _markdown.parse(text or "", env)
    if title and _repeats_title(tokens, title):
        tokens = tokens[3:]  # heading_open, its inline content, heading_close
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
