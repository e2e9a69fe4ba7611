"""Backstage's $text/$json/$yaml placeholders in an API definition: where they point, and the bounded
definition made of what was read there (services/descriptors/placeholders.py)."""

from __future__ import annotations

import json

import pytest
import yaml

from services.descriptors.parse import MAX_DOCUMENT_ALIASES
from services.descriptors.placeholders import (
    MAX_DEPTH,
    Placeholder,
    PlaceholderError,
    definition_text,
    resolve_placeholder,
)

DESCRIPTOR = "services/payments/catalog-info.yaml"
BLOB = "https://github.com/acme/payments/blob/main/catalog-info.yaml"


def reason(call) -> str:
    with pytest.raises(PlaceholderError) as caught:
        call()
    return caught.value.reason


# -- where a placeholder points -------------------------------------------------------------------


@pytest.mark.parametrize(("written", "path"), [
    ("./openapi.yaml", "services/payments/openapi.yaml"),
    ("openapi.yaml", "services/payments/openapi.yaml"),
    ("../shared/api.graphql", "services/shared/api.graphql"),
    ("/specs/payments.yaml", "specs/payments.yaml"),
    ("specs/./v2/../v1/api.json", "services/payments/specs/v1/api.json"),
])
def test_a_relative_path_is_a_file_of_the_same_repository(written, path):
    assert resolve_placeholder({"$text": written}, base_url=DESCRIPTOR) == Placeholder(
        kind="text", written=written, path=path)


def test_a_descriptor_at_the_root_resolves_from_the_root():
    assert resolve_placeholder({"$yaml": "./api.yaml"}, base_url="catalog-info.yaml").path == "api.yaml"


@pytest.mark.parametrize("written", ["../../../etc/passwd", "/../secrets.yaml", "../../.."])
def test_a_relative_path_never_leaves_the_repository(written):
    assert "leaves the repository" in reason(lambda: resolve_placeholder({"$text": written}, base_url=DESCRIPTOR))


def test_a_folder_is_not_a_definition():
    assert "names a folder" in reason(lambda: resolve_placeholder({"$text": "specs/"}, base_url=DESCRIPTOR))
    assert "names a folder" in reason(lambda: resolve_placeholder({"$text": "/"}, base_url=DESCRIPTOR))


@pytest.mark.parametrize("written", ["https://specs.example.com/payments.json", "http://specs.example.com/a.yaml"])
def test_an_absolute_url_is_kept_as_it_is(written):
    assert resolve_placeholder({"$json": written}, base_url=DESCRIPTOR) == Placeholder(
        kind="json", written=written, url=written)


@pytest.mark.parametrize(("written", "url"), [
    ("./openapi.yaml", "https://github.com/acme/payments/blob/main/openapi.yaml"),
    ("docs/api.yaml", "https://github.com/acme/payments/blob/main/docs/api.yaml"),
    ("/specs/api.yaml", "https://github.com/acme/payments/blob/main/specs/api.yaml"),
])
def test_a_relative_path_against_a_descriptor_url_resolves_as_backstage_does(written, url):
    assert resolve_placeholder({"$text": written}, base_url=BLOB).url == url


def test_the_descriptor_urls_query_is_kept_as_backstage_keeps_it():
    base = "https://gitlab.example.com/api/v4/projects/7/repository/files/catalog-info.yaml/raw?ref=main"
    assert resolve_placeholder({"$text": "api.yaml"}, base_url=base).url == \
        "https://gitlab.example.com/api/v4/projects/7/repository/files/catalog-info.yaml/api.yaml?ref=main"


@pytest.mark.parametrize("value", [
    "openapi: 3.0.0\ninfo: {title: x}",  # written inline: the usual case
    {"openapi": "3.0.0"},
    None,
    42,
])
def test_a_value_without_a_dollar_key_is_no_placeholder(value):
    assert resolve_placeholder(value, base_url=DESCRIPTOR) is None


@pytest.mark.parametrize(("value", "expected"), [
    ({"$text": 42}, "$text expects a string (an absolute URL or a relative path), not int 42"),
    ({"$yaml": ["a.yaml"]}, "$yaml expects a string (an absolute URL or a relative path), not list ['a.yaml']"),
    ({"$text": "  "}, "$text is empty: give an absolute URL or a relative path"),
    ({"$foo": "./x.yaml"}, "unknown placeholder '$foo': Backstage knows $text, $json and $yaml"),
    ({"$ref": "#/definitions/node"}, "unknown placeholder '$ref': Backstage knows $text, $json and $yaml"),
    ({"$text": "./a.yaml", "$json": "./b.json"},
     "a placeholder is a mapping of exactly one key ($text, $json or $yaml); this one has 2: $text, $json"),
    ({"$text": "./a.yaml", "title": "A"},
     "a placeholder is a mapping of exactly one key ($text, $json or $yaml); this one has 2: $text, title"),
    ({"$text": "file:///etc/passwd"},
     "$text 'file:///etc/passwd': scheme 'file' is not followed (only https URLs and paths inside the repository)"),
    ({"$text": "specs\\api.yaml"}, "$text 'specs\\\\api.yaml' is not a path inside the repository (use /)"),
    ({"$text": "a\nb"}, "is not a URL or a path"),
])
def test_bad_placeholders_say_why(value, expected):
    assert expected in reason(lambda: resolve_placeholder(value, base_url=DESCRIPTOR))


# -- what was read, as the definition ----------------------------------------------------------------


def test_text_is_the_definition_as_it_is():
    assert definition_text("text", "type Query {\n  ping: String\n}\n", max_bytes=1000) == \
        "type Query {\n  ping: String\n}\n"


def test_json_is_parsed_and_written_out_again():
    written = definition_text("json", '{"openapi":"3.0.0","info":{"title":"Café"}}', max_bytes=1000)

    assert json.loads(written) == {"openapi": "3.0.0", "info": {"title": "Café"}}
    assert written.startswith('{\n  "openapi": "3.0.0"') and "Café" in written


def test_yaml_is_parsed_as_yaml_1_2_and_written_out_again():
    written = definition_text("yaml", "openapi: 3.0.0\ninfo:\n  title: Payments\n  x-beta: yes\n", max_bytes=1000)

    assert yaml.safe_load(written) == {"openapi": "3.0.0", "info": {"title": "Payments", "x-beta": "yes"}}


@pytest.mark.parametrize(("kind", "text", "expected"), [
    ("json", '{"openapi": ', "$json: not JSON: Expecting value at line 1, column 13"),
    ("json", "[" * 100 + "]" * 100, f"$json: nested more than {MAX_DEPTH} levels deep"),
    ("json", "[" * 100_000 + "]" * 100_000, f"$json: nested more than {MAX_DEPTH} levels deep"),
    ("yaml", "a: [", "$yaml: YAML syntax error"),
    ("yaml", "a: 1\n---\nb: 2\n", "$yaml: expected exactly one YAML document, found 2"),
    ("yaml", "", "$yaml: expected exactly one YAML document, found 0"),
    ("yaml", "a: !!python/object:os.system x\n", "could not determine a constructor"),
])
def test_bad_data_says_why(kind, text, expected):
    assert expected in reason(lambda: definition_text(kind, text, max_bytes=1_000_000))


def test_too_large_before_parsing():
    assert reason(lambda: definition_text("text", "é" * 600, max_bytes=1000)) == "$text: larger than 1,000 bytes"


def test_yaml_bomb_is_refused_by_the_descriptor_bounds():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]

    assert "refused" in reason(lambda: definition_text("yaml", "\n".join(lines) + "\n", max_bytes=1_000_000))


def test_aliases_to_a_long_string_cannot_multiply_the_definition():
    # Under every node and alias limit, but each alias to the string would be written out in full.
    text = "long: &s " + "x" * 50_000 + "\nmany: [" + ", ".join(["*s"] * (MAX_DOCUMENT_ALIASES - 1)) + "]\n"

    assert reason(lambda: definition_text("yaml", text, max_bytes=100_000)) == \
        "$yaml: written out, the definition would be larger than 200,000 bytes"


def test_aliases_to_a_mapping_are_written_as_aliases_again():
    text = "base: &b {type: string, format: uuid}\nid: *b\nowner: *b\n"

    written = definition_text("yaml", text, max_bytes=1000)

    assert yaml.safe_load(written) == {"base": {"type": "string", "format": "uuid"},
                                       "id": {"type": "string", "format": "uuid"},
                                       "owner": {"type": "string", "format": "uuid"}}
