"""Writes that race each other end in a clear answer, never a 500: two edits of a runbook at once keep
two revisions, two teams or runbooks of one name at once give one and a 409."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from services.catalog import people, writes
from services.errors import Conflict
from services.models import Runbook, Team
from tests.factories import ServiceFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def at_once(*calls):
    """Run the calls in threads released together; answers what each returned or raised."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(timeout=10)
            results[index] = call()
        except Exception as error:  # noqa: BLE001 - the answer under test
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_two_edits_of_a_runbook_at_once_keep_two_revisions():
    service = ServiceFactory(slug="ledger", owner_team=TeamFactory(slug="payments"))
    actor = UserFactory(username="ann")
    writes.runbook_create(actor=actor, service=service, title="On call", body="v1")

    def edit(text):
        return lambda: writes.runbook_update(actor=actor, runbook=Runbook.objects.get(slug="on-call"),
                                             data={"body": text})

    results = at_once(edit("v2 from ann"), edit("v2 from bob"))
    assert not [r for r in results if isinstance(r, Exception)], results
    numbers = sorted(Runbook.objects.get(slug="on-call").revisions.values_list("number", flat=True))
    assert numbers == [1, 2, 3]


def test_two_teams_of_one_name_at_once_give_one_team_and_a_conflict():
    results = at_once(lambda: people.team_create(actor=None, slug="search"),
                      lambda: people.team_create(actor=None, slug="search"))
    assert sorted(type(r).__name__ for r in results) == ["Conflict", "Team"], results
    assert Team.objects.filter(slug="search").count() == 1


def test_two_runbooks_of_one_name_at_once_give_one_runbook_and_a_conflict():
    service = ServiceFactory(slug="ledger", owner_team=TeamFactory(slug="payments"))
    results = at_once(lambda: writes.runbook_create(actor=None, service=service, title="On call"),
                      lambda: writes.runbook_create(actor=None, service=service, title="On call"))
    assert sum(isinstance(r, Conflict) for r in results) == 1 and Runbook.objects.count() == 1, results
