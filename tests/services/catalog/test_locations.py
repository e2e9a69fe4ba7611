"""Locations: following `kind: Location`, origins, conflicts, orphans, renames, deletion, repositories
of the local host read conditionally, and a refresh that fails keeping what the catalog had."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from django.conf import settings

from services.catalog.sync.locations import (
    catalog_entry_move,
    catalog_import,
    location_delete,
    location_orphans_delete,
    location_plan,
    location_refresh_by_id,
    location_register,
)
from services.catalog.sync.refresh import location_refresh
from services.errors import InvalidInput
from services.models import AuditEvent, CatalogConflict, Location, Origin, Service, System, Team
from tests.factories import ServiceFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

EXAMPLES = Path(__file__).resolve().parents[2] / "data" / "backstage-examples"


def component(name: str, *, owner: str = "payments", extra: str = "") -> str:
    return (f"apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n"
            f"spec:\n  type: service\n  lifecycle: production\n  owner: {owner}\n{extra}")


def location_doc(*targets: str) -> str:
    lines = "".join(f"    - {target}\n" for target in targets)
    return f"apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: all\nspec:\n  targets:\n{lines}"


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# -- following Location documents -----------------------------------------------------------------


def test_the_example_all_yaml_imports_every_target_it_can_reach_and_names_the_missing_one():
    report = catalog_import(path=EXAMPLES / "all.yaml")

    # Backstage fails the whole location on the missing all-ai-resources.yaml; Slipway reads the rest.
    assert report.file_errors == [{"file": "all-ai-resources.yaml",
                                   "error": "all-ai-resources.yaml does not exist (named by all.yaml)"}]
    assert set(Service.objects.values_list("slug", flat=True)) == {  # all-components.yaml's six targets
        "analyticsapi", "aware", "jacs", "mapanalyticsapi", "odpanalyticsapi", "wokplaceanalytics"}
    assert System.objects.filter(slug="audio-playback").exists()
    location = Location.objects.get(kind="path")
    assert location.target == str((EXAMPLES / "all.yaml").resolve())
    sources = dict(location.sources.values_list("path", "state"))
    assert sources["all.yaml"] == "read" and sources["all-ai-resources.yaml"] == "missing"
    assert sources["components/aware-component.yaml"] == "read"  # a target of all-components.yaml, nested
    assert location.state == Location.State.PARTIAL
    assert location.summary["missing"] == [{"path": "all-ai-resources.yaml", "named_by": "all.yaml",
                                            "error": "all-ai-resources.yaml does not exist"}]
    service = Service.objects.get(slug="aware")
    assert (service.origin, service.origin_location, service.origin_path) == (
        Origin.LOCATION, location, "components/aware-component.yaml")


def test_targets_leaving_the_location_or_naming_urls_are_not_followed(tmp_path):
    secret = write(tmp_path, "secret.yaml", component("secret"))
    root = write(tmp_path / "catalog", "all.yaml",
                 location_doc("../secret.yaml", str(secret), "https://example.com/x.yaml", "./ok.yaml"))
    write(tmp_path / "catalog", "ok.yaml", component("ok"))

    report = catalog_import(path=root)

    assert sorted(Service.objects.values_list("slug", flat=True)) == ["ok"]
    (followed,) = [r for r in report.documents if r.outcome == "followed"]
    assert followed.notes == [
        "target '../secret.yaml' leaves the location: not followed",
        f"target '{secret}' is not a relative path: only files of this location are followed",
        "target 'https://example.com/x.yaml' is a URL: a location on the server follows its own files only",
    ]


def test_a_location_naming_itself_or_a_cycle_is_read_once(tmp_path):
    root = write(tmp_path, "a.yaml", location_doc("./b.yaml", "./a.yaml"))
    write(tmp_path, "b.yaml", location_doc("./a.yaml") + "---\n" + component("ledger"))

    catalog_import(path=root)

    assert sorted(Location.objects.get().sources.values_list("path", flat=True)) == ["a.yaml", "b.yaml"]
    assert Service.objects.get().slug == "ledger"


# -- origins and conflicts ----------------------------------------------------------------------------


def test_a_descriptor_naming_a_service_made_in_the_portal_is_a_conflict_and_changes_nothing(tmp_path):
    payments = TeamFactory(slug="payments")
    ServiceFactory(slug="payments-api", owner_team=payments, repository="github.com/acme/payments-api",
                   description="by hand")
    path = write(tmp_path, "catalog-info.yaml", component("payments-api", owner="risk"))

    report = catalog_import(path=path)

    service = Service.objects.get(slug="payments-api")
    assert (service.owner_team.slug, service.repository, service.description, service.origin) == (
        "payments", "github.com/acme/payments-api", "by hand", Origin.MANUAL)
    (result,) = report.documents
    assert result.outcome == "conflict"
    assert result.reasons == ["Component 'payments-api' is held by the portal (made by hand): nothing of it was "
                              "changed here. An administrator can move it to this location, or the descriptor "
                              "can be fixed"]
    assert report.exit_code == 1
    conflict = CatalogConflict.objects.get()
    assert (conflict.kind, conflict.name, conflict.path, conflict.held_by) == (
        "Component", "payments-api", "catalog-info.yaml", "the portal (made by hand)")
    assert not Team.objects.filter(slug="risk").exists()  # nothing of the refused document was declared


def test_two_locations_describing_one_service_conflict_until_an_admin_moves_it(tmp_path):
    first = write(tmp_path / "one", "catalog-info.yaml", component("ledger", extra="  system: money\n"))
    second = write(tmp_path / "two", "catalog-info.yaml", component("ledger", owner="risk"))
    catalog_import(path=first)
    one = Location.objects.get()

    report = catalog_import(path=second)

    two = Location.objects.exclude(pk=one.pk).get()
    assert report.documents[0].outcome == "conflict"
    assert "is held by the location '" in report.documents[0].reasons[0]
    assert Service.objects.get(slug="ledger").owner_team.slug == "payments"
    assert two.conflicts.get().name == "ledger"
    again = catalog_import(path=second)  # still a conflict, still recorded once, first seen kept
    assert again.documents[0].outcome == "conflict"
    assert CatalogConflict.objects.count() == 1

    admin = UserFactory(is_staff=True)
    catalog_entry_move(actor=admin, kind="Component", name="ledger", location=two)
    catalog_import(path=second, force=False)

    service = Service.objects.get(slug="ledger")
    assert (service.origin_location, service.owner_team.slug) == (two, "risk")
    assert not CatalogConflict.objects.exists()
    assert AuditEvent.objects.filter(action="service.move", object_repr="ledger").exists()
    assert catalog_import(path=first).documents[0].outcome == "conflict"  # now the first location is refused


def test_unclaimed_entries_made_before_origins_are_adopted_once(tmp_path):
    team = TeamFactory(slug="payments")
    ServiceFactory(slug="ledger", owner_team=team, origin=Origin.UNCLAIMED)
    path = write(tmp_path, "catalog-info.yaml", component("ledger", extra="  system: money\n"))

    catalog_import(path=path)

    service = Service.objects.get(slug="ledger")
    assert (service.origin, service.origin_location) == (Origin.LOCATION, Location.objects.get())
    assert AuditEvent.objects.filter(action="service.adopt", object_repr="ledger").exists()


def test_an_administrators_account_is_never_changed_by_a_descriptor(tmp_path):
    UserFactory(username="root", email="root@example.com", is_staff=True)
    text = ("apiVersion: backstage.io/v1alpha1\nkind: User\nmetadata:\n  name: root\n"
            "spec:\n  profile:\n    email: attacker@evil.example\n  memberOf: []\n")
    report = catalog_import(path=write(tmp_path, "people.yaml", text))

    assert report.documents[0].outcome == "conflict"
    assert "an administrator's account" in report.documents[0].reasons[0]
    from django.contrib.auth import get_user_model

    assert get_user_model().objects.get(username="root").email == "root@example.com"


# -- orphans, renames, deletion ----------------------------------------------------------------------


def test_entries_a_location_stops_describing_are_orphaned_not_deleted_and_come_back(tmp_path):
    path = write(tmp_path, "catalog-info.yaml", component("ledger") + "---\n" + component("billing"))
    catalog_import(path=path)

    path.write_text(component("ledger"))
    report = catalog_import(path=path)

    assert report.orphans == {"Component": ["billing"]}
    billing = Service.objects.get(slug="billing")
    assert billing.orphaned_at is not None
    assert AuditEvent.objects.filter(action="service.orphan", object_repr="billing").count() == 1
    catalog_import(path=path)  # still orphaned: no second event
    assert AuditEvent.objects.filter(action="service.orphan").count() == 1

    path.write_text(component("ledger") + "---\n" + component("billing"))
    catalog_import(path=path)
    assert Service.objects.get(slug="billing").orphaned_at is None


def test_a_renamed_component_orphans_the_old_entry_and_creates_the_new(tmp_path):
    path = write(tmp_path, "catalog-info.yaml", component("ledger"))
    catalog_import(path=path)

    path.write_text(component("ledger-v2"))
    catalog_import(path=path)

    assert Service.objects.get(slug="ledger").orphaned_at is not None
    assert Service.objects.get(slug="ledger-v2").orphaned_at is None


def test_a_target_removed_from_the_location_orphans_its_entries(tmp_path):
    root = write(tmp_path, "all.yaml", location_doc("./a.yaml", "./b.yaml"))
    write(tmp_path, "a.yaml", component("ledger"))
    write(tmp_path, "b.yaml", component("billing"))
    catalog_import(path=root)

    root.write_text(location_doc("./a.yaml"))
    catalog_import(path=root)

    assert Service.objects.get(slug="billing").orphaned_at is not None
    assert sorted(Location.objects.get().sources.values_list("path", flat=True)) == ["a.yaml", "all.yaml"]


def test_orphans_are_deleted_only_when_asked_and_people_never(tmp_path, settings):
    path = write(tmp_path, "catalog-info.yaml", component("ledger") + "---\n" + component("billing"))
    catalog_import(path=path)
    path.write_text(component("ledger"))
    catalog_import(path=path)

    deleted = location_orphans_delete(actor=None, location=Location.objects.get())

    assert deleted == {"Component": 1}
    assert sorted(Service.objects.values_list("slug", flat=True)) == ["ledger"]


def test_deleting_a_location_leaves_its_entries_unclaimed_and_orphaned(tmp_path):
    catalog_import(path=write(tmp_path, "catalog-info.yaml", component("ledger")))
    location = Location.objects.get()

    assert location_delete(actor=None, location=location) >= 1

    service = Service.objects.get(slug="ledger")
    assert (service.origin, service.origin_location, service.orphaned_at is not None) == (Origin.UNCLAIMED, None, True)
    other = write(tmp_path / "other", "catalog-info.yaml", component("ledger"))
    catalog_import(path=other)  # any location may adopt it now
    assert Service.objects.get(slug="ledger").origin_location == Location.objects.get()


# -- repositories of the local host ---------------------------------------------------------------


def _git(*args: str, cwd: Path | None = None) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@x", "GIT_CONFIG_GLOBAL": os.devnull}
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True).stdout


def push(owner: str, name: str, files: dict[str, str | None]) -> None:
    """Commit files (None deletes one) to a bare repository of the local host, creating it if needed."""
    bare = Path(settings.SLIPWAY_REPOSITORY_DIR) / owner / f"{name}.git"
    if not bare.exists():
        bare.parent.mkdir(parents=True, exist_ok=True)
        _git("init", "--bare", "--initial-branch", "main", str(bare))
    work = Path(tempfile.mkdtemp())
    try:
        _git("clone", "-q", str(bare), str(work))
        for path, text in files.items():
            target = work / path
            if text is None:
                target.unlink()
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text)
        _git("add", "-A", cwd=work)
        _git("commit", "-q", "-m", "change", cwd=work)
        _git("push", "-q", "origin", "HEAD:main", cwd=work)
    finally:
        shutil.rmtree(work)


def seed_repository(more: str = "docs/more.yaml") -> str:
    """A new repository acme/<name> of the local host: ledger in its catalog-info.yaml, which names `more`
    (billing) in a Location document."""
    name = f"repo-{os.urandom(3).hex()}"
    push("acme", name, {"catalog-info.yaml": component("ledger") + "---\n" + location_doc(f"./{more}"),
                        more: component("billing")})
    return name


@pytest.fixture
def repository():
    name = seed_repository()
    yield name
    shutil.rmtree(Path(settings.SLIPWAY_REPOSITORY_DIR) / "acme" / f"{name}.git", ignore_errors=True)


def test_a_repository_is_read_through_its_host_and_an_unchanged_one_is_not_parsed_again(repository):
    admin = UserFactory(is_staff=True)
    location = location_register(actor=admin, url=f"localhost/acme/{repository}", team=None)
    assert location_refresh_by_id(location.pk) is not None
    assert sorted(Service.objects.values_list("slug", flat=True)) == ["billing", "ledger"]

    again = location_refresh_by_id(location.pk)

    assert again.skipped and not again.changed  # both files answered "unchanged" (their blob ids)
    assert [source.state for source in again.sources] == ["unchanged", "unchanged"]
    push("acme", repository, {"docs/more.yaml": component("billing").replace("type: service", "type: worker")})
    changed = location_refresh_by_id(location.pk)
    assert [(s.path, s.state) for s in changed.sources] == [("catalog-info.yaml", "unchanged"),
                                                            ("docs/more.yaml", "read")]
    assert Service.objects.get(slug="billing").type == "worker"
    assert Service.objects.get(slug="ledger").orphaned_at is None  # its unchanged file kept it


def test_a_refresh_that_cannot_read_the_repository_keeps_the_catalog_and_says_why(repository):
    location = location_register(actor=UserFactory(is_staff=True), url=f"localhost/acme/{repository}", team=None)
    location_refresh_by_id(location.pk)
    shutil.rmtree(Path(settings.SLIPWAY_REPOSITORY_DIR) / "acme" / f"{repository}.git")

    result = location_refresh_by_id(location.pk)

    location.refresh_from_db()
    assert result.error and location.state == Location.State.FAILED
    assert location.last_error == f"there is no repository acme/{repository} on the local host"
    assert Service.objects.filter(slug__in=["ledger", "billing"], orphaned_at__isnull=True).count() == 2


def test_a_dry_run_shows_what_would_happen_and_writes_nothing(repository):
    ServiceFactory(slug="billing", owner_team=TeamFactory(slug="payments"))

    result = location_plan(url=f"localhost/acme/{repository}", team=None)

    assert {(r.name, r.outcome) for r in result.report.documents} == {
        ("ledger", "created"), ("billing", "conflict"), ("all", "followed")}
    assert not Location.objects.exists() and not Service.objects.filter(slug="ledger").exists()


def test_a_location_registered_for_a_team_describes_only_that_teams_entries(repository):
    push("acme", repository, {"docs/more.yaml": component("billing", owner="risk")})
    payments = TeamFactory(slug="payments")
    location = location_register(actor=None, url=f"localhost/acme/{repository}", team=payments)

    result = location_refresh_by_id(location.pk)

    assert {r.name: r.outcome for r in result.report.documents}["billing"] == "invalid"
    assert not Service.objects.filter(slug="billing").exists()
    assert Service.objects.get(slug="ledger").owner_team == payments


@pytest.mark.parametrize("url, message", [
    ("", "give a repository"),
    ("localhost/acme/x/../../etc/passwd.yaml", "is not a file path inside a repository"),
    ("localhost/acme/x/README.md", "is not a .yaml or .yml file"),
    ("https://github.com/acme/x", "reads repositories of the local host only"),
])
def test_bad_location_urls_are_refused_with_the_field_named(url, message):
    with pytest.raises(InvalidInput) as caught:
        location_register(actor=None, url=url, team=None)
    assert "url" in caught.value.errors and message in str(caught.value.errors["url"])
    assert not Location.objects.exists()


def test_a_dry_run_does_not_touch_sources_of_a_registered_location(tmp_path):
    path = write(tmp_path, "catalog-info.yaml", component("ledger"))
    catalog_import(path=path)
    location = Location.objects.get()
    before = list(location.sources.values_list("path", "etag"))

    location_refresh(location=location, dry_run=True)

    assert list(location.sources.values_list("path", "etag")) == before


# -- sense checks -------------------------------------------------------------------------------------


def test_a_near_miss_of_a_well_known_value_is_a_warning_and_kept(tmp_path):
    text = component("ledger").replace("lifecycle: production", "lifecycle: prodution").replace(
        "type: service", "type: 'Service '")
    report = catalog_import(path=write(tmp_path, "catalog-info.yaml", text))

    (result,) = report.documents
    assert result.outcome == "created"
    assert result.notes[:2] == [
        "spec.type 'Service ' looks like the well-known 'service': kept as written; check the spelling",
        "spec.lifecycle 'prodution' looks like the well-known 'production': kept as written; check the spelling"]
    assert Service.objects.get().lifecycle == "prodution"


def test_a_service_cannot_depend_on_itself(tmp_path, member):
    from services.catalog import writes

    report = catalog_import(path=write(tmp_path, "catalog-info.yaml", component(
        "ledger", extra="  dependsOn: [component:ledger, component:billing]\n")))
    assert "spec.dependsOn names the component itself" in report.documents[0].notes[0]
    service = Service.objects.get(slug="ledger")
    assert list(service.dependencies.values_list("target_ref", flat=True)) == ["component:default/billing"]
    with pytest.raises(InvalidInput) as caught:
        writes.service_update(actor=member, service=service, data={"depends_on": ["ledger"]})
    assert "cannot depend on itself" in caught.value.errors["depends_on"][0]


def test_new_services_are_not_production_unless_said(member, team):
    from services.catalog import writes

    assert writes.service_create(actor=member, slug="fresh", owner=team.slug).lifecycle == "experimental"
