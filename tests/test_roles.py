"""The role table (README.md, "Who may do what"), walked through the API, the pages and the commands.

TABLE below is the rule; every CHECK performs one decision through one interface as each role, and
asserts it took effect exactly for the roles the table allows (a refusal is a 403 on the API and the
pages, exit code 1 for a command, and nothing changed). The README's table must say the same.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from rest_framework.test import APIClient

from services.models import (
    ApiToken,
    Environment,
    Membership,
    ProvisioningRun,
    Runbook,
    Service,
    Team,
    TemplateSetting,
)
from services.scaffolder import runs as provisioning_runs
from tests.factories import MembershipFactory, ServiceFactory, TeamFactory, UserFactory, token_for

pytestmark = pytest.mark.django_db

ROLES = ("viewer", "member", "lead", "admin")
EVERYONE = frozenset(ROLES)
MEMBERS = frozenset({"member", "lead", "admin"})
LEADS = frozenset({"lead", "admin"})
ADMINS = frozenset({"admin"})

# decision -> the roles allowed to take it (README.md shows this table).
TABLE: dict[str, frozenset[str]] = {
    "Read the catalog, runs and the audit log": EVERYONE,
    "Create, list and revoke their own API tokens": EVERYONE,
    "Register a service for the team": MEMBERS,
    "Register a service owned by one person; make a person a service's owner": ADMINS,
    "Hand the team's services to another team": LEADS,
    "Change, archive or delete the team's services": MEMBERS,
    "Add and edit the runbooks and environments of the team's services": MEMBERS,
    "Start runs for the team; retry or cancel them": MEMBERS,
    "Change the team's name, description and contacts": LEADS,
    "Add and remove the team's members, set their roles": LEADS,
    "Create teams; change a team's parent or GitHub team": ADMINS,
    "Turn golden-path templates off and on": ADMINS,
}


@dataclass
class World:
    team: Team
    people: dict[str, Any]
    service: Service
    run: ProvisioningRun


MINI = Path(__file__).resolve().parent / "data" / "scaffolds"


@pytest.fixture
def world(db, monkeypatch, settings) -> World:
    settings.SLIPWAY_SCAFFOLDS_DIR = MINI
    monkeypatch.setenv("SLIPWAY_SCAFFOLDS_DIR", str(MINI))
    monkeypatch.setattr("services.scaffolder.runs.enqueue", lambda run_id, countdown=None: None)
    team = TeamFactory(slug="payments", name="Payments")
    TeamFactory(slug="platform", name="Platform")
    people = {
        "viewer": UserFactory(username="vic"),
        "member": UserFactory(username="mia"),
        "lead": UserFactory(username="lea"),
        "admin": UserFactory(username="sam", is_staff=True),
    }
    UserFactory(username="pat")  # someone to add to the team
    MembershipFactory(user=people["member"], team=team, role=Membership.Role.MEMBER)
    MembershipFactory(user=people["lead"], team=team, role=Membership.Role.LEAD)
    for role in ("member", "lead"):  # both belong to another team too: a member may not move services there
        MembershipFactory(user=people[role], team=Team.objects.get(slug="platform"), role=Membership.Role.MEMBER)
    service = ServiceFactory(slug="ledger", owner_team=team, repository="github.com/acme/ledger")
    run, _ = provisioning_runs.run_create(
        actor=people["admin"], template="mini", owner="payments",
        inputs={"service_name": "queued-api", "description": "Waits", "lifecycle": "production", "port": 8080})
    return World(team=team, people=people, service=service, run=run)


def api(world: World, role: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(world.people[role])}")
    return client


def web(world: World, role: str) -> Client:
    client = Client()
    client.force_login(world.people[role])
    return client


def command(world: World, role: str, *argv: str) -> int:
    try:
        call_command(*argv, "--as", world.people[role].get_username(), stdout=open("/dev/null", "w"))  # noqa: SIM115
    except CommandError as error:
        return error.returncode
    return 0


def _team() -> Team:
    return Team.objects.get(slug="payments")


def _run_body(name: str) -> dict[str, Any]:
    return {"template": "mini", "owner": "payments",
            "inputs": {"service_name": name, "description": "New", "lifecycle": "production", "port": 8080}}


def _wizard_form(name: str) -> dict[str, str]:
    values = {"service_name": name, "description": "New", "lifecycle": "production", "port": "8080"}
    return {**{f"inputs.{key}": value for key, value in values.items()}, "owner": "payments",
            "idempotency_key": "7f9c1a52-5d8e-4a8b-9c55-000000000001", "action": "create"}


# Each check: (decision, interface, act(world, role) -> status, took_effect() -> bool).
Check = tuple[str, str, Callable[[World, str], int], Callable[[World], bool]]

CHECKS: list[Check] = [
    ("Read the catalog, runs and the audit log", "api",
     lambda w, r: api(w, r).get("/api/v1/services/ledger/").status_code, lambda w: True),
    ("Read the catalog, runs and the audit log", "api runs",
     lambda w, r: api(w, r).get(f"/api/v1/runs/{w.run.pk}/").status_code, lambda w: True),
    ("Read the catalog, runs and the audit log", "api audit",
     lambda w, r: api(w, r).get("/api/v1/audit/?service=ledger").status_code, lambda w: True),
    ("Read the catalog, runs and the audit log", "page",
     lambda w, r: web(w, r).get("/services/ledger/").status_code, lambda w: True),
    ("Read the catalog, runs and the audit log", "page team",
     lambda w, r: web(w, r).get("/teams/payments/").status_code, lambda w: True),
    ("Create, list and revoke their own API tokens", "api",
     lambda w, r: api(w, r).post("/api/v1/tokens/", {"name": "laptop"}, format="json").status_code,
     lambda w: ApiToken.objects.filter(name="laptop").exists()),
    ("Create, list and revoke their own API tokens", "page",
     lambda w, r: web(w, r).post("/tokens/", {"name": "laptop"}).status_code,
     lambda w: ApiToken.objects.filter(name="laptop").exists()),
    ("Register a service for the team", "api",
     lambda w, r: api(w, r).post("/api/v1/services/", {"slug": "billing", "owner": "payments"},
                                 format="json").status_code,
     lambda w: Service.objects.filter(slug="billing").exists()),
    ("Register a service owned by one person; make a person a service's owner", "api",
     lambda w, r: api(w, r).post("/api/v1/services/", {"slug": "billing", "owner": f"user:{w.people[r].username}",
                                                       "repository": "github.com/acme/billing"},
                                 format="json").status_code,
     lambda w: Service.objects.filter(slug="billing").exists()),
    ("Register a service owned by one person; make a person a service's owner", "api hand",
     lambda w, r: api(w, r).patch("/api/v1/services/ledger/", {"owner": f"user:{w.people[r].username}"},
                                  format="json").status_code,
     lambda w: Service.objects.get(slug="ledger").owner_user_id is not None),
    ("Hand the team's services to another team", "api",
     lambda w, r: api(w, r).patch("/api/v1/services/ledger/", {"owner": "platform"}, format="json").status_code,
     lambda w: Service.objects.get(slug="ledger").owner_team.slug == "platform"),
    ("Change, archive or delete the team's services", "api",
     lambda w, r: api(w, r).patch("/api/v1/services/ledger/", {"description": "Changed"}, format="json").status_code,
     lambda w: Service.objects.get(slug="ledger").description == "Changed"),
    ("Change, archive or delete the team's services", "api delete",
     lambda w, r: api(w, r).delete("/api/v1/services/ledger/").status_code,
     lambda w: not Service.objects.filter(slug="ledger").exists()),
    ("Change, archive or delete the team's services", "page",
     lambda w, r: web(w, r).post("/services/ledger/edit/", {"name": "Ledger", "description": "Changed"}).status_code,
     lambda w: Service.objects.get(slug="ledger").description == "Changed"),
    ("Add and edit the runbooks and environments of the team's services", "api runbook",
     lambda w, r: api(w, r).post("/api/v1/runbooks/", {"service": "ledger", "title": "On call"},
                                 format="json").status_code,
     lambda w: Runbook.objects.filter(title="On call").exists()),
    ("Add and edit the runbooks and environments of the team's services", "api environment",
     lambda w, r: api(w, r).post("/api/v1/environments/", {"service": "ledger", "name": "qa"},
                                 format="json").status_code,
     lambda w: Environment.objects.filter(name="qa").exists()),
    ("Add and edit the runbooks and environments of the team's services", "page runbook",
     lambda w, r: web(w, r).post("/services/ledger/new-runbook/", {"title": "On call", "body": "Page us."}).status_code,
     lambda w: Runbook.objects.filter(title="On call").exists()),
    ("Start runs for the team; retry or cancel them", "api",
     lambda w, r: api(w, r).post("/api/v1/runs/", _run_body("fresh-api"), format="json").status_code,
     lambda w: ProvisioningRun.objects.filter(service_slug="fresh-api").exists()),
    ("Start runs for the team; retry or cancel them", "api cancel",
     lambda w, r: api(w, r).post(f"/api/v1/runs/{w.run.pk}/cancel/").status_code,
     lambda w: ProvisioningRun.objects.get(pk=w.run.pk).state == ProvisioningRun.State.CANCELLED),
    ("Start runs for the team; retry or cancel them", "page wizard",
     lambda w, r: web(w, r).post("/create/mini/", _wizard_form("fresh-api")).status_code,
     lambda w: ProvisioningRun.objects.filter(service_slug="fresh-api").exists()),
    ("Start runs for the team; retry or cancel them", "page cancel",
     lambda w, r: web(w, r).post(f"/runs/{w.run.pk}/cancel/").status_code,
     lambda w: ProvisioningRun.objects.get(pk=w.run.pk).state == ProvisioningRun.State.CANCELLED),
    ("Start runs for the team; retry or cancel them", "command",
     lambda w, r: command(w, r, "scaffold", "mini", "--owner", "payments", "--set", "service_name=fresh-api",
                          "--set", "description=New", "--no-follow"),
     lambda w: ProvisioningRun.objects.filter(service_slug="fresh-api").exists()),
    ("Change the team's name, description and contacts", "api",
     lambda w, r: api(w, r).patch("/api/v1/teams/payments/", {"description": "Money"}, format="json").status_code,
     lambda w: _team().description == "Money"),
    ("Change the team's name, description and contacts", "page",
     lambda w, r: web(w, r).post("/teams/payments/edit/", {"name": "Payments", "description": "Money"}).status_code,
     lambda w: _team().description == "Money"),
    ("Add and remove the team's members, set their roles", "api",
     lambda w, r: api(w, r).post("/api/v1/teams/payments/members/", {"username": "pat"}, format="json").status_code,
     lambda w: Membership.objects.filter(team__slug="payments", user__username="pat").exists()),
    ("Add and remove the team's members, set their roles", "api role",
     lambda w, r: api(w, r).patch("/api/v1/teams/payments/members/mia/", {"role": "lead"}, format="json").status_code,
     lambda w: Membership.objects.get(team__slug="payments", user__username="mia").role == "lead"),
    ("Add and remove the team's members, set their roles", "api remove",
     lambda w, r: api(w, r).delete("/api/v1/teams/payments/members/mia/").status_code,
     lambda w: not Membership.objects.filter(team__slug="payments", user__username="mia").exists()),
    ("Add and remove the team's members, set their roles", "page",
     lambda w, r: web(w, r).post("/teams/payments/members/", {"username": "pat", "role": "member"}).status_code,
     lambda w: Membership.objects.filter(team__slug="payments", user__username="pat").exists()),
    ("Add and remove the team's members, set their roles", "page remove",
     lambda w, r: web(w, r).post("/teams/payments/members/", {"username": "mia", "role": "member",
                                                              "remove": "1"}).status_code,
     lambda w: not Membership.objects.filter(team__slug="payments", user__username="mia").exists()),
    ("Add and remove the team's members, set their roles", "command",
     lambda w, r: command(w, r, "team_members", "payments", "--add", "pat"),
     lambda w: Membership.objects.filter(team__slug="payments", user__username="pat").exists()),
    ("Create teams; change a team's parent or GitHub team", "api create",
     lambda w, r: api(w, r).post("/api/v1/teams/", {"slug": "search"}, format="json").status_code,
     lambda w: Team.objects.filter(slug="search").exists()),
    ("Create teams; change a team's parent or GitHub team", "api github",
     lambda w, r: api(w, r).patch("/api/v1/teams/payments/", {"github_team_slug": "payments-gh"},
                                  format="json").status_code,
     lambda w: _team().github_team_slug == "payments-gh"),
    ("Create teams; change a team's parent or GitHub team", "api parent",
     lambda w, r: api(w, r).patch("/api/v1/teams/payments/", {"parent": "platform"}, format="json").status_code,
     lambda w: _team().parent is not None),
    ("Create teams; change a team's parent or GitHub team", "page",
     lambda w, r: web(w, r).post("/teams/payments/edit/", {"name": "Payments", "parent": "platform",
                                                           "github_team_slug": "payments-gh"}).status_code,
     lambda w: _team().github_team_slug == "payments-gh" and _team().parent is not None),
    ("Turn golden-path templates off and on", "api",
     lambda w, r: api(w, r).patch("/api/v1/templates/mini/", {"enabled": False, "note": "Use python-service"},
                                  format="json").status_code,
     lambda w: TemplateSetting.objects.filter(name="mini", enabled=False).exists()),
    ("Turn golden-path templates off and on", "page",
     lambda w, r: web(w, r).post("/create/mini/switch/", {"enabled": "0", "note": "Use python-service"}).status_code,
     lambda w: TemplateSetting.objects.filter(name="mini", enabled=False).exists()),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("decision", "interface", "act", "took_effect"), CHECKS,
                         ids=[f"{decision[:40]}|{interface}" for decision, interface, _, _ in CHECKS])
def test_the_role_table(world, role, decision, interface, act, took_effect):
    allowed = role in TABLE[decision]
    status = act(world, role)
    if allowed:
        assert status < 400, f"{role} should be allowed to: {decision} ({interface}); got {status}"
        assert took_effect(world), f"{role} was answered {status} but nothing changed: {decision} ({interface})"
    else:
        # A refusal: 403 (API, pages) or exit code 1 (commands), and nothing changed. A lead's page
        # form simply has no structural fields, so what it posts for them is not taken: 302, unchanged.
        expected = {1} if interface == "command" else {403}
        if decision.startswith("Create teams") and interface == "page" and role == "lead":
            expected = {302}
        assert status in expected, f"{role} must not: {decision} ({interface}); got {status}"
        assert not took_effect(world), f"{role} was refused but it happened anyway: {decision} ({interface})"


def test_every_decision_is_walked_through_the_api_and_a_page_or_command():
    for decision in TABLE:
        interfaces = {interface.split()[0] for d, interface, _, _ in CHECKS if d == decision}
        assert "api" in interfaces, decision
        # API only: on the pages a service is registered by the wizard's run (walked under "Start runs"),
        # and its owner is not changed on the pages at all.
        if decision not in ("Register a service for the team", "Hand the team's services to another team",
                            "Register a service owned by one person; make a person a service's owner"):
            assert interfaces & {"page", "command"}, decision


def _readme_table() -> dict[str, frozenset[str]]:
    text = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = text.split("## Who may do what", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    header = [cell.strip().lower() for cell in rows[0].strip("|").split("|")]
    columns = {"viewer": 1, "member": 2, "lead": 3, "admin": 4}
    assert header[1:] == ["viewer", "team member", "team lead", "platform admin"], header
    table = {}
    for row in rows[2:]:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        table[cells[0]] = frozenset(role for role, index in columns.items() if cells[index] == "✓")
    return table


def test_the_readme_shows_the_same_table():
    assert _readme_table() == TABLE


def test_a_person_who_owns_a_service_directly_may_change_it_like_a_member(db):
    owner, other = UserFactory(username="ola"), UserFactory(username="oz")
    ServiceFactory(slug="notes", owner_team=None, owner_user=owner)
    for user, status in ((owner, 200), (other, 403)):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
        assert client.patch("/api/v1/services/notes/", {"description": user.username},
                            format="json").status_code == status
    assert Service.objects.get(slug="notes").description == "ola"


def test_whoever_started_a_run_may_cancel_it_after_leaving_the_team(world):
    mia = world.people["member"]
    run, _ = provisioning_runs.run_create(
        actor=mia, template="mini", owner="payments",
        inputs={"service_name": "mias-api", "description": "Mine", "lifecycle": "production", "port": 8080})
    Membership.objects.filter(user=mia).delete()
    assert api(world, "member").post(f"/api/v1/runs/{run.pk}/cancel/").status_code == 202


def test_the_team_page_shows_change_controls_only_to_those_allowed(world):
    for role in ROLES:
        page = web(world, role).get("/teams/payments/").content.decode()
        assert ("Edit team" in page) == (role in LEADS), role
        assert ("Add to team" in page) == (role in LEADS), role
        assert ('name="github_team_slug"' in web(world, role).get("/teams/payments/edit/").content.decode()) == (
            role in ADMINS), role


def test_membership_api_answers_clear_errors(world):
    lead = api(world, "lead")
    unknown = lead.post("/api/v1/teams/payments/members/", {"username": "nobody"}, format="json")
    assert unknown.status_code == 400 and "username" in unknown.json()["errors"]
    bad_role = lead.post("/api/v1/teams/payments/members/", {"username": "pat", "role": "owner"}, format="json")
    assert bad_role.status_code == 400 and "role" in bad_role.json()["errors"]
    not_member = lead.patch("/api/v1/teams/payments/members/pat/", {"role": "lead"}, format="json")
    assert not_member.status_code == 404
    assert lead.post("/api/v1/teams/nope/members/", {"username": "pat"}, format="json").status_code == 404
    listing = api(world, "viewer").get("/api/v1/teams/payments/members/").json()
    assert [(m["username"], m["role"]) for m in listing] == [("lea", "lead"), ("mia", "member")]


def test_a_lead_demoting_themselves_loses_the_lead_rights_at_once(world):
    lead = api(world, "lead")
    assert lead.patch("/api/v1/teams/payments/members/mia/", {"role": "lead"}, format="json").status_code == 200
    assert lead.patch("/api/v1/teams/payments/members/lea/", {"role": "member"}, format="json").status_code == 200
    assert lead.patch("/api/v1/teams/payments/", {"description": "x"}, format="json").status_code == 403


def test_the_last_lead_is_not_removed_or_demoted_except_by_an_admin(world, capsys):
    lead = api(world, "lead")
    for answer in (lead.patch("/api/v1/teams/payments/members/lea/", {"role": "member"}, format="json"),
                   lead.delete("/api/v1/teams/payments/members/lea/")):
        assert answer.status_code == 409
        assert "lea is the last lead of payments" in answer.json()["detail"]
    page = web(world, "lead").post("/teams/payments/members/", {"username": "lea", "role": "member", "remove": "1"})
    assert page.status_code in (200, 400, 409) and "last lead" in page.content.decode()
    assert command(world, "lead", "team_members", "payments", "--remove", "lea") != 0
    assert Membership.objects.get(team__slug="payments", user__username="lea").role == "lead"
    assert api(world, "admin").delete("/api/v1/teams/payments/members/lea/").status_code == 204


def test_a_template_turned_off_starts_no_run_and_says_why(world):
    admin = api(world, "admin")
    assert admin.patch("/api/v1/templates/mini/", {"enabled": False, "note": "Use python-service"},
                       format="json").status_code == 200
    assert api(world, "viewer").get("/api/v1/templates/mini/").json()["enabled"] is False
    refused = api(world, "member").post("/api/v1/runs/", _run_body("late-api"), format="json")
    assert refused.status_code == 400
    assert "Use python-service" in refused.json()["errors"]["template"][0]
    page = web(world, "member").get("/create/").content.decode()
    assert "turned off" in page and "Use python-service" in page and "Turn on" not in page
    assert "Turn on" in web(world, "admin").get("/create/").content.decode()
    assert web(world, "member").get("/create/mini/").status_code == 409
    # Runs accepted before go on, and the switch is audited and can be turned back.
    assert ProvisioningRun.objects.filter(pk=world.run.pk).exists()
    assert admin.patch("/api/v1/templates/mini/", {"enabled": True}, format="json").json()["enabled"] is True
    assert api(world, "member").post("/api/v1/runs/", _run_body("late-api"), format="json").status_code == 202
    bad = admin.patch("/api/v1/templates/mini/", {"enabled": "maybe"}, format="json")
    assert bad.status_code == 400 and "enabled" in bad.json()["errors"]
    assert admin.patch("/api/v1/templates/nope/", {"enabled": False}, format="json").status_code == 404


def test_the_membership_command_lists_and_refuses_clearly(world, capsys):
    call_command("team_members", "payments", "--add", "pat", "--role", "lead")  # the operator: no --as
    call_command("team_members", "payments")
    assert "pat\tlead" in capsys.readouterr().out
    with pytest.raises(CommandError) as refused:
        call_command("team_members", "payments", "--remove", "pat", "--as", "mia")
    assert refused.value.returncode == 1 and "only its leads" in str(refused.value)
    with pytest.raises(CommandError) as unknown:
        call_command("team_members", "payments", "--add", "nobody")
    assert unknown.value.returncode == 2 and "nobody" in str(unknown.value)
