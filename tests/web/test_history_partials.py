"""The history of a service page and of a team page: one partial renders the audit events of both."""

from __future__ import annotations

import pytest

from services.catalog import people, writes
from tests.factories import RunbookFactory

pytestmark = pytest.mark.django_db

EVENTS = "services/partials/_audit_events.html"


def _history(response, section_id: str) -> str:
    """The page's history section, its whitespace runs made single spaces (the layout's indentation is
    not what is checked)."""
    body = response.content.decode()
    start = body.index(f'<section id="{section_id}"')
    return " ".join(body[start:body.index("</section>", start)].split())


@pytest.fixture
def edited(service, member, team):
    """`ledger` changed, its runbook edited, its team renamed: events for both pages."""
    writes.service_update(actor=member, service=service, data={"tier": 1})
    runbook = RunbookFactory(service=service, slug="on-call", title="On-call")
    writes.runbook_update(actor=member, runbook=runbook, data={"title": "On call"})
    people.team_update(actor=member, team=team, data={"name": "Payments team"})
    return service


@pytest.mark.parametrize("path", ["/services/ledger/", "/services/ledger/history/", "/teams/payments/"])
def test_every_history_is_rendered_by_the_shared_audit_events_partial(viewer_web, edited, path):
    response = viewer_web.get(path)
    assert response.status_code == 200
    assert EVENTS in [template.name for template in response.templates]


def test_the_team_history_names_and_links_the_service_the_service_history_does_not(viewer_web, edited):
    # As before the partial was shared: what a page shows of each event is unchanged.
    team_history = _history(viewer_web.get("/teams/payments/"), "team-history")
    assert 'changed <a href="/services/ledger/">ledger</a>' in team_history
    assert "changed the team" in team_history
    assert '<ul class="changes"><li><span class="field-name">tier</span> — → 1</li></ul>' in team_history
    service_history = _history(viewer_web.get("/services/ledger/"), "history")
    assert 'href="/services/ledger/"' not in service_history
    assert 'edited runbook <span class="muted">ledger: On call</span>' in service_history
    assert '<span class="field-name">title</span> On-call → On call</li></ul>' in service_history
