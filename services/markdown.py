"""Markdown to HTML that is safe to show: rendered by markdown-it, sanitized by nh3 (Ammonia)."""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table").enable("strikethrough")
_TAGS = nh3.ALLOWED_TAGS | {"h1", "h2", "h3", "h4", "h5", "h6", "pre", "code", "table", "thead", "tbody", "tr",
                             "th", "td", "hr", "del", "s", "p", "br", "img"}


def render_markdown(text: str, *, title: str = "") -> str:
    """Markdown source to sanitized HTML: no script, no event handler, no javascript: URL survives.

    With `title`, a first `# heading` that repeats it is left out (the page shows the title already)."""
    text = text or ""
    if title:
        first, _, rest = text.lstrip().partition("\n")
        if first.startswith("# ") and first[2:].strip().casefold() == title.strip().casefold():
            text = rest
    html = _markdown.render(text)
    return nh3.clean(html, tags=_TAGS, url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer")
