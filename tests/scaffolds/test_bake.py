"""The golden-path templates under scaffolds/: their metadata, what they generate, and that the
generated projects pass their own linter and tests in a virtual environment of their own.

Baking uses cookiecutter itself (the templates must work with its command line as is). Rendering
with user values that look like Jinja goes through `generate_files` with a ready context, as the
portal does: cookiecutter's prompt step would evaluate such values as templates (pinned below).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path

import pytest
import yaml
from cookiecutter.generate import generate_files
from cookiecutter.main import cookiecutter
from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

SCAFFOLDS = Path(__file__).resolve().parents[2] / "scaffolds"
TEMPLATES = ("python-service", "python-worker")
PROJECT_DIR_NAME = "{{cookiecutter.service_name}}"

COMMON_FILES = (
    "README.md",
    "Dockerfile",
    ".dockerignore",
    ".gitignore",
    "CODEOWNERS",
    "catalog-info.yaml",
    "docs/runbook.md",
    ".github/workflows/ci.yml",
    ".slipway/provenance.json",
    "pyproject.toml",
    "requirements.txt",
    "requirements-dev.txt",
)
CODE_FILES = {
    "python-service": (
        "app/__init__.py",
        "app/__main__.py",
        "app/api.py",
        "app/health.py",
        "app/config.py",
        "app/healthcheck.py",
        "tests/conftest.py",
        "tests/test_health.py",
        "tests/test_api.py",
    ),
    "python-worker": (
        "worker/__init__.py",
        "worker/__main__.py",
        "worker/handlers.py",
        "worker/queue.py",
        "worker/runner.py",
        "worker/config.py",
        "worker/healthcheck.py",
        "tests/test_handlers.py",
        "tests/test_runner.py",
        "tests/test_shutdown.py",
    ),
}
SPEC_TYPE = {"python-service": "service", "python-worker": "worker"}

# Ordinary values, as the portal would pass them after validation (integers as integers).
ORDINARY = {
    "python-service": {
        "service_name": "ledger-api",
        "description": "Keeps the books.",
        "owner": "payments",
        "github_org": "acme",
        "lifecycle": "production",
        "python_version": "3.12",
        "port": 9090,
    },
    "python-worker": {
        "service_name": "ledger-worker",
        "description": "Closes the books every night.",
        "owner": "payments",
        "github_org": "acme",
        "lifecycle": "experimental",
        "python_version": "3.11",
        "poll_interval_seconds": 2,
    },
}

# Everything that could break out of a YAML, JSON or Python string, or be evaluated as Jinja.
HOSTILE_DESCRIPTION = (
    'He said "hi" & it\'s <b>bold</b>\n'
    "key: value\n- item # not a comment\n"
    "{{ 7*7 }} {% raw %}x{% endraw %} {# c #} ${{ secrets.TOKEN }}\n"
    "back\\slash\ttab ---\n... café ✓ 日本語 😀 \u2028 \x7f end "
)
assert len(HOSTILE_DESCRIPTION) <= 200  # within the templates' declared max_length

INPUT_TYPES = {"string", "integer", "boolean", "choice"}
DECLARED_RULES = {
    "type",
    "required",
    "pattern",
    "pattern_help",
    "min_length",
    "max_length",
    "minimum",
    "maximum",
    "help",
    "source",
    "multiline",
}


def config_of(name: str) -> dict:
    return json.loads((SCAFFOLDS / name / "cookiecutter.json").read_text(encoding="utf-8"))


def inputs_of(name: str) -> list[str]:
    return [key for key in config_of(name) if not key.startswith("_")]


@pytest.fixture(scope="session")
def cookiecutter_config(tmp_path_factory) -> str:
    """A user config that keeps cookiecutter's replay files and clones out of the home directory."""
    root = tmp_path_factory.mktemp("cookiecutter-home")
    path = root / "config.yaml"
    path.write_text(
        yaml.safe_dump({"replay_dir": str(root / "replay"), "cookiecutters_dir": str(root / "clones")})
    )
    return str(path)


def bake(name: str, output_dir: Path, config_file: str, **extra) -> Path:
    """Generate a project with cookiecutter's own API, as its command line does."""
    project = cookiecutter(
        str(SCAFFOLDS / name),
        no_input=True,
        extra_context=extra,
        output_dir=str(output_dir),
        config_file=config_file,
    )
    return Path(project)


def context_for(name: str, values: dict) -> OrderedDict:
    """The context the portal builds: defaults (first choice), then the validated values as data."""
    context = OrderedDict()
    for key, default in config_of(name).items():
        if key == "__prompts__":
            continue
        context[key] = default[0] if isinstance(default, list) and not key.startswith("_") else default
    context.update(values)
    return context


def read_text_exact(path: Path) -> str:
    """The file's text with its line endings untouched (read_text would translate a lone \\r)."""
    return path.read_bytes().decode("utf-8")


def load_yaml(path: Path):
    text = read_text_exact(path)
    document = yaml.safe_load(text)
    if getattr(yaml, "CSafeLoader", None) is not None:  # libyaml is stricter about escapes
        assert yaml.load(text, Loader=yaml.CSafeLoader) == document
    return document


def workflow_triggers(workflow: dict) -> dict:
    # YAML 1.1 (PyYAML) reads the bare key `on` as the boolean True; GitHub reads it as "on".
    return workflow.get("on", workflow.get(True))


# ---------------------------------------------------------------------------------------------
# The templates themselves.


@pytest.mark.parametrize("name", TEMPLATES)
def test_cookiecutter_json_declares_every_input_for_the_portal(name):
    config = config_of(name)
    inputs = inputs_of(name)
    meta = config["_slipway"]

    assert inputs[:3] == ["service_name", "description", "owner"]
    assert {"lifecycle", "python_version", "github_org"} <= set(inputs)
    assert config["lifecycle"] == ["experimental", "production"]
    assert config["python_version"] == ["3.12", "3.11"]
    assert meta["title"] and meta["description"] and meta["tags"]
    assert "version" not in meta  # the portal computes it from the template's content
    assert set(config["__prompts__"]) == set(inputs)
    assert all(isinstance(label, str) and label for label in config["__prompts__"].values())
    assert set(meta["inputs"]) == set(inputs)
    for key in inputs:
        rules, default = meta["inputs"][key], config[key]
        assert set(rules) <= DECLARED_RULES, key
        assert rules["type"] in INPUT_TYPES
        assert rules["help"], key
        assert (rules["type"] == "choice") == isinstance(default, list), key
        assert not re.search(r"\{\{|\{%", json.dumps(default)), f"{key}: the portal takes defaults literally"
        if rules["type"] == "integer":
            assert isinstance(default, int)
            assert rules["minimum"] <= default <= rules["maximum"]
        if rules["type"] == "string":
            assert rules.get("min_length", 0) <= len(default) <= rules["max_length"]
            if "pattern" in rules:
                assert re.fullmatch(rules["pattern"], default), key
                # People are told the rule in the template's words, never the regular expression.
                assert rules.get("pattern_help") and "^" not in rules["pattern_help"], key
    assert meta["inputs"]["service_name"]["pattern"] == "^[a-z][a-z0-9-]{1,38}[a-z0-9]$"
    assert meta["inputs"]["description"]["max_length"] == 200
    # Nothing that makes cookiecutter load code or skip rendering.
    assert not {"_extensions", "_jinja2_env_vars", "_copy_without_render", "_new_lines"} & set(config)
    assert set(config["_slipway_provenance"]) == {"template_version", "generator", "run_id"}


@pytest.mark.parametrize("name", TEMPLATES)
def test_environments_and_their_protection(name):
    environments = config_of(name)["_slipway"]["environments"]
    names = [env["name"] for env in environments]

    if name == "python-service":
        assert names == ["dev", "staging", "production"]
    else:
        assert names in (["staging", "production"], ["dev", "staging", "production"])
    for env in environments:
        assert set(env) == {"name", "wait_timer", "reviewers", "branch_policy"}
        assert isinstance(env["wait_timer"], int) and env["wait_timer"] >= 0
        assert isinstance(env["reviewers"], list)
    production = environments[-1]
    assert production["reviewers"] == ["owner"]
    assert production["branch_policy"] == "main"
    assert production["wait_timer"] > 0


@pytest.mark.parametrize("name", TEMPLATES)
def test_template_tree_has_no_hooks_and_no_templated_paths_but_the_project_folder(name):
    root = SCAFFOLDS / name
    assert not (root / "hooks").exists()
    assert [p.name for p in root.iterdir() if p.is_dir()] == [PROJECT_DIR_NAME]
    for path in (root / PROJECT_DIR_NAME).rglob("*"):
        relative = path.relative_to(root / PROJECT_DIR_NAME).as_posix()
        assert not path.is_symlink(), relative
        assert not re.search(r"\{\{|\{%|\{#|\}\}", relative), relative
        assert "__pycache__" not in relative and ".pytest_cache" not in relative, relative
        if path.is_file():
            text = path.read_bytes().decode("utf-8")
            assert "${{" not in text, f"{relative}: GitHub expressions collide with Jinja"


# ---------------------------------------------------------------------------------------------
# Baking with ordinary values.


@pytest.mark.parametrize("name", TEMPLATES)
def test_bake_generates_every_required_file(name, tmp_path, cookiecutter_config):
    values = ORDINARY[name]
    project = bake(name, tmp_path, cookiecutter_config, **values)

    assert project.name == values["service_name"]
    for relative in (*COMMON_FILES, *CODE_FILES[name]):
        assert (project / relative).is_file(), relative
    for path in project.rglob("*.py"):
        compile(read_text_exact(path), str(path), "exec")  # valid Python, whatever the values


@pytest.mark.parametrize("name", TEMPLATES)
def test_catalog_info_is_a_backstage_component(name, tmp_path, cookiecutter_config):
    values = ORDINARY[name]
    project = bake(name, tmp_path, cookiecutter_config, **values)

    descriptor = load_yaml(project / "catalog-info.yaml")
    assert descriptor["apiVersion"] == "backstage.io/v1alpha1"
    assert descriptor["kind"] == "Component"
    assert descriptor["metadata"]["name"] == values["service_name"]
    assert descriptor["metadata"]["description"] == values["description"]
    assert (
        descriptor["metadata"]["annotations"]["github.com/project-slug"] == f"acme/{values['service_name']}"
    )
    assert descriptor["spec"] == {
        "type": SPEC_TYPE[name],
        "lifecycle": values["lifecycle"],
        "owner": "group:default/payments",
    }


@pytest.mark.parametrize("name", TEMPLATES)
def test_ci_workflow_lints_and_tests_on_push_and_pull_request(name, tmp_path, cookiecutter_config):
    values = ORDINARY[name]
    project = bake(name, tmp_path, cookiecutter_config, **values)

    workflow = load_yaml(project / ".github/workflows/ci.yml")
    triggers = workflow_triggers(workflow)
    assert "push" in triggers and "pull_request" in triggers
    steps = workflow["jobs"]["test"]["steps"]
    uses = [step.get("uses", "") for step in steps]
    runs = "\n".join(step.get("run", "") for step in steps)
    assert any(u.startswith("actions/checkout@") for u in uses)
    [setup] = [step for step in steps if step.get("uses", "").startswith("actions/setup-python@")]
    assert setup["with"]["python-version"] == values["python_version"]
    assert "pip install --requirement requirements-dev.txt" in runs
    assert "ruff check" in runs
    assert "pytest" in runs
    assert runs.index("pip install") < runs.index("ruff check") < runs.index("pytest")


@pytest.mark.parametrize("name", TEMPLATES)
def test_ownership_runbook_readme_and_dockerfile(name, tmp_path, cookiecutter_config):
    values = ORDINARY[name]
    project = bake(name, tmp_path, cookiecutter_config, **values)
    service = values["service_name"]

    codeowners = [
        line for line in (project / "CODEOWNERS").read_text().splitlines() if not line.startswith("#")
    ]
    assert codeowners == ["* @acme/payments"]
    runbook = (project / "docs/runbook.md").read_text()
    assert runbook.startswith(f"# Runbook: {service}\n")
    for heading in ("## Overview", "## Dashboards", "## Alerts", "## Common procedures", "## Escalation"):
        assert heading in runbook
    assert "`payments`" in runbook and values["description"] in runbook
    readme = (project / "README.md").read_text()
    assert readme.startswith(f"# {service}\n\n{values['description']}\n")
    dockerfile = (project / "Dockerfile").read_text()
    assert f"ARG PYTHON_VERSION={values['python_version']}\n" in dockerfile
    assert "FROM python:${PYTHON_VERSION}-slim" in dockerfile
    assert re.search(r"^USER 10001:10001$", dockerfile, re.M)
    assert re.search(r"^HEALTHCHECK ", dockerfile, re.M)
    if name == "python-service":
        assert f"EXPOSE {values['port']}\n" in dockerfile
        assert f"DEFAULT_PORT = {values['port']}\n" in (project / "app/config.py").read_text()
    else:
        assert (
            f"DEFAULT_POLL_INTERVAL = {values['poll_interval_seconds']}\n"
            in (project / "worker/config.py").read_text()
        )


@pytest.mark.parametrize("name", TEMPLATES)
def test_provenance_records_template_and_inputs_with_cli_defaults(name, tmp_path, cookiecutter_config):
    values = ORDINARY[name]
    project = bake(name, tmp_path, cookiecutter_config, **values)

    provenance = json.loads((project / ".slipway/provenance.json").read_text())
    assert provenance == {
        "format": 1,
        "template": name,
        "template_version": "unversioned",
        "generator": "cookiecutter-cli",
        "run_id": None,
        "inputs": values,  # every input, integers as integers
    }


@pytest.mark.parametrize("name", TEMPLATES)
def test_provenance_takes_the_portals_values(name, tmp_path, cookiecutter_config):
    portal = {"template_version": "0123456789ab", "generator": "slipway", "run_id": "5f0c6d1e-run"}
    project = bake(name, tmp_path, cookiecutter_config, _slipway_provenance=portal, **ORDINARY[name])

    provenance = json.loads((project / ".slipway/provenance.json").read_text())
    assert {key: provenance[key] for key in portal} == portal
    assert provenance["inputs"] == ORDINARY[name]


def test_the_command_line_bakes_both_templates(tmp_path, cookiecutter_config):
    for name in TEMPLATES:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "cookiecutter",
                "--no-input",
                "--config-file",
                cookiecutter_config,
                "--output-dir",
                str(tmp_path),
                str(SCAFFOLDS / name),
                "service_name=from-the-cli",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        project = tmp_path / "from-the-cli"
        assert load_yaml(project / "catalog-info.yaml")["metadata"]["name"] == "from-the-cli"
        assert json.loads((project / ".slipway/provenance.json").read_text())["template"] == name
        shutil.rmtree(project)


# ---------------------------------------------------------------------------------------------
# Values are data: quoting holds whatever the description holds.


def assert_description_is_data(project: Path, description: str) -> None:
    descriptor = load_yaml(project / "catalog-info.yaml")
    assert descriptor["metadata"]["description"] == description
    assert descriptor["spec"]["owner"] == "group:default/payments"
    provenance = json.loads(read_text_exact(project / ".slipway/provenance.json"))
    assert provenance["inputs"]["description"] == description
    assert description in read_text_exact(project / "README.md")  # Markdown: plain text, verbatim
    assert description in read_text_exact(project / "docs/runbook.md")
    assert workflow_triggers(load_yaml(project / ".github/workflows/ci.yml"))
    for path in project.rglob("*.py"):
        compile(read_text_exact(path), str(path), "exec")


@pytest.mark.parametrize("name", TEMPLATES)
def test_a_hostile_description_renders_as_data_in_the_portals_way(name, tmp_path):
    """The portal passes validated values as a ready context (no prompt step, so no evaluation)."""
    values = {**ORDINARY[name], "description": HOSTILE_DESCRIPTION}
    project = generate_files(
        repo_dir=str(SCAFFOLDS / name),
        context={"cookiecutter": context_for(name, values)},
        output_dir=str(tmp_path),
        accept_hooks=False,
    )
    assert_description_is_data(Path(project), HOSTILE_DESCRIPTION)


def jinja_literal(value: str) -> str:
    """A Jinja expression that renders to exactly `value` (cookiecutter renders extra_context once)."""
    return "{{ " + json.dumps(value, ensure_ascii=False) + " }}"


@pytest.mark.parametrize("name", TEMPLATES)
def test_a_hostile_description_renders_as_data_through_cookiecutter(name, tmp_path, cookiecutter_config):
    values = {**ORDINARY[name], "description": jinja_literal(HOSTILE_DESCRIPTION)}
    project = bake(name, tmp_path, cookiecutter_config, **values)

    assert_description_is_data(project, HOSTILE_DESCRIPTION)


def test_cookiecutter_evaluates_extra_context_values_as_jinja(tmp_path, cookiecutter_config):
    """Pinned cookiecutter behaviour, the reason the portal never hands it raw user values."""
    project = bake("python-service", tmp_path, cookiecutter_config, description="{{ 7*7 }}")

    assert load_yaml(project / "catalog-info.yaml")["metadata"]["description"] == "49"


def sandbox_render(name: str, context: dict) -> dict[str, str]:
    """Render the template with Jinja's sandbox and no cookiecutter extension, as the portal may."""
    env = SandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=True, autoescape=False)
    root = SCAFFOLDS / name / PROJECT_DIR_NAME
    files = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = env.from_string(path.relative_to(root).as_posix()).render(cookiecutter=context)
        files[relative] = env.from_string(read_text_exact(path)).render(cookiecutter=context)
    return files


@pytest.mark.parametrize("description", ["Keeps the books.", HOSTILE_DESCRIPTION])
@pytest.mark.parametrize("name", TEMPLATES)
def test_the_sandbox_renders_exactly_what_cookiecutter_renders(name, description, tmp_path):
    values = {**ORDINARY[name], "description": description}
    context = context_for(name, values)
    project = Path(
        generate_files(
            repo_dir=str(SCAFFOLDS / name),
            context={"cookiecutter": context},
            output_dir=str(tmp_path),
            accept_hooks=False,
        )
    )

    expected = {
        p.relative_to(project).as_posix(): read_text_exact(p) for p in project.rglob("*") if p.is_file()
    }
    assert sandbox_render(name, context) == expected


# ---------------------------------------------------------------------------------------------
# The generated projects pass their own lint and tests, in a virtual environment of their own.


# Variables of this test run that would leak into the generated project's tools.
LEAKY_VARIABLES = frozenset(
    {
        "PYTHONPATH",
        "PYTHONHOME",
        "PYTHONSTARTUP",
        "VIRTUAL_ENV",
        "PYTEST_ADDOPTS",
        "PYTEST_PLUGINS",
        "DJANGO_SETTINGS_MODULE",
        "PIP_REQUIRE_VIRTUALENV",
    }
)


def clean_env(venv: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in LEAKY_VARIABLES}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def run(
    command: list[str], cwd: Path, env: dict[str, str], timeout: int = 300
) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, (
        f"{' '.join(command)} exited {result.returncode}\n"
        f"--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-4000:]}"
    )
    return result


def outer_pip_can_target() -> bool:
    """pip >= 22.3 installs into another interpreter (`--python`): no pip needed in the new venv."""
    if importlib.util.find_spec("pip") is None:
        return False
    import pip

    return tuple(int(part) for part in pip.__version__.split(".")[:2]) >= (22, 3)


@pytest.fixture(scope="module", params=TEMPLATES)
def installed_project(request, tmp_path_factory, cookiecutter_config):
    """A baked project and an isolated venv (no system site-packages) with its requirements."""
    name = request.param
    root = tmp_path_factory.mktemp(name)
    project = bake(name, root, cookiecutter_config, **ORDINARY[name])
    venv = root / "venv"
    python = venv / "bin" / "python"
    env = clean_env(venv)
    requirements = ["install", "--quiet", "--requirement", "requirements-dev.txt"]
    if outer_pip_can_target():
        run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=root, env=env)
        run([sys.executable, "-m", "pip", "--python", str(python), *requirements], cwd=project, env=env)
    else:
        run([sys.executable, "-m", "venv", str(venv)], cwd=root, env=env)
        run([str(python), "-m", "pip", *requirements], cwd=project, env=env)
    # Isolated: the venv sees its own packages, not this test run's (Django is not there).
    run(
        [str(python), "-c", "import flask" if name == "python-service" else "import pytest"],
        cwd=project,
        env=env,
    )
    probe = subprocess.run([str(python), "-c", "import django"], cwd=project, env=env, capture_output=True)
    assert probe.returncode != 0, "the generated project's venv must not see the portal's packages"
    return name, project, venv, env


@pytest.mark.slow
def test_generated_project_passes_its_linter(installed_project):
    _, project, venv, env = installed_project
    run([str(venv / "bin" / "ruff"), "check", "."], cwd=project, env=env)


@pytest.mark.slow
def test_generated_project_passes_its_tests(installed_project):
    _, project, venv, env = installed_project
    result = run(
        [str(venv / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project, env=env
    )
    assert re.search(r"\b\d+ passed\b", result.stdout)
    assert " failed" not in result.stdout and " error" not in result.stdout
