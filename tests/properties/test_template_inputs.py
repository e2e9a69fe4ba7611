"""Every input of every golden path in scaffolds/, given arbitrary values: refused naming the input, or
rendered as inert data — no file outside the render directory, nothing executed, the value kept as given."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from services.errors import InvalidInput
from services.scaffolder import templates
from tests.hypothesis_profiles import examples
from tests.properties.strategies import PATH_FRAGMENTS, hostile_text, hostile_value

pytestmark = pytest.mark.django_db  # portal_values reads settings only; the mark keeps the DB guard quiet

TEMPLATES = templates.template_list()


def _payloads(canary: Path) -> list[str]:
    """Template and shell injections that would create `canary` if anything evaluated them."""
    return [
        f"{{{{ cycler.__init__.__globals__.os.system('touch {canary}') }}}}",
        f"{{{{ self._TemplateReference__context.cycler.__init__.__globals__.os.popen('touch {canary}').read() }}}}",
        f"{{% set x = cycler.__init__.__globals__.os.system('touch {canary}') %}}",
        f"{{{{ ''.__class__.__mro__[1].__subclasses__() }}}}{{{{ lipsum.__globals__['os'].system('touch {canary}') }}}}",
        f"$(touch {canary})", f"`touch {canary}`", f"'; touch {canary} #",
        f'{{{{ cookiecutter.update({{"x": 1}}) }}}}{{% include "{canary}" %}}',
    ]


def _base(template: templates.Template) -> dict[str, Any]:
    return {spec.name: ("safe-name" if spec.name == templates.NAME_INPUT else spec.default)
            for spec in template.inputs}


def _write_inside(root: Path, files: dict[str, str]) -> None:
    """Write rendered files as a checkout would, refusing any path that resolves outside `root`."""
    resolved_root = root.resolve()
    for relative, text in files.items():
        target = (root / relative).resolve()
        assert target.is_relative_to(resolved_root), relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.name)
def test_every_input_is_refused_or_rendered_as_inert_data(template, tmp_path):
    canary = tmp_path / "canary"
    portal = templates.portal_values(template, owner="payments")
    names = [spec.name for spec in template.inputs]

    @settings(max_examples=examples(ci=40))
    @given(name=st.sampled_from(names), value=st.one_of(hostile_value(), st.sampled_from(_payloads(canary))))
    @example(name="description", value=_payloads(canary)[0])
    @example(name="description", value="../../../../tmp/x")
    @example(name=templates.NAME_INPUT, value="../escape")
    def check(name: str, value: Any) -> None:
        try:
            values = templates.inputs_validate(template, {**_base(template), name: value})
        except InvalidInput as refused:
            assert f"inputs.{name}" in refused.errors
            return
        assert values[name] == value  # accepted values are kept exactly, never rendered
        files = templates.scaffold_render(template, values, portal=portal)
        out = tmp_path / "render" / uuid.uuid4().hex
        _write_inside(out, files)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["render"]  # nothing beside the render folder
        assert not canary.exists()
        for path in files:
            assert not path.startswith(("/", "~")) and ".." not in path.split("/"), path
        provenance = files.get(".slipway/provenance.json")
        if provenance is not None:
            assert json.loads(provenance)["inputs"][name] == value

    check()


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.name)
def test_unknown_and_private_input_names_are_refused_by_name(template):
    @settings(max_examples=examples(ci=25))
    @given(key=st.one_of(hostile_text(), st.sampled_from(PATH_FRAGMENTS + ["_slipway", "_extensions", "owner",
                                                                          "__prompts__", "github_org"])),
           value=hostile_value())
    def check(key: str, value: Any) -> None:
        if template.input(key) is not None:
            return
        with pytest.raises(InvalidInput) as refused:
            templates.inputs_validate(template, {**_base(template), key: value})
        assert f"inputs.{key}" in refused.value.errors

    check()


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.name)
def test_inputs_that_are_not_an_object_are_refused(template):
    @settings(max_examples=examples(ci=15))
    @given(raw=hostile_value().filter(lambda v: not isinstance(v, dict)))
    def check(raw: Any) -> None:
        with pytest.raises(InvalidInput) as refused:
            templates.inputs_validate(template, raw)
        assert "inputs" in refused.value.errors

    check()


def test_the_canary_payload_is_live_outside_the_sandbox(tmp_path):
    """The injection above really runs code when a template engine evaluates it (so its absence means
    something): plain Jinja, as cookiecutter uses it, creates the canary."""
    from jinja2 import Environment

    canary = tmp_path / "canary"
    Environment().from_string(_payloads(canary)[0]).render()  # noqa: S701 - the unsafe engine, on purpose
    assert canary.exists()
