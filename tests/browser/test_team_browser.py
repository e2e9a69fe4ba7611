"""A team lead edits the team and its members in the browser; a platform admin turns a golden path off."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from services.models import Membership, Team, TemplateSetting
from tests.factories import MembershipFactory, TeamFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MINI = Path(__file__).resolve().parents[1] / "data" / "scaffolds"


def _person(username: str, **fields) -> object:
    user = UserFactory(username=username, **fields)
    user.set_password("a-long-password-1")
    user.save()
    return user


def test_a_lead_edits_the_team_and_its_members(page, live_server, sign_in, screenshot):
    team = TeamFactory(slug="payments", name="Payments")
    MembershipFactory(user=_person("lea", first_name="Lea", last_name="Lind"), team=team, role=Membership.Role.LEAD)
    MembershipFactory(user=_person("mia"), team=team, role=Membership.Role.MEMBER)
    _person("pat")
    sign_in("lea", "a-long-password-1")
    page.goto(f"{live_server.url}/teams/payments/")
    page.get_by_role("link", name="Edit team").click()
    expect(page.get_by_label("GitHub team")).to_have_count(0)  # an admin's field
    page.get_by_label("Description").fill("Takes the money.")
    page.get_by_label("On-call").fill("payments-primary")
    screenshot("team-edit-lead")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_text("Takes the money.", exact=True)).to_be_visible()

    page.get_by_label("Person").fill("pat")
    page.get_by_role("button", name="Add to team").click()
    expect(page.get_by_text("pat is a member of Payments")).to_be_visible()
    page.get_by_role("row", name="mia").get_by_role("button", name="Make lead").click()
    page.get_by_role("button", name="Remove pat from Payments").click()
    expect(page.get_by_text("pat is no longer in Payments")).to_be_visible()
    page.get_by_label("Person").fill("nobody")
    page.get_by_role("button", name="Add to team").click()
    expect(page.get_by_text("no user 'nobody'")).to_be_visible()
    screenshot("team-members-lead")
    page.set_viewport_size({"width": 390, "height": 900})
    screenshot("team-members-lead-phone")
    roles = dict(Membership.objects.filter(team=team).values_list("user__username", "role"))
    assert roles == {"lea": "lead", "mia": "lead"}
    assert Team.objects.get(slug="payments").on_call == "payments-primary"


def test_an_admin_turns_a_golden_path_off_and_on(page, live_server, sign_in, screenshot, settings):
    settings.SLIPWAY_SCAFFOLDS_DIR = MINI
    _person("sam", is_staff=True)
    sign_in("sam", "a-long-password-1")
    page.goto(f"{live_server.url}/create/")
    page.get_by_label("Why turn Mini service off").fill("Use python-service instead.")
    page.get_by_role("button", name="Turn off").click()
    expect(page.get_by_text("Mini service is turned off.")).to_be_visible()
    expect(page.get_by_text("Use python-service instead.")).to_be_visible()
    screenshot("wizard-template-off")
    assert TemplateSetting.objects.get(name="mini").enabled is False
    page.get_by_role("button", name="Turn on").click()
    expect(page.get_by_text("Mini service is turned on.")).to_be_visible()
    assert TemplateSetting.objects.get(name="mini").enabled is True
