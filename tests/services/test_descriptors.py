"""Backstage descriptor import and export (services/descriptors/)."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.contrib.auth import get_user_model

from services.audit import audit_source
from services.catalog.generation import catalog_generation
from services.catalog.refs import SLUG_PATTERN, is_valid_name, parse_entity_ref
from services.catalog.sync.locations import catalog_import
from services.descriptors import importer
from services.descriptors.exporter import catalog_export
from services.descriptors.parse import NAME_ANNOTATION, DescriptorInputError, component_slug
from services.descriptors.report import ImportReport
from services.models import (
    Api,
    AuditEvent,
    Domain,
    EntityLink,
    Membership,
    Profile,
    Resource,
    Service,
    ServiceDependency,
    System,
    Team,
)
from tests.factories import ServiceFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

User = get_user_model()
EXAMPLES = Path(__file__).resolve().parent.parent / "data" / "backstage"

# One document of every kind Slipway models, with every field it keeps; names in mixed case and
# with `_` and `.`; references in several forms; a dependency on a resource and one on a
# component not in the catalog.
EVERY_KIND = """\
apiVersion: backstage.io/v1alpha1
kind: Domain
metadata:
  name: payments
  title: Payments
  description: Money in, money out
spec:
  owner: group:default/finance
---
apiVersion: backstage.io/v1alpha1
kind: System
metadata:
  name: ledger-system
  title: Ledger system
  description: Books and balances
spec:
  owner: finance
  domain: payments
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: finance
  description: The finance department
spec:
  type: department
  profile:
    displayName: Finance
    email: finance@example.org
  children: [Ledger_Team]
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: Ledger_Team
  description: Keeps the books
  annotations:
    slack.com/channel: "#ledger"
    github.com/team-slug: acme/ledger-team
spec:
  type: team
  profile:
    displayName: Ledger Team
    email: ledger@example.org
  parent: group:finance
  children: []
  members: [jane]
---
apiVersion: backstage.io/v1beta1
kind: User
metadata:
  name: jane
spec:
  profile:
    displayName: Jane Doe
    email: jane@example.org
    picture: https://example.org/jane.png
  memberOf: [group:default/ledger_team]
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: omar
spec:
  profile:
    email: omar@example.org
  memberOf: [finance]
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: ledger
  title: Ledger
  description: The general ledger
  tags: [python, payments]
  links:
    - url: https://ledger.example.org
      title: Dashboard
      icon: dashboard
  annotations:
    github.com/project-slug: Acme/Ledger
    backstage.io/techdocs-ref: dir:.
spec:
  type: service
  lifecycle: production
  owner: group:Ledger_Team
  system: system:default/ledger-system
  dependsOn:
    - component:billing_api.v2
    - resource:default/ledger-db
    - component:not-yet-there
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: billing_api.v2
  description: Bills
spec:
  type: library
  lifecycle: experimental
  owner: user:jane
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def component(name: str, *, owner: str = "team-x", extra_spec: str = "", extra_metadata: str = "") -> str:
    """A valid Component document (with optional extra lines, already indented)."""
    return (f"apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n{extra_metadata}"
            f"spec:\n  type: service\n  lifecycle: production\n  owner: {owner}\n{extra_spec}")


def group(name: str, extra_spec: str = "") -> str:
    return (f"apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: {name}\n"
            f"spec:\n  type: team\n  children: []\n{extra_spec}")


def run_import(tmp_path: Path, text: str, name: str = "catalog-info.yaml", **options: Any) -> ImportReport:
    return catalog_import(path=write(tmp_path, name, text), **options)


def outcomes(report: ImportReport) -> dict[str, str]:
    return {f"{result.kind}:{result.name}": result.outcome for result in report.documents}


def result_for(report: ImportReport, name: str):
    (found,) = [result for result in report.documents if result.name == name]
    return found


def catalog_snapshot() -> dict[str, Any]:
    """Everything the import writes, keyed by natural keys (no ids, no timestamps)."""
    profiles = {p.user_id: p for p in Profile.objects.all()}
    return {
        "teams": {t.slug: (t.name, t.description, t.email, t.chat_channel, t.github_team_slug, t.team_type,
                           t.annotations, t.declared_by_import, t.parent.slug if t.parent else None)
                  for t in Team.objects.select_related("parent")},
        "users": {u.username: (u.email, *((profiles[u.pk].display_name, profiles[u.pk].picture,
                                           profiles[u.pk].declared_by_import) if u.pk in profiles else ()))
                  for u in User.objects.all()},
        "memberships": sorted(Membership.objects.values_list("user__username", "team__slug", "role")),
        "domains": {d.slug: (d.name, d.description, d.owner.slug if d.owner else None)
                    for d in Domain.objects.select_related("owner")},
        "systems": {s.slug: (s.name, s.description, s.owner.slug if s.owner else None,
                             s.domain.slug if s.domain else None)
                    for s in System.objects.select_related("owner", "domain")},
        "services": {s.slug: (s.name, s.description, s.type, s.lifecycle, s.tags, s.links, s.annotations,
                              s.repository, s.owner_team.slug if s.owner_team else None,
                              s.owner_user.username if s.owner_user else None, s.system.slug if s.system else None)
                     for s in Service.objects.select_related("owner_team", "owner_user", "system")},
        "dependencies": sorted(ServiceDependency.objects.values_list("service__slug", "target_ref", "target__slug")),
    }


def wipe_catalog() -> None:
    ServiceDependency.objects.all().delete()
    Service.objects.all().delete()
    System.objects.all().delete()
    Domain.objects.all().delete()
    Membership.objects.all().delete()
    Team.objects.all().delete()
    User.objects.all().delete()
    AuditEvent._base_manager.all().delete()  # the default manager refuses: the log is append-only


# ---------------------------------------------------------------------------------------------
# Every kind, and what each field becomes.


def test_every_supported_kind_imports_with_the_fields_it_keeps(tmp_path):
    report = run_import(tmp_path, EVERY_KIND)

    assert report.exit_code == 0
    assert set(outcomes(report).values()) == {"created"}
    assert report.declared_teams == [] and report.declared_users == []

    domain = Domain.objects.get(slug="payments")
    assert (domain.name, domain.description, domain.owner.slug) == ("Payments", "Money in, money out", "finance")
    system = System.objects.get(slug="ledger-system")
    assert (system.name, system.owner.slug, system.domain) == ("Ledger system", "finance", domain)

    finance = Team.objects.get(slug="finance")
    ledger_team = Team.objects.get(slug="ledger_team")
    assert (finance.name, finance.email, finance.team_type, finance.parent) == (
        "Finance", "finance@example.org", "department", None)
    assert ledger_team.parent == finance
    assert ledger_team.name == "Ledger Team"
    assert ledger_team.chat_channel == "#ledger"
    assert ledger_team.github_team_slug == "ledger-team"
    assert ledger_team.annotations[NAME_ANNOTATION] == "Ledger_Team"
    assert not ledger_team.declared_by_import

    jane = User.objects.get(username="jane")
    assert jane.email == "jane@example.org"
    assert not jane.has_usable_password()
    assert (jane.profile.display_name, jane.profile.picture) == ("Jane Doe", "https://example.org/jane.png")
    assert sorted(Membership.objects.values_list("user__username", "team__slug")) == [
        ("jane", "ledger_team"), ("omar", "finance")]

    ledger = Service.objects.get(slug="ledger")
    assert (ledger.name, ledger.description, ledger.type, ledger.lifecycle) == (
        "Ledger", "The general ledger", "service", "production")
    assert ledger.tags == ["python", "payments"]
    assert ledger.links == [{"url": "https://ledger.example.org", "title": "Dashboard", "icon": "dashboard"}]
    assert ledger.annotations == {"github.com/project-slug": "Acme/Ledger", "backstage.io/techdocs-ref": "dir:."}
    assert ledger.repository == "github.com/acme/ledger"
    assert (ledger.owner_team, ledger.system) == (ledger_team, system)
    billing = Service.objects.get(slug="billing-api-v2")
    assert billing.owner_user == jane and billing.owner_team is None
    assert billing.annotations == {NAME_ANNOTATION: "billing_api.v2"}
    assert sorted(ledger.dependencies.values_list("target_ref", "target__slug")) == [
        ("component:default/billing_api.v2", "billing-api-v2"),
        ("component:default/not-yet-there", None),
        ("resource:default/ledger-db", None),
    ]


def test_every_valid_backstage_name_maps_to_a_service_slug():
    for name in ["a", "Payments_API.v2", "x" * 63, "A-b_c.d", "team.A1"]:
        assert is_valid_name(name)
        assert SLUG_PATTERN.match(component_slug(name)), name


def test_import_writes_one_audit_event_per_row_and_bumps_the_generation_once(tmp_path):
    before = catalog_generation()
    with audit_source("command"):
        run_import(tmp_path, EVERY_KIND)

    events = AuditEvent.objects.exclude(object_type="location")  # the path's location, registered first
    # 1 domain + 1 system + 2 teams + 2 people + 2 services
    assert events.count() == 8
    assert {e.source for e in events} == {"command"}
    assert {e.actor_name for e in events} == {"system"}
    assert len({e.request_id for e in events}) == 1
    assert set(events.values_list("action", flat=True)) == {
        "domain.create", "system.create", "team.create", "person.create", "service.create"}
    ledger = events.get(action="service.create", object_repr="ledger")
    assert ledger.object_id == str(Service.objects.get(slug="ledger").pk)
    assert ledger.changes["owner"] == "ledger_team"
    assert catalog_generation() != before  # bumped (by a random step)


def test_audit_events_name_the_actor_when_one_is_given(tmp_path):
    actor = UserFactory(username="importer")
    run_import(tmp_path, component("ledger"), actor=actor)

    assert set(AuditEvent.objects.values_list("actor__username", "actor_name")) == {("importer", "importer")}


# ---------------------------------------------------------------------------------------------
# Idempotence and updates.


def test_importing_the_same_file_twice_changes_nothing_and_records_no_audit_event(tmp_path):
    run_import(tmp_path, EVERY_KIND)
    snapshot, events, generation = catalog_snapshot(), AuditEvent.objects.count(), catalog_generation()

    report = run_import(tmp_path, EVERY_KIND)

    assert set(outcomes(report).values()) == {"unchanged"}
    assert report.exit_code == 0
    assert catalog_snapshot() == snapshot
    assert AuditEvent.objects.count() == events
    assert catalog_generation() == generation


def test_a_changed_field_updates_the_row_and_the_audit_event_records_old_and_new(tmp_path):
    run_import(tmp_path, component("ledger", extra_metadata="  description: Old\n  tags: [python]\n"))

    report = run_import(tmp_path, component("ledger", extra_metadata="  description: New\n  tags: [go]\n"))

    result = result_for(report, "ledger")
    assert (result.outcome, result.changes) == ("updated", ["description", "tags"])
    service = Service.objects.get(slug="ledger")
    assert (service.description, service.tags) == ("New", ["go"])
    event = AuditEvent.objects.get(action="service.update")
    assert event.changes == {"description": ["Old", "New"], "tags": [["python"], ["go"]]}


def test_a_changed_owner_system_and_dependencies_update_the_service_with_force(tmp_path):
    run_import(tmp_path, component("ledger", owner="team-a", extra_spec="  dependsOn: [component:a]\n"))

    report = run_import(tmp_path, component("ledger", owner="user:jane", extra_spec="  dependsOn: [component:b]\n"),
                        force=True)

    assert result_for(report, "ledger").changes == ["depends_on", "owner"]
    service = Service.objects.get(slug="ledger")
    assert service.owner_user.username == "jane" and service.owner_team is None
    assert list(service.dependencies.values_list("target_ref", flat=True)) == ["component:default/b"]


def test_an_import_never_moves_a_service_to_another_owner_without_force(tmp_path):
    # A copy-paste of another team's descriptor: the service keeps its owner, repository and links.
    run_import(tmp_path, component("ledger", owner="team-a",
                                   extra_metadata="  annotations:\n    github.com/project-slug: acme/ledger\n"))
    Service.objects.filter(slug="ledger").update(origin="")  # unclaimed, as entries made before origins are
    before = Service.objects.values().get(slug="ledger")
    events = AuditEvent.objects.filter(object_type="service").count()

    report = run_import(tmp_path / "elsewhere", component("ledger", owner="team-b"))

    refused = result_for(report, "ledger")
    assert refused.outcome == "invalid" and report.exit_code == 1
    assert "owned by team-a in the catalog and this descriptor says team-b" in refused.reasons[0]
    assert "--force" in refused.reasons[0]
    assert Service.objects.values().get(slug="ledger") == before
    assert AuditEvent.objects.filter(object_type="service").count() == events


def test_the_location_holding_a_service_may_hand_it_to_another_owner(tmp_path):
    run_import(tmp_path, component("ledger", owner="team-a"))

    report = run_import(tmp_path, component("ledger", owner="team-b"))

    assert result_for(report, "ledger").outcome == "updated"
    assert Service.objects.get(slug="ledger").owner_team.slug == "team-b"


def test_an_import_never_sets_the_marks_of_a_provisioning_run(tmp_path):
    marker = "slipway.dev/provisioning-run"
    run_import(tmp_path, component("ledger", owner="team-a", extra_metadata=f"  annotations:\n    {marker}: forged\n"))
    assert marker not in Service.objects.get(slug="ledger").annotations
    Service.objects.filter(slug="ledger").update(annotations={marker: "run-1"})
    report = run_import(tmp_path, component("ledger", owner="team-a", extra_metadata=f"  annotations:\n    {marker}: x\n"))
    assert Service.objects.get(slug="ledger").annotations[marker] == "run-1"
    assert any("set by Slipway's runs only" in note for note in result_for(report, "ledger").notes)


def test_a_users_member_of_is_its_whole_list_of_teams(tmp_path):
    user = ("apiVersion: backstage.io/v1alpha1\nkind: User\nmetadata:\n  name: jane\n"
            "spec:\n  memberOf: [{teams}]\n")
    run_import(tmp_path, "---\n".join([group("a"), group("b"), user.format(teams="a, b")]))

    report = run_import(tmp_path, "---\n".join([group("a"), group("b"), user.format(teams="b")]))

    assert result_for(report, "jane").changes == ["member_of"]
    assert list(Membership.objects.values_list("team__slug", flat=True)) == ["b"]


def test_a_groups_members_add_memberships_and_declare_people_described_nowhere(tmp_path):
    report = run_import(tmp_path, group("a", "  members: [jane, user:default/Omar]\n"))

    assert sorted(Membership.objects.values_list("user__username", flat=True)) == ["Omar", "jane"]
    assert report.declared_users == ["jane", "Omar"]
    assert Profile.objects.filter(declared_by_import=True).count() == 2


# ---------------------------------------------------------------------------------------------
# Invalid documents.


@pytest.mark.parametrize(("document", "reason"), [
    (component("bad name"), "metadata.name 'bad name' is not a valid entity name"),
    (component("a" * 64), "is not a valid entity name"),
    (component("ok").replace("apiVersion: backstage.io/v1alpha1\n", ""), "apiVersion is missing"),
    (component("ok").replace("backstage.io/v1alpha1", "example.com/v9"), "apiVersion 'example.com/v9' is not one"),
    (component("ok").replace("kind: Component", "kind: component"), "kind 'component' must be written 'Component'"),
    (component("ok").replace("  name: ok\n", ""), "metadata.name is missing"),
    (component("ok").replace("  type: service\n", ""), "spec.type is missing"),
    (component("ok").replace("  lifecycle: production\n", ""), "spec.lifecycle is missing"),
    (component("ok", owner=""), "spec.owner is missing (null)"),
    (component("ok", owner="'${{ values.owner }}'"), "spec.owner: '${{ values.owner }}' does not name a valid entity"),
    (component("ok", owner="[team-a, team-b]"), "spec.owner must be a string, not a list"),
    (component("ok", owner="system:payments"), "spec.owner 'system:payments' must name a group or a user"),
    (component("ok", extra_spec="  dependsOn: [payments]\n"),
     "spec.dependsOn[0]: 'payments' has no kind"),
    (component("ok", extra_spec="  dependsOn: component:payments\n"), "spec.dependsOn must be a list"),
    (component("ok", extra_metadata="  tags: python\n"), "metadata.tags must be a list"),
    (component("ok", extra_metadata="  tags: [1.5]\n"), "metadata.tags[0] must be a non-empty string, not 1.5"),
    (component("ok", extra_metadata="  tags: [Python]\n"), "metadata.tags[0] 'Python' is not a valid tag"),
    (component("ok", extra_metadata="  links:\n"), "metadata.links must be a list, not null"),
    (component("ok", extra_metadata="  links: [{title: no url}]\n"), "metadata.links[0].url is missing"),
    (component("ok", extra_metadata="  annotations: {openedx.org/release: null}\n"),
     "metadata.annotations.openedx.org/release must be a string, not null"),
    (component("ok", extra_metadata="  annotations: {'bad key!': x}\n"), "is not a valid annotation key"),
    (component("ok", extra_metadata="  namespace: Other\n"), "metadata.namespace 'Other' is not a valid namespace"),
    (component("ok", extra_metadata=f"  title: {'t' * 201}\n"), "metadata.title is longer than 200 characters"),
    (component("ok") + "extra: field\n", "unknown top-level field extra"),
    (group("ok").replace("  children: []\n", ""), "spec.children is missing"),
    ("apiVersion: backstage.io/v1alpha1\nkind: User\nmetadata:\n  name: jane\nspec: {}\n",
     "spec.memberOf is missing"),
    ("apiVersion: backstage.io/v1alpha1\nkind: System\nmetadata:\n  name: s\nspec: {}\n", "spec.owner is missing"),
    ("apiVersion: backstage.io/v1alpha1\nkind: Domain\nmetadata:\n  name: d\nspec: null\n",
     "spec must be a mapping, not null"),
    ("- a list\n- not a mapping\n", "a document must be a mapping, not a list"),
    ("apiVersion: backstage.io/v1alpha1\nkind: ''\nmetadata:\n  name: '{{ cookiecutter.name }}'\n", "kind is empty"),
    ("apiVersion: backstage.io/v1alpha1\nmetadata:\n  name: no-kind\n", "kind is missing"),
])
def test_an_invalid_document_is_reported_with_its_reason_and_the_others_are_imported(tmp_path, document, reason):
    report = run_import(tmp_path, "---\n".join([component("fine"), document]))

    invalid = [result for result in report.documents if result.outcome == "invalid"]
    assert len(invalid) == 1
    assert any(reason in text for text in invalid[0].reasons), invalid[0].reasons
    assert report.exit_code == 1
    assert list(Service.objects.values_list("slug", flat=True)) == ["fine"]


def test_every_problem_of_a_document_is_reported_at_once(tmp_path):
    report = run_import(tmp_path, component("bad name", owner="'x y'", extra_metadata="  tags: [A B]\n"))

    (result,) = report.documents
    assert len(result.reasons) == 3
    assert "bad name" in result.line() and "skipped (invalid)" in result.line()


def test_a_broken_document_leaves_nothing_half_written(tmp_path):
    # Owner and system would be fine, the dependency is not: nothing of it may be written,
    # not even the team its owner would have declared.
    broken = component("ledger", owner="group:new-team", extra_spec="  dependsOn: [component:ok, bare]\n")

    report = run_import(tmp_path, broken)

    assert outcomes(report) == {"Component:ledger": "invalid"}
    assert not Service.objects.exists()
    assert not Team.objects.exists()
    assert not AuditEvent.objects.exclude(object_type="location").exists()
    assert report.declared_teams == []


def test_kinds_slipway_does_not_model_are_skipped_not_errors(tmp_path):
    others = [
        "apiVersion: backstage.io/v1alpha1\nkind: Environment\nmetadata:\n  name: prod\nspec: {type: kubernetes}\n",
        "apiVersion: backstage.io/v1alpha1\nkind: Workflow\nmetadata:\n  name: db\nspec: {type: argo}\n",
        "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: all\nspec: {targets: [./a.yaml]}\n",
        "apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\nmetadata:\n  name: '${{ values.name }}'\n",
        "apiVersion: example.com/v1\nkind: Package\nmetadata: {}\n",
    ]
    report = run_import(tmp_path, "---\n".join([component("fine"), *others]))

    assert [r.outcome for r in report.documents] == ["created", "skipped", "skipped", "followed", "skipped", "skipped"]
    assert "target './a.yaml'" not in report.documents[3].line()  # followed: its target is read (and is missing)
    assert report.file_errors == [{"file": "a.yaml", "error": "a.yaml does not exist (named by catalog-info.yaml)"}]
    assert "kind Environment is not modelled by Slipway" in report.documents[1].reasons
    assert report.exit_code == 1  # only for the missing target the Location names


def test_empty_documents_and_yaml_that_is_no_entity_are_not_errors(tmp_path):
    report = run_import(tmp_path, "# just a header\n---\n---\n" + component("fine") + "---\nname: ci-config\n---\n")

    assert [(r.index, r.outcome) for r in report.documents] == [(2, "created"), (3, "skipped")]
    assert report.exit_code == 0


def test_yaml_1_2_scalars_stay_strings_as_in_backstage(tmp_path):
    run_import(tmp_path, component("fine", extra_metadata="  description: 2024-01-01\n"
                                                          "  annotations: {example.com/enabled: yes}\n"))

    service = Service.objects.get()
    assert service.description == "2024-01-01"
    assert service.annotations == {"example.com/enabled": "yes"}


# ---------------------------------------------------------------------------------------------
# References: owners described elsewhere, forms, case, dependencies.


def test_an_owner_described_nowhere_is_declared_as_a_team_and_listed(tmp_path):
    report = run_import(tmp_path, component("ledger", owner="group:default/sre"))

    sre = Team.objects.get(slug="sre")
    assert sre.declared_by_import and not sre.memberships.exists()
    assert Service.objects.get().owner_team == sre
    assert report.declared_teams == ["sre"]
    assert "owner team sre not described anywhere" in result_for(report, "ledger").line()
    assert AuditEvent.objects.filter(action="team.create", changes={"declared_by_import": True}).count() == 1


def test_a_user_owner_described_nowhere_is_declared_as_a_person(tmp_path):
    report = run_import(tmp_path, component("ledger", owner="user:Jane.Doe"))

    user = User.objects.get(username="Jane.Doe")
    assert user.profile.declared_by_import
    assert not user.has_usable_password()
    assert report.declared_users == ["Jane.Doe"]


def test_a_declared_team_becomes_described_when_its_group_is_imported(tmp_path):
    run_import(tmp_path, component("ledger", owner="sre"))

    report = run_import(tmp_path, group("sre"), name="groups.yaml")

    result = result_for(report, "sre")
    assert result.outcome == "updated" and "declared_by_import" in result.changes
    assert not Team.objects.get(slug="sre").declared_by_import


def test_strict_refuses_documents_naming_an_owner_described_nowhere(tmp_path):
    report = run_import(tmp_path, "---\n".join([component("ledger", owner="sre"), component("fine", owner="ops"),
                                                group("ops")]), strict=True)

    assert outcomes(report) == {"Component:ledger": "invalid", "Component:fine": "created", "Group:ops": "created"}
    assert "spec.owner 'sre' names a group that is neither in the catalog nor in this import (--strict)" in (
        result_for(report, "ledger").reasons)
    assert list(Team.objects.values_list("slug", flat=True)) == ["ops"]
    assert report.exit_code == 1


def test_strict_refuses_in_turn_what_names_a_refused_document(tmp_path):
    # The group is refused (its parent is described nowhere), so the component owned by it is too.
    text = "---\n".join([group("ops", "  parent: nowhere\n"), component("fine", owner="ops")])

    report = run_import(tmp_path, text, strict=True)

    assert set(outcomes(report).values()) == {"invalid"}
    assert not Team.objects.exists()


def test_strict_accepts_owners_already_in_the_catalog(tmp_path):
    TeamFactory(slug="sre")

    report = run_import(tmp_path, component("ledger", owner="group:sre"), strict=True)

    assert outcomes(report) == {"Component:ledger": "created"}


def test_references_in_every_form_and_case_name_the_same_team(tmp_path):
    owners = ["Team-X", "group:team-x", "group:default/TEAM-X", "default/team-x", "Group:Default/Team-X"]
    text = "---\n".join(component(f"svc-{index}", owner=owner) for index, owner in enumerate(owners))

    run_import(tmp_path, "---\n".join([text, group("team-x")]))

    team = Team.objects.get()
    assert team.slug == "team-x" and not team.declared_by_import
    assert set(Service.objects.values_list("owner_team", flat=True)) == {team.pk}


def test_a_dependency_on_a_service_not_yet_in_the_catalog_is_linked_when_it_arrives(tmp_path):
    run_import(tmp_path, component("ledger", extra_spec="  dependsOn: [component:default/Billing]\n"))
    dependency = ServiceDependency.objects.get()
    assert (dependency.target_ref, dependency.target) == ("component:default/billing", None)

    run_import(tmp_path, component("billing"), name="billing.yaml")

    dependency.refresh_from_db()
    assert dependency.target == Service.objects.get(slug="billing")


def test_a_dependency_links_within_one_import_whatever_the_document_order(tmp_path):
    text = "---\n".join([component("ledger", extra_spec="  dependsOn: [component:Billing_API]\n"),
                         component("Billing_API")])

    run_import(tmp_path, text)

    assert ServiceDependency.objects.get().target == Service.objects.get(slug="billing-api")


def test_two_names_that_map_to_one_slug_are_reported_and_the_first_is_kept(tmp_path):
    report = run_import(tmp_path, "---\n".join([component("foo_bar"), component("foo-bar")]))

    assert outcomes(report) == {"Component:foo_bar": "created", "Component:foo-bar": "invalid"}
    assert "would both be service 'foo-bar'" in result_for(report, "foo-bar").reasons[0]


def test_a_name_that_maps_to_a_slug_held_by_another_component_is_refused(tmp_path):
    run_import(tmp_path, component("foo_bar"))

    report = run_import(tmp_path, component("foo.bar"), name="other.yaml")

    assert result_for(report, "foo.bar").reasons == [
        "service 'foo-bar' is already in the catalog as Component 'foo_bar'"]


def test_the_same_name_in_two_namespaces_is_two_entries_and_references_keep_their_namespace(tmp_path):
    finance = "  namespace: finance\n"
    report = run_import(tmp_path, "---\n".join([
        group("payments"), group("payments", extra_spec="") .replace("  name: payments\n", "  name: payments\n" + finance),
        component("ledger", owner="payments"),
        component("ledger", owner="finance/payments", extra_metadata=finance,
                  extra_spec="  dependsOn: ['component:ledger', 'component:finance/audit']\n"),
        component("audit", owner="group:finance/payments", extra_metadata=finance),
    ]))

    assert [r.outcome for r in report.documents] == ["created"] * 5
    assert sorted(Service.objects.values_list("slug", "namespace")) == [
        ("finance--audit", "finance"), ("finance--ledger", "finance"), ("ledger", "default")]
    assert Service.objects.get(slug="finance--ledger").owner_team.slug == "finance--payments"
    assert Service.objects.get(slug="ledger").owner_team.slug == "payments"
    assert sorted(ServiceDependency.objects.filter(service__slug="finance--ledger").values_list(
        "target_ref", "target__slug")) == [("component:default/ledger", "ledger"),
                                           ("component:finance/audit", "finance--audit")]
    assert report.declared_teams == []

    # The export writes each back in its namespace, and importing it again changes nothing.
    documents = {(d["kind"], d["metadata"].get("namespace", "default"), d["metadata"]["name"]): d
                 for d in catalog_export().documents}
    assert documents[("Component", "finance", "ledger")]["spec"]["owner"] == "group:finance/payments"
    assert {r.outcome for r in run_import(tmp_path, catalog_export().dump()).documents} == {"unchanged"}


def test_people_have_one_namespace_so_a_second_user_of_the_same_name_is_skipped(tmp_path):
    user = "apiVersion: backstage.io/v1alpha1\nkind: User\nmetadata:\n  name: ada\n{ns}spec:\n  memberOf: []\n"
    report = run_import(tmp_path, "---\n".join([user.format(ns=""), user.format(ns="  namespace: dev\n")]))

    assert [r.outcome for r in report.documents] == ["created", "skipped"]
    assert "a person has one account, in one namespace" in report.documents[1].reasons[0]
    assert report.exit_code == 0


def test_a_namespace_and_name_too_long_together_are_refused_with_the_reason(tmp_path):
    report = run_import(tmp_path, component("a" * 40, extra_metadata=f"  namespace: {'b' * 30}\n"))

    assert report.documents[0].outcome == "invalid"
    assert "'<namespace>--<name>', at most 63 characters" in report.documents[0].reasons[0]


def test_one_repository_named_by_several_components_goes_to_one_of_them(tmp_path):
    slug = "  annotations: {github.com/project-slug: acme/mono}\n"
    report = run_import(tmp_path, "---\n".join([component("api", extra_metadata=slug),
                                                component("mono", extra_metadata=slug)]))

    assert Service.objects.get(slug="mono").repository == "github.com/acme/mono"
    assert Service.objects.get(slug="api").repository is None
    assert "repository 'github.com/acme/mono' belongs to service 'mono'" in result_for(report, "api").line()


@pytest.mark.parametrize("location", ["url:http://[::1/a/b", "url:https://[zz]/acme/ledger"])
def test_a_source_location_urllib_cannot_split_is_no_repository_not_a_crash(tmp_path, location):
    # urlsplit() raised ValueError from inside the repository key: the whole import stopped with a traceback.
    located = f"  annotations: {{backstage.io/source-location: '{location}'}}\n"
    team = "---\n" + group("team-x")
    report = run_import(tmp_path, component("ledger", extra_metadata=located) + team)
    assert outcomes(report) == {"Component:ledger": "created", "Group:team-x": "created"}
    assert Service.objects.get(slug="ledger").repository is None


def test_a_shared_repository_named_like_none_of_its_components_goes_to_the_first_by_slug(tmp_path):
    # The same winner whatever the order of the documents, so an export (in slug order) keeps it.
    shared = "  annotations: {github.com/project-slug: acme/platform}\n"
    run_import(tmp_path, "---\n".join([component("zeta", extra_metadata=shared),
                                        component("alpha", extra_metadata=shared)]))

    assert dict(Service.objects.values_list("slug", "repository")) == {
        "alpha": "github.com/acme/platform", "zeta": None}


def test_a_parent_stated_only_by_the_parents_children_survives_importing_the_child_alone(tmp_path):
    run_import(tmp_path, group("ledger"), name="ledger.yaml")

    report = run_import(tmp_path, group("finance").replace("children: []", "children: [ledger]"), name="finance.yaml")
    assert Team.objects.get(slug="ledger").parent.slug == "finance"
    assert AuditEvent.objects.filter(action="team.update", object_repr="ledger",
                                     changes={"parent": [None, "finance"]}).exists()
    assert outcomes(report) == {"Group:finance": "created"}

    again = run_import(tmp_path, group("ledger"), name="ledger.yaml")
    assert outcomes(again) == {"Group:ledger": "unchanged"}
    assert Team.objects.get(slug="ledger").parent.slug == "finance"


def test_a_parent_neither_side_states_any_more_is_cleared(tmp_path):
    finance = group("finance").replace("children: []", "children: [ledger]")
    run_import(tmp_path, "---\n".join([finance, group("ledger")]))

    report = run_import(tmp_path, "---\n".join([group("finance"), group("ledger")]))

    assert result_for(report, "ledger").changes == ["parent"]
    assert Team.objects.get(slug="ledger").parent is None


def test_a_parent_that_would_make_a_cycle_is_not_kept(tmp_path):
    report = run_import(tmp_path, "---\n".join([group("a", "  parent: b\n"), group("b", "  parent: a\n")]))

    assert Team.objects.get(slug="a").parent.slug == "b"
    assert Team.objects.get(slug="b").parent is None
    assert "parent 'a' not kept: it would make a cycle of teams" in result_for(report, "b").notes


def test_dry_run_reports_what_would_change_and_writes_nothing(tmp_path):
    report = run_import(tmp_path, EVERY_KIND, dry_run=True)

    assert set(outcomes(report).values()) == {"created"}
    assert "Dry run: nothing was written." in report.summary()
    assert not Service.objects.exists() and not Team.objects.exists() and not AuditEvent.objects.exists()


# ---------------------------------------------------------------------------------------------
# Files and folders.


def test_a_yaml_syntax_error_in_one_file_is_reported_and_the_other_files_import(tmp_path):
    write(tmp_path, "a/good.yaml", component("good"))
    write(tmp_path, "b/broken.yml", "kind: Component\nmetadata: {name: [unclosed\n")
    write(tmp_path, ".hidden/ignored.yaml", component("hidden"))
    write(tmp_path, "notes.txt", "not yaml")

    report = catalog_import(path=tmp_path)

    assert report.files_read == 1
    assert report.file_errors[0]["file"] == "b/broken.yml"
    assert report.file_errors[0]["error"] == "YAML syntax error at line 3, column 1: did not find expected ',' or ']'"
    assert list(Service.objects.values_list("slug", flat=True)) == ["good"]
    assert report.exit_code == 1


def test_a_path_that_does_not_exist_or_holds_no_yaml_is_unreadable_input(tmp_path):
    with pytest.raises(DescriptorInputError):
        catalog_import(path=tmp_path / "missing.yaml")
    write(tmp_path, "readme.md", "nothing here")
    with pytest.raises(DescriptorInputError):
        catalog_import(path=tmp_path)


def test_nothing_readable_is_exit_code_2(tmp_path):
    report = run_import(tmp_path, "key: [unclosed\n")

    assert report.exit_code == 2 and report.files_read == 0


def test_a_big_file_parsed_in_two_halves_gives_the_same_report_as_in_one(tmp_path, monkeypatch):
    documents = [component(f"svc-{index}", owner="team-x") for index in range(40)]
    documents.insert(10, "not: [valid\n")  # a syntax error: both ways must report the same error
    path = write(tmp_path, "big.yaml", "---\n".join(documents))
    half = path.stat().st_size // 3
    monkeypatch.setattr(importer, "PARALLEL_BYTES", half)
    split = catalog_import(path=path, dry_run=True)
    monkeypatch.setattr(importer, "PARALLEL_BYTES", 10**9)
    whole = catalog_import(path=path, dry_run=True)
    assert split.file_errors == whole.file_errors != []

    del documents[10]
    path.write_text("---\n".join(documents))
    monkeypatch.setattr(importer, "PARALLEL_BYTES", half)
    split = catalog_import(path=path, dry_run=True)
    monkeypatch.setattr(importer, "PARALLEL_BYTES", 10**9)
    whole = catalog_import(path=path, dry_run=True)
    assert [r.line() for r in split.documents] == [r.line() for r in whole.documents]
    assert [r.index for r in split.documents] == list(range(1, 41))


def test_the_example_catalog_imports_every_valid_entity_and_reports_the_invalid_one():
    report = catalog_import(path=EXAMPLES)

    invalid = [r for r in report.documents if r.outcome == "invalid"]
    assert [(r.file, r.name) for r in invalid] == [("components/invalid-component.yaml", "invalid component")]
    assert any("'go 1.15.3' is not a valid tag" in reason for reason in invalid[0].reasons)
    skipped = sorted((r.kind, r.name) for r in report.documents if r.outcome == "skipped")
    assert skipped == [("User", "guest")]  # again, in namespace development
    followed = sorted((r.kind, r.name) for r in report.documents if r.outcome == "followed")
    assert followed == [("Location", "example-groups"), ("Location", "example-systems")]
    assert report.exit_code == 1

    assert sorted(Service.objects.values_list("slug", flat=True)) == [
        "alternative--different-namespace", "artist-lookup", "petstore", "playback-order", "podcast-api",
        "wayback-search"]  # in namespace alternative: its namespace kept in its slug
    assert sorted(Team.objects.filter(declared_by_import=False).values_list("slug", flat=True)) == [
        "acme-corp", "backstage", "infrastructure", "team-a", "team-b"]
    assert report.declared_teams == ["boxoffice", "sre", "team-c"]
    assert Team.objects.get(slug="boxoffice").parent.slug == "infrastructure"
    assert Team.objects.get(slug="team-a").parent.slug == "backstage"
    assert User.objects.filter(profile__declared_by_import=False).count() == 9
    assert Service.objects.get(slug="playback-order").owner_user.username == "guest"
    assert Service.objects.get(slug="alternative--different-namespace").owner_team.slug == "team-a"
    assert System.objects.get(slug="podcast").owner_user.username == "team-b"  # a person, as Backstage allows
    assert Domain.objects.get(slug="audio").owner.slug == "acme-corp"
    assert list(Service.objects.get(slug="artist-lookup").dependencies.values_list("target_ref", flat=True)) == [
        "resource:default/artists-db"]

    api = Api.objects.get(slug="wayback-search")
    assert (api.namespace, api.type, api.owner_team.slug) == ("default", "openapi", "team-a")
    assert Resource.objects.get(slug="artists-db").type == "database"
    assert set(EntityLink.objects.filter(service__slug="wayback-search").values_list("relation", "target_ref")) == {
        ("providesApis", "api:default/wayback-search"), ("consumesApis", "api:default/wayback-archive")}

    again = catalog_import(path=EXAMPLES)
    assert {r.outcome for r in again.documents} == {"unchanged", "skipped", "invalid", "followed"}


# ---------------------------------------------------------------------------------------------
# Export.


def test_export_then_import_into_an_empty_catalog_gives_the_same_catalog(tmp_path):
    run_import(tmp_path, EVERY_KIND)
    run_import(tmp_path, component("orphan", owner="declared-team"), name="more.yaml")
    before = catalog_snapshot()
    exported = catalog_export()
    assert exported.warnings == []

    wipe_catalog()
    report = run_import(tmp_path, exported.dump(), name="exported.yaml")

    assert report.exit_code == 0
    assert report.declared_teams == ["declared-team"]  # left out of the export, declared again
    assert catalog_snapshot() == before


def test_export_writes_back_every_field_it_imported(tmp_path):
    run_import(tmp_path, EVERY_KIND)
    exported = {(doc["kind"], doc["metadata"]["name"]): doc for doc in catalog_export().documents}

    # Reference fields, with the kind Backstage assumes when a reference names none.
    kinds = {"owner": "group", "system": "system", "domain": "domain", "parent": "group", "children": "group",
             "members": "user", "memberOf": "group", "dependsOn": None}

    def same(path: str, source: Any, written: Any) -> None:
        name = path.rpartition(".")[2]
        if isinstance(source, dict):
            for key, value in source.items():
                assert key in written, f"{path}.{key} was not exported"
                same(f"{path}.{key}", value, written[key])
        elif name in kinds and isinstance(source, list):
            assert {parse_entity_ref(ref, default_kind=kinds[name]) for ref in written} == {
                parse_entity_ref(ref, default_kind=kinds[name]) for ref in source}, path
        elif name in kinds:
            assert parse_entity_ref(written, default_kind=kinds[name]) == parse_entity_ref(
                source, default_kind=kinds[name]), path
        else:
            assert written == source, path

    for source in yaml.safe_load_all(EVERY_KIND):
        key = (source["kind"], source["metadata"]["name"])
        assert key in exported, key
        written = exported[key]
        assert written["apiVersion"] == "backstage.io/v1alpha1"
        same(f"{key}.metadata", source["metadata"], written["metadata"])
        same(f"{key}.spec", source["spec"], written["spec"])


def test_export_orders_kinds_so_references_come_first_and_warns_about_what_backstage_requires():
    TeamFactory(slug="ops")
    System.objects.create(slug="ownerless", name="ownerless")
    ServiceFactory(slug="ledger", owner_team=Team.objects.get(slug="ops"), repository="gitlab.example.org/a/b",
                   type="", tags=[])

    exported = catalog_export()

    assert [doc["kind"] for doc in exported.documents] == ["System", "Group", "Component"]
    assert exported.warnings == ["System 'ownerless' has no owner; Backstage requires spec.owner."]
    ledger = exported.documents[-1]
    assert ledger["spec"]["type"] == "unknown"
    assert ledger["metadata"]["annotations"]["backstage.io/source-location"] == "url:https://gitlab.example.org/a/b"
    assert exported.documents[1]["metadata"]["annotations"] == {
        "slack.com/channel": "#ops", "slipway.dev/derived": "slack.com/channel",  # made from the field: dropped on import
        "slipway.dev/on-call": "https://oncall.example.org/ops"}
