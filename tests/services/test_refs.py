"""Entity references and repository keys."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.catalog.refs import EntityRef, is_valid_name, parse_entity_ref
from services.errors import InvalidInput
from services.hosts.repository_keys import normalize_repository


@pytest.mark.parametrize(
    "text",
    [
        "acme/ledger",
        "Acme/Ledger",
        "github.com/acme/ledger",
        "https://github.com/acme/ledger",
        "https://github.com/Acme/Ledger.git",
        "https://github.com/acme/ledger/",
        "https://www.github.com/acme/ledger/tree/main/src/app.py",
        "https://github.com/acme/ledger/blob/main/README.md",
        "https://github.com/acme/ledger/pulls",
        "http://github.com/acme/ledger",
        "git@github.com:acme/ledger.git",
        "git@github.com:Acme/Ledger",
        "ssh://git@github.com/acme/ledger.git",
        "git://github.com/acme/ledger.git",
        "  https://github.com/acme/ledger.git  ",
    ],
)
def test_every_form_of_a_repository_normalizes_to_one_key(text):
    assert normalize_repository(text) == "github.com/acme/ledger"


def test_other_hosts_keep_nested_groups():
    assert normalize_repository("https://gitlab.example.org/group/sub/app.git") == "gitlab.example.org/group/sub/app"
    assert normalize_repository("https://gitlab.example.org/group/sub/app/-/tree/main") == "gitlab.example.org/group/sub/app"


@pytest.mark.parametrize(
    "text", ["", "   ", "ledger", "https://github.com/acme", "javascript:alert(1)", "file:///etc/passwd",
             "https://github.com/acme/../etc", "acme/led ger", "x" * 600],
)
def test_bad_repository_references_are_refused_naming_the_field(text):
    with pytest.raises(InvalidInput) as caught:
        normalize_repository(text, field="repo")
    assert "repo" in caught.value.errors


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("team-x", EntityRef("group", "default", "team-x")),
        ("group:team-x", EntityRef("group", "default", "team-x")),
        ("group:default/team-x", EntityRef("group", "default", "team-x")),
        ("Group:Default/Team-X", EntityRef("group", "default", "team-x")),
        ("user:jane", EntityRef("user", "default", "jane")),
        ("user:ops/jane.doe", EntityRef("user", "ops", "jane.doe")),
    ],
)
def test_entity_references_parse_in_every_form_case_insensitively(text, expected):
    assert parse_entity_ref(text, default_kind="group") == expected


def test_a_reference_without_kind_and_no_default_is_refused():
    with pytest.raises(InvalidInput, match="no kind"):
        parse_entity_ref("payments", field="depends_on")


@pytest.mark.parametrize("text", ["", "group:", "group:bad name", "user:-x", "group:a/b/c d"])
def test_malformed_references_are_refused(text):
    with pytest.raises(InvalidInput):
        parse_entity_ref(text, default_kind="group")


@pytest.mark.parametrize("text", ["http://[::1/a/b", "https://[::1/acme/ledger", "http://[zz]/acme/ledger",
                                  "ssh://git@[::1/acme/ledger.git", "https://github\uff03com/acme/ledger"])
def test_urls_urllib_cannot_split_are_refused_naming_the_field(text):
    # urlsplit() raises ValueError for each (a bad [IPv6] host; a host NFKC turns into '#'): it was a 500.
    with pytest.raises(InvalidInput) as caught:
        normalize_repository(text, field="repo")
    assert list(caught.value.errors) == ["repo"]
    assert "not a well-formed URL" in caught.value.errors["repo"][0]


@given(st.sampled_from(["http://", "https://", "ssh://git@", "git://", "ftp://", ""]),
       st.text(alphabet=st.sampled_from("[]:@/.#?%-_ aZ9\uff03\u2100\ufe5f"), max_size=30))
def test_any_repository_reference_is_a_key_or_a_refusal_naming_the_field(prefix, rest):
    try:
        key = normalize_repository(prefix + rest, field="repo")
    except InvalidInput as refused:
        assert list(refused.errors) == ["repo"]
    else:
        assert key == key.lower() and key.count("/") >= 2


@pytest.mark.parametrize("name", ["payments\n", "payments\n\n", "a" * 64, "-x", "x-", "a..b"])
def test_names_are_checked_whole_not_up_to_a_trailing_newline(name):
    # `$` matches before a final newline: the formats are matched in full.
    assert not is_valid_name(name)


@pytest.mark.django_db
@pytest.mark.parametrize(("create", "value"), [("service", "ledger\n"), ("team", "payments\n")])
def test_a_slug_with_a_trailing_newline_is_refused_naming_slug_in_words(create, value):
    from services.catalog import people, writes
    from tests.factories import TeamFactory

    TeamFactory(slug="owners")
    with pytest.raises(InvalidInput) as caught:
        if create == "service":
            writes.service_create(actor=None, slug=value, owner="owners")
        else:
            people.team_create(actor=None, slug=value)
    assert list(caught.value.errors) == ["slug"]
    assert caught.value.errors["slug"][0].startswith("1 to 63 characters: ")
