"""Template registry, input validation and safe rendering: input is data, never code or paths."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from services.errors import InvalidInput, NotFound
from services.scaffolder import templates

MINI = Path(__file__).resolve().parent.parent / "data" / "scaffolds"


@pytest.fixture(autouse=True)
def _mini_templates(settings):
    settings.SLIPWAY_SCAFFOLDS_DIR = MINI


def valid(**overrides):
    return {"service_name": "ledger-api", "description": "Keeps the books", "lifecycle": "production",
            "port": 8080, **overrides}


def test_registry_lists_templates_with_metadata_version_and_schema():
    [template] = templates.template_list()
    assert (template.name, template.title) == ("mini", "Mini service")
    assert len(template.version) == 12
    schema = template.json_schema()
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == {"service_name", "description", "lifecycle", "port"}
    assert schema["properties"]["lifecycle"] == {"title": "Lifecycle", "type": "string",
                                                 "enum": ["experimental", "production"], "default": "experimental"}
    assert schema["properties"]["port"]["minimum"] == 1024
    assert schema["properties"]["service_name"]["pattern"].startswith("^[a-z]")
    assert "owner" not in schema["properties"]  # set by the portal from the run's owner
    assert schema["required"] == ["service_name", "lifecycle", "port"]


def test_unknown_template_is_not_found():
    for name in ("nope", "../mini", "mini/..", "", "MINI"):
        with pytest.raises(NotFound):
            templates.template_get(name)


def test_rendering_fills_values_as_text_and_derives_defaults():
    template = templates.template_get("mini")
    files = templates.scaffold_render(template, templates.inputs_validate(template, valid()),
                                       portal={"owner": "payments"})
    assert sorted(files) == [".github/workflows/ci.yml", "CODEOWNERS", "README.md", "app.py", "catalog-info.yaml",
                             "docs/runbook.md"]
    assert 'MODULE = "ledger_api"' in files["app.py"]
    assert files["CODEOWNERS"] == "* @payments\n"
    descriptor = yaml.safe_load(files["catalog-info.yaml"])
    assert descriptor["spec"]["owner"] == "group:default/payments"


HOSTILE = [
    "{{ 7*7 }}", "{% for x in range(3) %}x{% endfor %}", "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cookiecutter.__class__ }}", "${{ secrets.TOKEN }}", "'; rm -rf / #", '"; import os; os.system("id")  #',
    "key: value\n- list", "\x00", "\u202egnp.exe", "../../etc/passwd", "a" * 5000,
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_descriptions_are_rejected_or_rendered_as_inert_text(value):
    template = templates.template_get("mini")
    try:
        values = templates.inputs_validate(template, valid(description=value))
    except InvalidInput as error:
        assert "inputs.description" in error.errors
        return
    files = templates.scaffold_render(template, values, portal={"owner": "payments"})
    assert value in files["README.md"]  # verbatim: never evaluated
    assert "49" not in files["README.md"].replace(value, "")
    assert yaml.safe_load(files["catalog-info.yaml"])["metadata"]["description"] == value
    namespace: dict = {}
    exec(compile(files["app.py"], "app.py", "exec"), namespace)  # the generated module stays valid Python
    assert namespace["DESCRIPTION"] == value


@pytest.mark.parametrize("value", [*HOSTILE, "", "A", "Ledger", "ledger_api", "-ledger", "ledger-", "a" * 41,
                                   "ledger api", "ledger/api", "..", 42, None, ["ledger"], {"a": 1}])
def test_hostile_or_invalid_service_names_are_refused_naming_the_field(value):
    template = templates.template_get("mini")
    with pytest.raises(InvalidInput) as caught:
        templates.inputs_validate(template, valid(service_name=value))
    assert list(caught.value.errors) == ["inputs.service_name"]


@pytest.mark.parametrize(
    ("inputs", "field"),
    [
        ({"lifecycle": "{{ 7*7 }}"}, "inputs.lifecycle"),
        ({"lifecycle": ["production"]}, "inputs.lifecycle"),
        ({"port": "8080"}, "inputs.port"),
        ({"port": 80}, "inputs.port"),
        ({"port": True}, "inputs.port"),
        ({"port": 10**30}, "inputs.port"),
        ({"_slipway": {"environments": []}}, "inputs._slipway"),
        ({"__prompts__": {}}, "inputs.__prompts__"),
        ({"_copy_without_render": ["*"]}, "inputs._copy_without_render"),
        ({"_extensions": ["os.system"]}, "inputs._extensions"),
        ({"module_name": "x"}, "inputs.module_name"),
        ({"owner": "someone-else"}, "inputs.owner"),
        ({"colour": "red"}, "inputs.colour"),
    ],
)
def test_every_other_input_is_checked_and_private_keys_cannot_be_overridden(inputs, field):
    template = templates.template_get("mini")
    with pytest.raises(InvalidInput) as caught:
        templates.inputs_validate(template, valid(**inputs))
    assert field in caught.value.errors


@pytest.mark.parametrize("raw", [None, [], "inputs", 3])
def test_inputs_must_be_an_object(raw):
    with pytest.raises(InvalidInput) as caught:
        templates.inputs_validate(templates.template_get("mini"), raw)
    assert "inputs" in caught.value.errors


def test_a_template_whose_paths_would_leave_the_project_is_refused(tmp_path, settings):
    evil = tmp_path / "evil"
    (evil / "{{cookiecutter.service_name}}" / "{{cookiecutter.target}}").mkdir(parents=True)
    (evil / "{{cookiecutter.service_name}}" / "{{cookiecutter.target}}" / "x.txt").write_text("x")
    (evil / "cookiecutter.json").write_text(
        '{"service_name": "a", "target": "../../outside", "_slipway": {"inputs": {"service_name": {}}}}')
    settings.SLIPWAY_SCAFFOLDS_DIR = tmp_path
    template = templates.template_get("evil")
    with pytest.raises(templates.TemplateBroken, match="leaves the project"):
        templates.scaffold_render(template, {"service_name": "ab"}, portal={"owner": "t"})
    assert not (tmp_path.parent / "outside").exists()


def test_a_template_with_hooks_is_refused(tmp_path, settings):
    bad = tmp_path / "hooked"
    (bad / "hooks").mkdir(parents=True)
    (bad / "cookiecutter.json").write_text('{"service_name": "a", "_slipway": {"inputs": {"service_name": {}}}}')
    settings.SLIPWAY_SCAFFOLDS_DIR = tmp_path
    with pytest.raises(templates.TemplateBroken, match="hooks"):
        templates.template_get("hooked")


def test_the_sandbox_stops_unsafe_template_code(tmp_path, settings):
    bad = tmp_path / "sneaky"
    (bad / "{{cookiecutter.service_name}}").mkdir(parents=True)
    (bad / "{{cookiecutter.service_name}}" / "x.txt").write_text("{{ ''.__class__.__mro__[1].__subclasses__() }}")
    (bad / "cookiecutter.json").write_text('{"service_name": "a", "_slipway": {"inputs": {"service_name": {}}}}')
    settings.SLIPWAY_SCAFFOLDS_DIR = tmp_path
    with pytest.raises(templates.TemplateBroken, match="does not render"):
        templates.scaffold_render(templates.template_get("sneaky"), {"service_name": "ab"}, portal={})


def test_a_value_off_the_templates_pattern_is_told_in_the_templates_words():
    template = templates.template_get("mini")
    with pytest.raises(InvalidInput) as caught:
        templates.inputs_validate(template, valid(service_name="Ledger"))
    assert caught.value.errors == {
        "inputs.service_name": ["must be 3 to 40 lowercase letters, digits and hyphens, starting with a letter"]}
    assert template.input("service_name").pattern not in caught.value.detail


def test_a_template_without_words_for_its_pattern_gets_a_plain_sentence_not_the_expression():
    import dataclasses

    template = templates.template_get("mini")
    wordless = dataclasses.replace(template, inputs=tuple(
        dataclasses.replace(spec, pattern_help="") for spec in template.inputs))
    with pytest.raises(InvalidInput) as caught:
        templates.inputs_validate(wordless, valid(service_name="Ledger"))
    [message] = caught.value.errors["inputs.service_name"]
    assert message == "is not in the form this template expects for it (see the field's help)"
    assert "^" not in caught.value.detail and "match" not in caught.value.detail
