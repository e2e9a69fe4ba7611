"""CODEOWNERS as GitHub reads it: the last matching pattern wins, .gitignore patterns, bounded."""

from __future__ import annotations

import pytest

from services.catalog.codeowners import MAX_RULES, matching_rule, parse

FILE = """\
# Everything, then more and more specific rules (the last match wins).
*                       @acme/platform
*.js                    @acme/frontend
/build/logs/            @acme/ops
docs/*                  docs@example.com
apps/                   @octocat
/scripts/               @doctocat @octocat
**/logs                 @acme/ops
/apps/github            # no owner: nobody owns it
billing/**/api.py       @acme/payments
!negated                @acme/x
[ab].txt                @acme/x
"""


@pytest.mark.parametrize("path, owners", [
    ("README.md", ("@acme/platform",)),
    ("src/app.js", ("@acme/frontend",)),
    ("build/logs/today.log", ("@acme/ops",)),
    ("build/logs", ("@acme/ops",)),  # not by `/build/logs/` (under the directory only) but by `**/logs`
    ("build/other.txt", ("@acme/platform",)),
    ("docs/getting-started.md", ("docs@example.com",)),
    ("docs/build-app/troubleshooting.md", ("@acme/platform",)),  # `docs/*`: not nested files
    ("apps/web/index.js", ("@octocat",)),  # `apps/`: at any depth, everything under it
    ("service/apps/main.py", ("@octocat",)),
    ("scripts/deploy.sh", ("@doctocat", "@octocat")),
    ("deep/down/logs/x.txt", ("@acme/ops",)),
    ("apps/github/main.go", ()),  # a rule without owners: nobody
    ("billing/api.py", ("@acme/payments",)),
    ("billing/v2/http/api.py", ("@acme/payments",)),
])
def test_the_last_matching_pattern_decides(path, owners):
    rules, _ = parse(FILE)
    assert matching_rule(rules, path).owners == owners


def test_patterns_github_does_not_support_are_left_out_and_said():
    rules, problems = parse(FILE)
    assert problems == ["line 11: '!negated' is not a pattern GitHub supports: left out",
                        "line 12: '[ab].txt' is not a pattern GitHub supports: left out"]
    assert matching_rule(rules, "negated").owners == ("@acme/platform",)


def test_a_path_no_rule_matches_has_no_rule():
    rules, _ = parse("/only/here @acme/x\n")
    assert matching_rule(rules, "elsewhere/file.py") is None


def test_rules_are_bounded():
    rules, problems = parse("".join(f"/p{number} @acme/x\n" for number in range(MAX_RULES + 5)))
    assert len(rules) == MAX_RULES and problems == [f"more than {MAX_RULES:,} rules: the rest are left out"]
