"""A generated runbook says what the portal already knows: the team's on-call, channel and e-mail,
where the repository is, and when it was written; the cookiecutter command line still gets the
placeholders (the template stays usable on its own)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from services.scaffolder import templates
from tests.factories import TeamFactory

pytestmark = pytest.mark.django_db

INPUTS = {"python-service": {"port": 8080}, "python-worker": {"poll_interval_seconds": 5}}


@pytest.mark.parametrize("name", sorted(INPUTS))
def test_the_generated_runbook_is_filled_from_the_catalog(settings, tmp_path, name):
    settings.SLIPWAY_REPO_HOST = "local"
    settings.SLIPWAY_REPOSITORY_DIR = tmp_path
    team = TeamFactory(slug="payments", name="Payments", chat_channel="#team-payments",
                       on_call="https://oncall.example.org/payments", email="payments@example.org")
    template = templates.template_get(name)
    values = templates.inputs_validate(template, {"service_name": "ledger-api", "description": "Keeps the books",
                                                  "lifecycle": "production", **INPUTS[name]})
    files = templates.scaffold_render(template, values, portal=templates.portal_values(
        template, owner="payments", team=team, service_name="ledger-api", host="local"))
    runbook = files["docs/runbook.md"]
    assert "#team-payments" in runbook and "https://oncall.example.org/payments" in runbook
    assert "payments@example.org" in runbook and "(Payments)" in runbook
    assert "_rotation or paging link_" not in runbook and "_chat channel_" not in runbook
    assert "YYYY-MM-DD" not in runbook and timezone.localdate().isoformat() in runbook
    assert f"`{tmp_path}/slipway/ledger-api.git`" in runbook and "https://github.com" not in runbook


def test_a_team_without_contacts_keeps_the_placeholders(settings):
    template = templates.template_get("python-service")
    values = templates.inputs_validate(template, {"service_name": "ledger-api", "description": "x",
                                                  "lifecycle": "production", "port": 8080})
    files = templates.scaffold_render(template, values, portal=templates.portal_values(
        template, owner="payments", team=TeamFactory(slug="payments", chat_channel="", on_call="", email=""), service_name="ledger-api",
        host="github"))
    assert "_rotation or paging link_" in files["docs/runbook.md"]
    assert "https://github.com/" in files["docs/runbook.md"]
