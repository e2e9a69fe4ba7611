"""The import_catalog and export_catalog commands: output, --json, --dry-run, --strict, --actor, exit codes."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError

from services.models import AuditEvent, Service, Team
from tests.factories import ServiceFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

COMPONENT = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: {name}
spec:
  type: service
  lifecycle: production
  owner: {owner}
"""
OTHER_KIND = "apiVersion: backstage.io/v1alpha1\nkind: Environment\nmetadata:\n  name: prod\nspec: {type: kubernetes}\n"


def descriptor(tmp_path: Path, *documents: str, name: str = "catalog-info.yaml") -> Path:
    path = tmp_path / name
    path.write_text("---\n".join(documents))
    return path


def component(name: str, owner: str = "payments") -> str:
    return COMPONENT.format(name=name, owner=owner)


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def run_failing(*args: str) -> tuple[str, CommandError]:
    out = StringIO()
    with pytest.raises(CommandError) as raised:
        call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue(), raised.value


def test_import_prints_a_line_per_document_and_a_summary_and_exits_0(tmp_path):
    path = descriptor(tmp_path, component("ledger"), OTHER_KIND)

    out, _ = run("import_catalog", str(path))

    assert out.splitlines() == [
        f"{path.name}:1 Component ledger -> created - owner team payments not described anywhere: declared by this import",
        f"{path.name}:2 Environment prod -> skipped: kind Environment is not modelled by Slipway",
        "2 documents in 1 file: 1 created, 0 updated, 0 unchanged, 1 skipped, 0 invalid.",
        "Teams declared by this import (named as owner, parent or member, not described): payments",
    ]


def test_import_again_reports_every_document_unchanged(tmp_path):
    path = descriptor(tmp_path, component("ledger"))
    run("import_catalog", str(path))
    events = AuditEvent.objects.count()

    out, _ = run("import_catalog", str(path))

    assert f"{path.name}:1 Component ledger -> unchanged" in out.splitlines()
    assert "0 created, 0 updated, 1 unchanged" in out
    assert AuditEvent.objects.count() == events


def test_import_exits_1_when_some_documents_are_invalid_and_imports_the_valid_ones(tmp_path):
    path = descriptor(tmp_path, component("ledger"), component("bad name"))

    out, error = run_failing("import_catalog", str(path))

    assert error.returncode == 1
    assert f"{path.name}:2 Component bad name -> skipped (invalid): metadata.name 'bad name' is not a valid entity name" in out
    assert list(Service.objects.values_list("slug", flat=True)) == ["ledger"]


def test_import_exits_2_when_the_path_does_not_exist(tmp_path):
    _, error = run_failing("import_catalog", str(tmp_path / "nope.yaml"))

    assert error.returncode == 2
    assert "does not exist" in str(error)


def test_import_exits_2_when_no_file_can_be_read(tmp_path):
    path = descriptor(tmp_path, "kind: [unclosed\n")

    out, error = run_failing("import_catalog", str(path))

    assert error.returncode == 2
    assert f"{path.name} -> skipped (unreadable): YAML syntax error" in out


def test_a_yaml_error_in_one_file_of_a_folder_is_exit_1_and_the_other_files_import(tmp_path):
    descriptor(tmp_path, component("ledger"), name="good.yaml")
    descriptor(tmp_path, "kind: [unclosed\n", name="bad.yaml")

    out, error = run_failing("import_catalog", str(tmp_path))

    assert error.returncode == 1
    assert "bad.yaml -> skipped (unreadable): YAML syntax error at line 2" in out
    assert "good.yaml:1 Component ledger -> created" in out
    assert Service.objects.filter(slug="ledger").exists()


def test_import_json_output_is_machine_readable(tmp_path):
    path = descriptor(tmp_path, component("ledger"), component("bad name"), OTHER_KIND)

    out, error = run_failing("import_catalog", str(path), "--json")

    report = json.loads(out)
    assert error.returncode == 1
    assert report["exit_code"] == 1
    assert report["summary"] == {"created": 1, "updated": 0, "unchanged": 0, "skipped": 1, "invalid": 1, "conflict": 0, "followed": 0,
                                 "files_read": 1, "files_unreadable": 0}
    assert report["declared"] == {"teams": ["payments"], "users": []}
    assert [(d["index"], d["kind"], d["name"], d["outcome"]) for d in report["documents"]] == [
        (1, "Component", "ledger", "created"), (2, "Component", "bad name", "invalid"),
        (3, "Environment", "prod", "skipped")]
    assert report["documents"][1]["reasons"][0].startswith("metadata.name 'bad name' is not a valid entity name")


def test_import_json_output_for_unreadable_input_is_json_too(tmp_path):
    out, error = run_failing("import_catalog", str(tmp_path / "nope"), "--json")

    assert error.returncode == 2
    assert json.loads(out) == {"error": f"'{tmp_path / 'nope'}' does not exist.", "exit_code": 2}


def test_import_dry_run_reports_and_writes_nothing(tmp_path):
    path = descriptor(tmp_path, component("ledger"))

    out, _ = run("import_catalog", str(path), "--dry-run")

    assert "Component ledger -> created" in out
    assert "Dry run: nothing was written." in out
    assert not Service.objects.exists() and not Team.objects.exists()


def test_import_strict_refuses_owners_described_nowhere(tmp_path):
    TeamFactory(slug="payments")
    path = descriptor(tmp_path, component("ledger"), component("audit", owner="group:default/compliance"))

    out, error = run_failing("import_catalog", str(path), "--strict")

    assert error.returncode == 1
    assert "Component audit -> skipped (invalid): spec.owner 'group:default/compliance' names a group" in out
    assert list(Service.objects.values_list("slug", flat=True)) == ["ledger"]
    assert not Team.objects.filter(slug="compliance").exists()


def test_import_records_the_actor_and_the_command_source(tmp_path):
    UserFactory(username="lead")
    path = descriptor(tmp_path, component("ledger"))

    run("import_catalog", str(path), "--actor", "lead")

    assert set(AuditEvent.objects.values_list("actor__username", "source")) == {("lead", "command")}


def test_import_with_an_unknown_actor_exits_2_and_writes_nothing(tmp_path):
    path = descriptor(tmp_path, component("ledger"))

    _, error = run_failing("import_catalog", str(path), "--actor", "nobody")

    assert error.returncode == 2
    assert not Service.objects.exists()


def test_export_writes_descriptors_that_import_again(tmp_path):
    team = TeamFactory(slug="payments", name="Payments")
    ServiceFactory(slug="ledger", owner_team=team, repository="github.com/acme/ledger", tags=["python"])
    output = tmp_path / "export.yaml"

    _, err = run("export_catalog", "--output", str(output))

    documents = list(yaml.safe_load_all(output.read_text()))
    assert [(d["kind"], d["metadata"]["name"]) for d in documents] == [("Group", "payments"), ("Component", "ledger")]
    assert documents[1]["metadata"]["annotations"] == {
        "github.com/project-slug": "acme/ledger", "slipway.dev/derived": "github.com/project-slug"}
    assert documents[1]["spec"]["owner"] == "group:default/payments"
    assert "Wrote 2 entities" in err
    # Made in the portal: a descriptor does not change them (a conflict), unless an administrator says so.
    with pytest.raises(CommandError):
        run("import_catalog", str(output))
    out, _ = run("import_catalog", "--force", str(output))
    assert "Component ledger -> unchanged" in out  # the annotation made from its repository is not kept: lossless


def test_export_to_standard_output_and_warnings_to_standard_error():
    from services.models import System

    System.objects.create(slug="ownerless", name="Ownerless")

    out, err = run("export_catalog")

    assert yaml.safe_load(out)["metadata"] == {"name": "ownerless", "title": "Ownerless"}
    assert err.strip() == "warning: System 'ownerless' has no owner; Backstage requires spec.owner."
