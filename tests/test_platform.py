"""The deployment as code: compose file, Kubernetes manifests, Dockerfile, Procfile and their docs agree."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
PLATFORM = ROOT / "platform"
KUBERNETES = PLATFORM / "kubernetes"
APP_SERVICES = ("migrate", "web", "worker", "beat")
REQUIRED_APP_ENV = (
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "SLIPWAY_CACHE_URL",
    "SECRET_KEY",
    "SLIPWAY_REQUIRE_SECRET_KEY",
    "ALLOWED_HOSTS",
)
# Read by gunicorn or Django's entry points, not by config/settings.py.
PROCESS_ENV = {"WEB_CONCURRENCY", "GUNICORN_CMD_ARGS", "FORWARDED_ALLOW_IPS", "DJANGO_SETTINGS_MODULE"}


def _settings_variables() -> set[str]:
    """Every environment variable config/settings.py reads, found in its source."""
    source = (ROOT / "config" / "settings.py").read_text()
    names = set(re.findall(r'env\.\w+\(\s*"([A-Z][A-Z0-9_]*)"', source))
    secrets = set(re.findall(r'secret\(\s*"([A-Z][A-Z0-9_]*)"', source))
    return names | secrets | {f"{name}_FILE" for name in secrets}


def _compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _manifests() -> list[tuple[Path, dict[str, Any]]]:
    documents = []
    for path in sorted(KUBERNETES.rglob("*.y*ml")):
        documents += [
            (path, document) for document in yaml.safe_load_all(path.read_text()) if document is not None
        ]
    return documents


def _workload(name: str) -> dict[str, Any]:
    return next(
        doc for _, doc in _manifests() if _name(doc) == name and doc["kind"] not in ("Service", "ConfigMap")
    )


def _name(document: dict[str, Any]) -> str:
    return document.get("metadata", {}).get("name", "")


def _containers(document: dict[str, Any]) -> list[dict[str, Any]]:
    return document.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])


def _procfile() -> dict[str, str]:
    entries = {}
    for line in (PLATFORM / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, command = line.partition(":")
            entries[name.strip()] = command.strip()
    return entries


def test_settings_variables_are_found():
    # Guards the regular expressions above: a test reading nothing would pass whatever the docs say.
    assert {
        "DATABASE_URL",
        "SECRET_KEY",
        "SECRET_KEY_FILE",
        "SLIPWAY_GITHUB_TOKEN_FILE",
        "DEBUG",
    } <= _settings_variables()


# docker-compose.yml ------------------------------------------------------------------------------


def test_compose_has_the_production_shape():
    services = _compose()["services"]

    assert {"postgres", "redis", *APP_SERVICES} <= set(services)
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    for name in APP_SERVICES:
        assert services[name]["build"]["dockerfile"] == "platform/Dockerfile", name
        assert (ROOT / services[name]["build"]["context"] / services[name]["build"]["dockerfile"]).is_file()


def test_compose_app_services_get_the_production_environment():
    services = _compose()["services"]

    for name in APP_SERVICES:
        environment = services[name]["environment"]
        assert set(REQUIRED_APP_ENV) <= set(environment), name
        assert environment["DATABASE_URL"] == "postgres://slipway:slipway@postgres:5432/slipway"
        assert environment["CELERY_BROKER_URL"] == "redis://redis:6379/0"
        assert environment["SLIPWAY_CACHE_URL"] == "redis://redis:6379/1"
        assert str(environment["SLIPWAY_REQUIRE_SECRET_KEY"]) == "1"
        assert "INSECURE-DEV-ONLY" in environment["SECRET_KEY"]
        assert environment["SECRET_KEY"].startswith("${SECRET_KEY:-"), "SECRET_KEY must be overridable"
        assert "localhost" in environment["ALLOWED_HOSTS"], "the health check sends Host: localhost"


def test_compose_environment_names_are_read_by_settings():
    known = _settings_variables() | PROCESS_ENV
    for name in APP_SERVICES:
        assert set(_compose()["services"][name]["environment"]) <= known, name


def test_compose_waits_for_healthy_dependencies_and_migrations():
    services = _compose()["services"]
    allowed = {"service_started", "service_healthy", "service_completed_successfully"}

    for name, service in services.items():
        for dependency, rule in service.get("depends_on", {}).items():
            assert rule["condition"] in allowed, (name, dependency)
            if rule["condition"] == "service_healthy":
                assert "test" in services[dependency]["healthcheck"], (name, dependency)
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["restart"] == "no"
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])


def test_compose_commands_match_the_procfile():
    services = _compose()["services"]
    procfile = _procfile()

    assert services["worker"]["command"] == shlex.split(procfile["worker"])
    assert services["beat"]["command"] == shlex.split(procfile["beat"])
    assert services["migrate"]["command"] == shlex.split(procfile["release"])
    # Beat has no HTTP server: the image's health check would mark it unhealthy.
    assert services["beat"]["healthcheck"] == {"disable": True}
    assert services["migrate"]["healthcheck"] == {"disable": True}
    assert services["beat"].get("deploy", {}).get("replicas", 1) == 1, "exactly one beat"


# Kubernetes --------------------------------------------------------------------------------------


def test_every_kubernetes_manifest_parses_with_api_version_and_kind():
    manifests = _manifests()

    assert len(manifests) >= 7
    for path, document in manifests:
        assert document.get("apiVersion"), path
        assert document.get("kind"), path
        if document["kind"] != "Kustomization":
            assert document.get("metadata", {}).get("name"), path


def test_kubernetes_has_every_workload():
    kinds = {(doc["kind"], _name(doc)) for _, doc in _manifests()}

    assert {
        ("Deployment", "slipway-web"),
        ("Service", "slipway-web"),
        ("Deployment", "slipway-worker"),
        ("Deployment", "slipway-beat"),
        ("Job", "slipway-migrate"),
        ("ConfigMap", "slipway-config"),
        ("Secret", "slipway-secrets"),
    } <= kinds


def test_web_probes_readiness_and_liveness():
    (container,) = _containers(_workload("slipway-web"))

    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for probe in ("readinessProbe", "livenessProbe"):
        headers = {h["name"]: h["value"] for h in container[probe]["httpGet"]["httpHeaders"]}
        assert headers["Host"] in _configmap()["ALLOWED_HOSTS"].split(",")


def test_exactly_one_beat_and_never_two_during_a_rollout():
    beat = _workload("slipway-beat")

    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"]["type"] == "Recreate"


def test_worker_and_beat_run_the_procfile_commands():
    procfile = _procfile()
    (worker,) = _containers(_workload("slipway-worker"))
    (beat,) = _containers(_workload("slipway-beat"))
    (migrate,) = _containers(_workload("slipway-migrate"))

    assert worker["command"][: len(shlex.split(procfile["worker"]))] == shlex.split(procfile["worker"])
    assert beat["command"][: len(shlex.split(procfile["beat"]))] == shlex.split(procfile["beat"])
    assert migrate["command"] == shlex.split(procfile["release"])
    assert _workload("slipway-migrate")["spec"]["template"]["spec"]["restartPolicy"] in ("Never", "OnFailure")


def _configmap() -> dict[str, str]:
    return next(doc for _, doc in _manifests() if doc["kind"] == "ConfigMap")["data"]


def test_configmap_names_only_settings_and_holds_no_secret():
    data = _configmap()

    assert set(data) <= _settings_variables() | PROCESS_ENV
    assert not {"SECRET_KEY", "DATABASE_URL", "SLIPWAY_GITHUB_TOKEN", "SLIPWAY_GITHUB_APP_PRIVATE_KEY"} & set(
        data
    )
    assert data["SLIPWAY_CELERY_QUEUE"] == "slipway"
    assert all(isinstance(value, str) for value in data.values()), "ConfigMap values must be strings"


def test_secret_example_holds_placeholders_only():
    path = KUBERNETES / "secret.example.yaml"
    (secret,) = list(yaml.safe_load_all(path.read_text()))

    assert "EXAMPLE" in path.read_text().splitlines()[0]
    assert secret["stringData"]
    assert all("CHANGE-ME" in value for value in secret["stringData"].values())
    assert set(secret["stringData"]) <= _settings_variables()


def test_workloads_run_as_non_root_and_read_their_configuration():
    for name in ("slipway-web", "slipway-worker", "slipway-beat", "slipway-migrate"):
        workload = _workload(name)
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        for container in _containers(workload):
            sources = {next(iter(s.values()))["name"] for s in container["envFrom"]}
            assert sources == {"slipway-config", "slipway-secrets"}, name
            assert container["image"] == "slipway", name


def test_kustomization_lists_every_manifest_but_the_secret_example():
    kustomization = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())
    files = {p.name for p in KUBERNETES.glob("*.yaml")} - {"kustomization.yaml", "secret.example.yaml"}

    assert set(kustomization["resources"]) == files
    assert [image["name"] for image in kustomization["images"]] == ["slipway"]


# Dockerfile, Procfile, .dockerignore, docs -----------------------------------------------------


def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = (PLATFORM / "Dockerfile").read_text()
    joined = re.sub(r"\\\n", " ", text)
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line.strip() else "")
        for line in joined.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def test_dockerfile_serves_config_wsgi_with_gunicorn_as_non_root():
    instructions = _dockerfile_instructions()
    by_name: dict[str, list[str]] = {}
    for name, argument in instructions:
        by_name.setdefault(name, []).append(argument)

    assert re.match(r"python:3\.1[1-9]-slim", by_name["FROM"][0])
    cmd = yaml.safe_load(by_name["CMD"][-1])  # exec form is a JSON array
    assert cmd[0] == "gunicorn" and cmd[1].startswith("config.wsgi")
    assert "0.0.0.0:8000" in cmd
    assert by_name["USER"][-1].split(":")[0] not in ("root", "0")
    assert "/healthz" in by_name["HEALTHCHECK"][-1]
    assert any("collectstatic" in run for run in by_name["RUN"])
    assert any(re.search(r"\bpip install [^&]*\.(\s|$)", run) for run in by_name["RUN"]), (
        "installs the project"
    )
    assert "SLIPWAY_DATA_DIR=/var/lib/slipway" in " ".join(by_name["ENV"])


def test_procfile_has_web_worker_beat_and_release():
    procfile = _procfile()

    assert {"web", "worker", "beat", "release"} <= set(procfile)
    assert procfile["web"].startswith("gunicorn config.wsgi")
    assert procfile["worker"] == "celery -A config worker -Q slipway --loglevel INFO"
    assert procfile["beat"].startswith("celery -A config beat")
    assert "migrate" in procfile["release"]


@pytest.mark.parametrize("pattern", [".git", ".venv", "var", ".env", "**/__pycache__"])
def test_dockerignore_keeps_local_state_out_of_the_image(pattern):
    assert pattern in (ROOT / ".dockerignore").read_text().splitlines()


def test_dockerignore_keeps_what_the_image_needs():
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }

    for needed in (
        "pyproject.toml",
        "README.md",
        "manage.py",
        "config",
        "services",
        "templates",
        "static",
        "scaffolds",
    ):
        assert needed not in ignored and f"{needed}/" not in ignored, needed


def test_deployment_docs_name_every_setting():
    docs = (ROOT / "docs" / "deployment.md").read_text()

    missing = sorted(name for name in _settings_variables() if f"`{name}`" not in docs)
    assert not missing, f"docs/deployment.md does not describe {missing}"
