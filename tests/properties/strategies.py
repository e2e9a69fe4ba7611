"""Hostile values for property tests: what a careless script, a confused person or an attacker sends."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

TEMPLATE_SYNTAX = [
    "{{ 7*7 }}", "{{7*'7'}}", "{% for x in range(3) %}{{ x }}{% endfor %}", "{% raw %}x{% endraw %}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}", "{{ config }}", "{{ request }}", "{% debug %}",
    "{% load static %}", "{{ settings.SECRET_KEY }}", "${{ secrets.GITHUB_TOKEN }}", "${7*7}", "#{7*7}",
    "{{ cookiecutter.__class__ }}", "{%- if true -%}yes{%- endif -%}", "{# comment #}", "{{",
    "{% if %}", "}}{{",
]
PATH_FRAGMENTS = [
    "../", "../../etc/passwd", "..\\..\\windows", "/etc/passwd", "/", "~", "~/.ssh/id_rsa", "./.", "..",
    "a/../../b", "%2e%2e%2f", "\\\\server\\share", "C:\\Windows", "file:///etc/passwd", "a/./b", ".git/config",
]
MARKUP = [
    "<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "javascript:alert(1)", "</textarea>",
    "' OR 1=1 --", "'; DROP TABLE services_service; --", "<!--", "]]>", "&amp;", "%s%s%s%n", "\\", '"', "'",
]
CONTROL = ["\x00", "a\x00b", "\x1b[31mred", "\r\n", "\t", "\x7f", "\u0085", "\u2028", "\u2029", "\ufeff", "\u200b",
           "\u202eevil", "\u061c", "\x08"]
ODD_UNICODE = ["ü" * 50, "🚀", "👩\u200d👩\u200d👧", "مرحبا", "שלום", "\U0010ffff", "\ufffd", "ǅ", "ﬃ", "İ", "ß",
               "\ud800", "\udfff", "a\ud83dz", "Ⅻ", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "\u0301", "０１２"]

HUGE_SIZES = [10_001, 200_001, 1_000_000]


def huge_text() -> st.SearchStrategy[str]:
    """A few very long strings (up to 1 MB): over every limit, or close to it."""
    return st.builds(lambda unit, size: (unit * size)[:size], st.sampled_from(["a", "é", "🚀", "<x>", "{{", "\x00"]),
                     st.sampled_from(HUGE_SIZES))


def hostile_text() -> st.SearchStrategy[str]:
    """Strings of every kind: arbitrary unicode (lone surrogates too, which JSON can carry), template
    syntax, path fragments, markup, control characters."""
    known = st.sampled_from(TEMPLATE_SYNTAX + PATH_FRAGMENTS + MARKUP + CONTROL + ODD_UNICODE)
    return st.one_of(
        known,
        st.text(),
        st.text(st.characters(codec=None, exclude_categories=()), max_size=40),  # surrogates included
        st.builds(lambda a, b, c: a + b + c, st.text(max_size=5), known, st.text(max_size=5)),
        st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True),
    )


def json_scalars() -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), st.booleans(), st.integers(), st.integers(min_value=-(2**70), max_value=2**70),
                     st.floats(allow_nan=False, allow_infinity=False), hostile_text())


def json_junk() -> st.SearchStrategy[Any]:
    """Nested lists and objects of anything."""
    return st.recursive(json_scalars(), lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(hostile_text(), inner, max_size=4)), max_leaves=12)


def hostile_value() -> st.SearchStrategy[Any]:
    """What goes in place of a field's value: a string, a value of the wrong JSON type, now and then a
    huge string (kept rare: each costs a megabyte through the whole stack)."""
    return st.one_of(hostile_text(), hostile_text(), hostile_text(), json_scalars(), json_junk(), huge_text())


def json_body(value: Any) -> bytes:
    """JSON as a client would send it; lone surrogates travel as \\ud800 escapes (ensure_ascii)."""
    return json.dumps(value, ensure_ascii=True).encode("ascii")
