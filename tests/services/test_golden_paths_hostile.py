"""Every input of every golden path in scaffolds/, given hostile values: refused naming the field,
or rendered as inert text that keeps every generated file valid."""

from __future__ import annotations

import json

import pytest
import yaml

from services.errors import InvalidInput
from services.scaffolder import templates

HOSTILE = [
    "{{ 7*7 }}", "{% raw %}x{% endraw %}", "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "${{ secrets.GITHUB_TOKEN }}", "'; rm -rf / #", '"; import os; os.system("id")  #', "key: value\n- [list]",
    "a: b # c", "---\nkind: Secret", "\\", "\x00", "\x1b[31mred", "\u202eevil", "../../../etc/passwd", "/etc/passwd",
    "C:\\Windows", "<script>alert(1)</script>", "ü" * 50, "a" * 10_000, "", " ", "   leading", "emoji 🚀",
    "line\u2028separator",
]


def all_templates():
    return templates.template_list()


def base_inputs(template):
    return {spec.name: (spec.default if spec.name != templates.NAME_INPUT else "safe-name")
            for spec in template.inputs}


def check_files(files: dict[str, str]) -> None:
    for path, text in files.items():
        assert not path.startswith("/") and ".." not in path.split("/"), path
        if path.endswith((".yaml", ".yml")):
            list(yaml.safe_load_all(text))
        elif path.endswith(".json"):
            json.loads(text)
        elif path.endswith(".py"):
            compile(text, path, "exec")


def test_there_are_at_least_two_golden_paths_of_different_kinds():
    kinds = {t.metadata.get("type") or t.name for t in all_templates()}
    assert {"python-service", "python-worker"} <= {t.name for t in all_templates()}
    assert len(kinds) >= 2


@pytest.mark.parametrize("template", all_templates(), ids=lambda t: t.name)
@pytest.mark.parametrize("value", HOSTILE)
def test_every_string_input_refuses_or_neutralises_hostile_values(template, value):
    baseline = templates.scaffold_render(
        template, templates.inputs_validate(template, base_inputs(template)),
        portal=templates.portal_values(template, owner="payments"))
    for spec in template.inputs:
        inputs = {**base_inputs(template), spec.name: value}
        try:
            values = templates.inputs_validate(template, inputs)
        except InvalidInput as error:
            assert f"inputs.{spec.name}" in error.errors
            continue
        assert spec.type == "string", f"{spec.name} accepted {value!r}"
        files = templates.scaffold_render(template, values,
                                            portal=templates.portal_values(template, owner="payments"))
        assert set(files) == set(baseline)  # no value adds, removes or moves a file
        check_files(files)
        joined = "\n".join(files.values())
        assert joined.count("49") == "\n".join(baseline.values()).count("49") + value.count("49")
        assert "uid=" not in joined


@pytest.mark.parametrize("template", all_templates(), ids=lambda t: t.name)
def test_descriptions_survive_exactly_into_the_descriptor(template):
    value = "Keeps {{ 7*7 }} \"books\": - # ${{ x }} 🚀 'quoted'"
    values = templates.inputs_validate(template, {**base_inputs(template), "description": value})
    files = templates.scaffold_render(template, values, portal=templates.portal_values(template, owner="payments"))
    assert yaml.safe_load(files["catalog-info.yaml"])["metadata"]["description"] == value
    assert json.loads(files[".slipway/provenance.json"])["inputs"]["description"] == value
