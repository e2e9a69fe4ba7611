"""GitHub's CODEOWNERS: which file GitHub reads, how its patterns match, and who owns a path.

GitHub's rules (docs.github.com, "About code owners"): the file is looked for in `.github/`, then the
root, then `docs/`, and the first found is used; a file over 3 MB is not loaded; each line is a
pattern followed by owners (`@user`, `@org/team` or an e-mail address); the **last** matching
pattern wins, and a pattern with no owners means nobody owns what it matches. Patterns follow
`.gitignore` rules, except that `!` negation and `[ ]` ranges do not work and `\\#` is not an escape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

CANDIDATE_PATHS = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")  # GitHub's order
MAX_BYTES = 3 * 1024 * 1024  # GitHub does not load a larger file
MAX_RULES = 10_000  # rules kept from one file: a lookup tries each, last to first
MAX_PATTERN = 1_000  # characters of one pattern


@dataclass(frozen=True)
class Rule:
    """One line of a CODEOWNERS file."""

    line: int
    pattern: str
    owners: tuple[str, ...]


def parse(text: str) -> tuple[list[Rule], list[str]]:
    """The rules of a CODEOWNERS file, in order, and what was left out and why (bounded: MAX_RULES)."""
    rules: list[Rule] = []
    problems: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.split(" #", 1)[0].strip()  # a trailing comment
        parts = line.split()
        pattern, owners = parts[0], tuple(parts[1:])
        if pattern.startswith("!") or "[" in pattern or len(pattern) > MAX_PATTERN:
            problems.append(f"line {number}: {pattern[:100]!r} is not a pattern GitHub supports: left out")
            continue
        if len(rules) >= MAX_RULES:
            problems.append(f"more than {MAX_RULES:,} rules: the rest are left out")
            break
        rules.append(Rule(number, pattern, owners))
    return rules, problems


@lru_cache(maxsize=4096)
def _compile(pattern: str) -> re.Pattern[str]:
    """A .gitignore pattern as a regular expression over a path relative to the repository's root."""
    anchored = pattern.startswith("/") or "/" in pattern.rstrip("/")
    directory = pattern.endswith("/")
    body = pattern.strip("/")
    out = []
    index = 0
    while index < len(body):
        char = body[index]
        if body.startswith("**/", index):
            out.append("(?:.*/)?")
            index += 3
            continue
        if body.startswith("/**", index) and index + 3 == len(body):
            out.append("/.*")
            index += 3
            continue
        if body.startswith("**", index):
            out.append(".*")
            index += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        else:
            out.append(re.escape(char))
        index += 1
    prefix = "" if anchored else "(?:.*/)?"
    # A name matches the file or directory of that name and so everything under it; a pattern ending
    # in `/` matches a directory only (something must be under it). A last segment with a wildcard
    # matches names at that level only: `docs/*` owns docs/a.md, not docs/build/b.md (GitHub's example).
    last = body.rsplit("/", 1)[-1]
    if directory:
        suffix = "/.+"
    elif "*" in last and last != "**":
        suffix = ""
    else:
        suffix = "(?:/.*)?"
    return re.compile(f"^{prefix}{''.join(out)}{suffix}$", re.DOTALL)


def matching_rule(rules: list[Rule], path: str) -> Rule | None:
    """The rule that decides who owns `path` (relative to the root): the last one matching, or None."""
    path = path.strip("/")
    for rule in reversed(rules):
        if _compile(rule.pattern).match(path):
            return rule
    return None
