"""`manage.py scaffold` starts a run and follows it to the end (a real worker does the work)."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from services.models import ProvisioningRun, Service
from tests.worker import celery_worker

ARGS = ["mini", "--owner", "payments", "--set", "service_name=cli-made", "--set", "port=9000",
        "--set", "lifecycle=production", "--set", "description=Made on the command line"]


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_scaffold_follows_the_run_to_success(team):
    out = StringIO()
    with celery_worker():
        call_command("scaffold", *ARGS, stdout=out)
    text = out.getvalue()
    assert "succeeded: service cli-made" in text
    assert "catalog.register" in text and "[succeeded]" in text
    assert Service.objects.get(slug="cli-made").owner_team == team
    assert ProvisioningRun.objects.get().inputs["port"] == 9000


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["mini", "--owner", "payments", "--set", "service_name=Bad Name"], "inputs.service_name"),
        (["mini", "--owner", "payments", "--set", "service_name=ok-name", "--set", "port=eighty"], "inputs.port"),
        (["mini", "--owner", "ghost", "--set", "service_name=ok-name"], "owner"),
        (["nope", "--owner", "payments"], "No template 'nope'"),
        (["mini", "--owner", "payments", "--set", "novalue"], "KEY=VALUE"),
        (["mini"], "--owner"),
    ],
)
def test_scaffold_refuses_bad_input_naming_it_and_stores_nothing(team, args, message):
    with pytest.raises(CommandError, match=message) as caught:
        call_command("scaffold", *args, stdout=StringIO())
    assert caught.value.returncode == 2
    assert not ProvisioningRun.objects.exists()


@pytest.mark.django_db
def test_scaffold_lists_templates_and_their_inputs():
    out = StringIO()
    call_command("scaffold", "--list", stdout=out)
    assert "mini — Mini service" in out.getvalue()
    assert "--set port=...  Port (default 8080)" in out.getvalue()


@pytest.mark.django_db
def test_scaffold_states_a_names_rule_in_words_not_as_a_regular_expression(team):
    with pytest.raises(CommandError) as caught:
        call_command("scaffold", "mini", "--owner", "payments", "--set", "service_name=Ledger", stdout=StringIO())
    assert "inputs.service_name must be 3 to 40 lowercase letters, digits and hyphens" in str(caught.value)
    assert "^" not in str(caught.value) and "[a-z" not in str(caught.value)
