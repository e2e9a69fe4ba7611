"""schemathesis against /api/schema/: every operation, as a team member and as a plain viewer, finds no
server error, no undocumented status code, no body that breaks the schema and no wrong content type.

The schema is the one the app serves, loaded in-process over WSGI; requests go through the whole
Django stack (middleware, DRF, the service layer) on the test database. Cases are schemathesis's own
(valid bodies and parameters, and invalid ones), half of them aimed at rows that exist (the member's
service, runbook, environment, runs, tokens), so writes and detail pages are reached, not only 404s.

The examples per operation follow the Hypothesis profile: few in CI, many in `make fuzz`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from services.catalog import writes
from services.models import ApiToken, AuditEvent, Domain, Environment, Membership, ProvisioningRun, System
from services.scaffolder import runs as provisioning_runs
from tests.factories import MembershipFactory, ServiceFactory, TeamFactory, UserFactory, token_for
from tests.hypothesis_profiles import examples, profile_name

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES_PER_MODE = examples(ci=2)


def _operation_labels() -> list[str]:
    """The operations of the schema (drf-spectacular's generator: what /api/schema/ serves), for
    pytest ids; the test itself runs against the schema the app serves."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return sorted(
        f"{method.upper()} {path}"
        for path, item in schema["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    )


OPERATIONS = _operation_labels()


# Path parameters schemathesis cannot make invalid: every string without a slash is valid (a slash would
# change the path, not the parameter). test_nothing_to_negate_is_unsatisfiable pins this.
_UNNEGATABLE_PATH_SCHEMAS = ({"type": "string"}, {"type": "string", "pattern": "^[^/]+$"})


def _has_invalid_input(operation: Any) -> bool:
    """Whether the operation takes anything schemathesis can make invalid (NEGATIVE mode): a body, a
    query or header parameter, or a constrained path parameter. Without one, NEGATIVE mode only ends in
    Unsatisfiable, after Hypothesis's ~460 rejected attempts (2-6 s an operation, 20 operations)."""
    raw = operation.definition.raw
    return "requestBody" in raw or any(
        parameter["in"] != "path" or parameter.get("schema") not in _UNNEGATABLE_PATH_SCHEMAS
        for parameter in raw.get("parameters", []))


@contextlib.contextmanager
def _test_connection_kept() -> Iterator[None]:
    """Django's WSGI handler closes "old" connections around each request; inside a test's
    transaction that would break the test database connection (Django's test client does the same)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture(scope="module")
def api_schema(django_db_setup, django_db_blocker) -> Any:
    """The schema as the app serves it at /api/schema/ (in-process, WSGI), bound to the app."""
    app = get_wsgi_application()
    with django_db_blocker.unblock():
        return schemathesis.openapi.from_wsgi("/api/schema/?format=json", app)


def _world() -> dict[str, Any]:
    """Rows for the operations to find: a team with a member, its service (with a system, a runbook
    and an environment), a second service owned by a person, runs, tokens to revoke."""
    parent = TeamFactory(slug="finance", name="Finance")
    team = TeamFactory(slug="payments", name="Payments", parent=parent)
    member = UserFactory(username="mia")
    MembershipFactory(user=member, team=team, role=Membership.Role.MEMBER)
    viewer = UserFactory(username="vic")
    domain = Domain.objects.create(slug="money", name="Money", owner=team)
    System.objects.create(slug="books", name="Books", domain=domain, owner=team)
    System.objects.create(slug="loose", name="Loose")
    Domain.objects.create(slug="empty", name="Empty")
    service = writes.service_create(actor=member, slug="ledger", owner="payments", system="books",
                                     repository="github.com/acme/ledger", depends_on=["pricing", "api:billing"])
    ServiceFactory(slug="solo", owner_team=None, owner_user=member, repository=None, tier=None)
    runbook = writes.runbook_create(actor=member, service=service, title="Restart", body="# Restart\n\nDo it.")
    environment = Environment.objects.create(service=service, name="prod", url="https://ledger.example.org/")
    failed, _ = provisioning_runs.run_create(
        actor=member, template="python-service", owner="payments",
        inputs={"service_name": "fuzz-failed", "description": "A run that failed."})
    ProvisioningRun.objects.filter(pk=failed.pk).update(state=ProvisioningRun.State.FAILED, error="It broke.")
    queued, _ = provisioning_runs.run_create(
        actor=member, template="python-worker", owner="payments",
        inputs={"service_name": "fuzz-queued", "description": "A queued run."})
    keys = {"member": token_for(member), "viewer": token_for(viewer)}
    spare = {who: token_for(user) for who, user in (("member", member), ("viewer", viewer))}
    spare_ids = {who: ApiToken.objects.get(prefix=key[:12]).pk for who, key in spare.items()}
    event = AuditEvent.objects.order_by("-id").first()
    return {
        "keys": keys,
        "own_token_ids": {who: ApiToken.objects.get(prefix=key[:12]).pk for who, key in keys.items()},
        # Path parameters of rows that exist, by the first segment after /api/v1/.
        "known": {
            "services": {"slug": service.slug},
            "teams": {"slug": team.slug, "username": member.username},
            "runbooks": {"id": runbook.pk},
            "environments": {"id": environment.pk},
            "systems": {"slug": "books"},
            "domains": {"slug": "money"},
            "templates": {"name": "python-service"},
            "runs": {"id": str(failed.pk)},
            "runs-queued": {"id": str(queued.pk)},
            "audit": {"id": event.pk if event else 1},
        },
        "spare_token_ids": spare_ids,
    }


def _known_parameters(world: dict[str, Any], operation: Any, who: str) -> list[dict[str, Any]]:
    names = [parameter.name for parameter in operation.path_parameters]
    if not names:
        return []
    resource = operation.path.removeprefix("/api/v1/").split("/", 1)[0]
    choices = []
    for key in (resource, f"{resource}-queued"):
        known = world["known"].get(key)
        if known and all(name in known for name in names):
            choices.append({name: known[name] for name in names})
    if resource == "tokens":
        choices.append({"id": world["spare_token_ids"][who]})
    return choices


def _revokes_own_token(case: Any, world: dict[str, Any], who: str) -> bool:
    """A DELETE of the very token the fuzzer signs in with would turn every later case into a 401."""
    if case.method.upper() != "DELETE" or not case.path.startswith("/api/v1/tokens/"):
        return False
    return str((case.path_parameters or {}).get("id")) == str(world["own_token_ids"][who])


@pytest.mark.django_db
@pytest.mark.slow
@pytest.mark.parametrize("who", ["member", "viewer"])
@pytest.mark.parametrize("label", OPERATIONS)
def test_operation_answers_as_its_schema_says(api_schema, label, who):
    operation = api_schema.find_operation_by_label(label)
    assert operation is not None, f"{label} is generated but not served at /api/schema/"
    world = _world()
    headers = {"Authorization": f"Token {world['keys'][who]}"}

    modes = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
    if profile_name() == "ci" and not _has_invalid_input(operation):
        modes.remove(GenerationMode.NEGATIVE)  # nothing to negate; `make fuzz` still searches
    for mode in modes:
        strategies = [operation.as_strategy(generation_mode=mode)]
        strategies += [operation.as_strategy(generation_mode=mode, path_parameters=known)
                       for known in _known_parameters(world, operation, who)]

        @settings(max_examples=EXAMPLES_PER_MODE * len(strategies),
                  suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
        # JSON bodies only: the API speaks JSON. (A malformed multipart body answers DRF's own 415.)
        @given(case=st.one_of(strategies).filter(lambda case: case.media_type in (None, "application/json")))
        def call(case: Any) -> None:
            if _revokes_own_token(case, world, who):
                return
            case.call_and_validate(headers=headers, checks=CHECKS)

        with _test_connection_kept():
            try:
                call()
            except Unsatisfiable:
                # An operation without inputs (or whose every input is a free string) has no invalid case.
                if mode is GenerationMode.POSITIVE:
                    raise


def test_every_served_operation_is_fuzzed(api_schema):
    served = sorted(result.ok().label for result in api_schema.get_all_operations())
    assert served == OPERATIONS


@pytest.mark.parametrize("label", ["GET /api/v1/templates/", "GET /api/v1/systems/{slug}/", "GET /api/v1/teams/{slug}/"])
def test_nothing_to_negate_is_unsatisfiable(api_schema, label):
    """The premise of skipping NEGATIVE mode in CI, for each shape of operation skipped (no input, a
    free string path parameter, a slash-free one): schemathesis finds no invalid case for it."""
    operation = api_schema.find_operation_by_label(label)
    assert not _has_invalid_input(operation)

    @settings(max_examples=EXAMPLES_PER_MODE, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
    @given(case=operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))
    def negate(case: Any) -> None:
        raise AssertionError(f"schemathesis made an invalid case for {label}: {case!r}; skip NEGATIVE mode no more")

    with pytest.raises(Unsatisfiable):
        negate()
