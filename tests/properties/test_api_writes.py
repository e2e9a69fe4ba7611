"""Every write endpoint of the API, given hostile bodies: a 4xx naming a field, or a correct write that
reads back as sent (normalised as documented) — never a 5xx.

Each test builds its rows and clients once, then runs its examples in the same test transaction (the
examples also meet what earlier ones wrote: a taken slug, a renamed service...). Clients are made in
the test, not taken from function-scoped fixtures, which Hypothesis would not reset between examples.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from services.models import ApiToken, Environment, Membership, ProvisioningRun, Runbook, Service, Team
from tests.factories import MembershipFactory, ServiceFactory, TeamFactory, UserFactory, token_for
from tests.hypothesis_profiles import examples
from tests.properties.strategies import hostile_text, hostile_value, json_body, json_junk

pytestmark = [pytest.mark.django_db]

_unique = itertools.count(1)
TEXT = hostile_text()


def _client(user: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
    return client


def _world() -> dict[str, Any]:
    team = TeamFactory(slug="payments", name="Payments")
    TeamFactory(slug="finance", name="Finance")
    member = UserFactory(username="mia")
    MembershipFactory(user=member, team=team, role=Membership.Role.MEMBER)
    staff = UserFactory(username="sam", is_staff=True)
    service = ServiceFactory(slug="ledger", owner_team=team, repository="github.com/acme/ledger")
    runbook = Runbook.objects.create(service=service, slug="restart", title="Restart", body="Do it.")
    environment = Environment.objects.create(service=service, name="prod")
    return {"member": _client(member), "staff": _client(staff), "service": service, "runbook": runbook,
            "environment": environment, "member_user": member}


def _send(client: APIClient, method: str, url: str, body: Any, **extra: Any) -> Any:
    return client.generic(method, url, json_body(body), content_type="application/json", **extra)


def _field_of(key: str) -> str:
    return key.split(".", 1)[0].split("[", 1)[0]


def assert_refused_or_written(response: Any, body: Any, fields: Any) -> dict | None:
    """The property: a 4xx with {"detail", "errors"} (a 400 or 409 naming a field: one of the endpoint's
    `fields` or one that was sent), or a 2xx whose JSON answer is returned; never a server error."""
    assert response.status_code < 500, response.content[:500]
    payload = response.json()
    if response.status_code >= 400:
        assert set(payload) == {"detail", "errors"}, payload
        assert isinstance(payload["detail"], str) and payload["detail"]
        if response.status_code in (400, 409):
            assert payload["errors"], payload
            # A lone surrogate in a field name comes back as "?" (JSON answers are UTF-8).
            sent = {k.encode("utf-8", "replace").decode() for k in body} if isinstance(body, dict) else set()
            allowed = sent | set(fields) | {"non_field_errors"}
            assert all(key in allowed or _field_of(key) in allowed for key in payload["errors"]), (payload, sorted(sent))
        return None
    assert 200 <= response.status_code < 300, response.status_code
    return payload


def assert_fits_the_database(row: Any) -> None:
    """What was accepted can be stored on every database: within max_length, no NUL (PostgreSQL refuses
    NUL in text, and longer values than the column; SQLite keeps both, so check here)."""
    for field in row._meta.concrete_fields:
        value = getattr(row, field.attname)
        if isinstance(value, str):
            assert "\x00" not in value, field.name
            if getattr(field, "max_length", None):
                assert len(value) <= field.max_length, (field.name, len(value))


def _trimmed(value: Any) -> Any:
    # DRF's CharField takes a number as its text and trims surrounding whitespace (str.strip).
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    return value.strip() if isinstance(value, str) else value


def bodies(base: dict[str, Any], fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """A valid body with some fields replaced by plausible or hostile values, one base field left out
    now and then, an unknown field now and then — or a body that is not an object at all."""
    changed = st.fixed_dictionaries({}, optional={name: st.one_of(strategy, hostile_value())
                                                  for name, strategy in fields.items()})
    extra = st.dictionaries(hostile_text(), json_junk(), max_size=1)
    objects = st.builds(lambda c, e, drop: {k: v for k, v in {**base, **e, **c}.items() if k not in drop},
                        changed, st.one_of(st.just({}), st.just({}), extra),
                        st.one_of(st.just(set()), st.just(set()),
                                  st.sets(st.sampled_from(sorted(base)), max_size=1) if base else st.just(set())))
    return st.one_of(objects, objects, objects, objects, json_junk())


# ---------------------------------------------------------------------------------------------
# Services.

SERVICE_FIELDS = {
    "slug": st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True), "name": TEXT, "description": TEXT,
    "owner": st.sampled_from(["payments", "group:payments", "user:mia", "user:nobody", "finance"]), "type": TEXT,
    "lifecycle": TEXT, "tier": st.sampled_from([1, 2, 3, None, 0, 4]), "language": TEXT,
    "system": st.one_of(st.none(), TEXT),
    "repository": st.one_of(st.none(), TEXT, st.sampled_from(
        ["acme/x", "https://github.com/acme/ledger.git", "git@github.com:acme/y.git"])),
    "links": st.lists(st.fixed_dictionaries({"url": st.one_of(TEXT, st.just("https://example.org/x"))},
                                            optional={"title": TEXT, "icon": TEXT, "type": TEXT}), max_size=3),
    "tags": st.lists(st.one_of(TEXT, st.from_regex(r"[a-z0-9]+(-[a-z0-9]+)*", fullmatch=True)), max_size=5),
    "annotations": st.dictionaries(TEXT, TEXT, max_size=3), "depends_on": st.lists(TEXT, max_size=3),
    "archived": st.booleans(),
}
SERVICE_TEXT = ("description", "type", "lifecycle", "language")


def _check_service(client: APIClient, slug: str, sent: dict[str, Any]) -> None:
    read = client.get(f"/api/v1/services/{slug}/")
    assert read.status_code == 200, read.content[:300]
    shown = read.json()
    for field in SERVICE_TEXT:
        if field in sent:
            assert shown[field] == _trimmed(sent[field]), field
    if "name" in sent:
        assert shown["name"] == (_trimmed(sent["name"]) or slug)
    for field in ("tier", "archived"):
        if field in sent:
            assert shown[field] == sent[field], field
    if "tags" in sent:
        assert shown["tags"] == list(dict.fromkeys(_trimmed(tag) for tag in sent["tags"]))
    if "annotations" in sent:
        assert shown["annotations"] == {k: _trimmed(v) for k, v in sent["annotations"].items()}
    assert_fits_the_database(Service.objects.get(slug=slug))


def test_service_create_refuses_or_stores_what_was_sent():
    world = _world()

    @settings(max_examples=examples(ci=30))
    @given(body=bodies({"slug": "x", "owner": "payments"}, SERVICE_FIELDS))
    @example(body={"slug": "x", "owner": "payments", "name": "a" * 1_000_000})
    @example(body={"slug": "x", "owner": "payments", "annotations": {"k": " v "}})
    # Regressions: a lone surrogate echoed in the error (orjson refused it: 500); a body over
    # DATA_UPLOAD_MAX_MEMORY_SIZE (Django's HTML 400 page).
    @example(body={"slug": "x", "owner": "payments", "\ud800": 1})
    @example(body={"slug": "x", "owner": "payments", "repository": "\udfff/x"})
    @example(body={"slug": "x", "owner": "payments", "description": "\U0001f680" * 300_000})
    def check(body: Any) -> None:
        if isinstance(body, dict) and body.get("slug") == "x":
            body = {**body, "slug": f"svc-{next(_unique)}"}
        answer = assert_refused_or_written(_send(world["member"], "POST", "/api/v1/services/", body), body,
                                           SERVICE_FIELDS)
        if answer is not None:
            _check_service(world["member"], answer["slug"], body)

    check()


def test_service_update_refuses_or_stores_what_was_sent():
    world = _world()
    fields = {name: strategy for name, strategy in SERVICE_FIELDS.items() if name not in ("slug", "owner")}

    @settings(max_examples=examples(ci=30))
    @given(body=bodies({}, fields))
    @example(body={"name": " "})  # regression: the update stored a blank name (create falls back to the slug)
    def check(body: Any) -> None:
        response = _send(world["member"], "PATCH", "/api/v1/services/ledger/", body)
        if assert_refused_or_written(response, body, fields) is not None:
            _check_service(world["member"], "ledger", body)

    check()


# ---------------------------------------------------------------------------------------------
# Teams (platform admins).

TEAM_FIELDS = {"slug": st.from_regex(r"[a-z][a-z0-9_.-]{0,20}", fullmatch=True), "name": TEXT, "description": TEXT,
               "parent": st.sampled_from(["finance", "payments", "", None, "nobody"]),
               "email": st.one_of(TEXT, st.emails()), "chat_channel": TEXT, "on_call": TEXT, "github_team_slug": TEXT}
TEAM_TEXT = ("description", "chat_channel", "on_call", "github_team_slug", "email")


def _check_team(client: APIClient, slug: str, sent: dict[str, Any]) -> None:
    read = client.get(f"/api/v1/teams/{slug}/")
    assert read.status_code == 200, read.content[:300]
    shown = read.json()
    for field in TEAM_TEXT:
        if field in sent:
            assert shown[field] == _trimmed(sent[field]), field
    if "name" in sent:
        assert shown["name"] == (_trimmed(sent["name"]) or slug)
    assert_fits_the_database(Team.objects.get(slug=slug))


def test_team_create_and_update_refuse_or_store_what_was_sent():
    world = _world()

    @settings(max_examples=examples(ci=25))
    @given(body=bodies({"slug": "x"}, TEAM_FIELDS), method=st.sampled_from(["POST", "PATCH"]))
    def check(body: Any, method: str) -> None:
        if method == "POST":
            if isinstance(body, dict) and body.get("slug") == "x":
                body = {**body, "slug": f"team-{next(_unique)}"}
            answer = assert_refused_or_written(_send(world["staff"], "POST", "/api/v1/teams/", body), body,
                                               TEAM_FIELDS)
            slug = answer["slug"] if answer else None
        else:
            body = {k: v for k, v in body.items() if k != "slug"} if isinstance(body, dict) else body
            answer = assert_refused_or_written(_send(world["staff"], "PATCH", "/api/v1/teams/finance/", body), body,
                                               TEAM_FIELDS)
            slug = "finance" if answer else None
        if slug:
            _check_team(world["staff"], slug, body)

    check()


# ---------------------------------------------------------------------------------------------
# Runbooks and environments.

RUNBOOK_FIELDS = {"service": st.sampled_from(["ledger", "LEDGER", "nope"]), "title": TEXT,
                  "slug": st.from_regex(r"[a-z0-9_-]{1,20}", fullmatch=True), "body": TEXT,
                  "last_reviewed": st.one_of(st.none(), st.dates().map(str), TEXT)}


def test_runbook_create_and_update_refuse_or_store_what_was_sent():
    world = _world()

    @settings(max_examples=examples(ci=25))
    @given(body=bodies({"service": "ledger", "title": "T"}, RUNBOOK_FIELDS), method=st.sampled_from(["POST", "PATCH"]))
    @example(body={"service": "ledger", "title": 0}, method="POST")  # a number is taken as its text
    def check(body: Any, method: str) -> None:
        if method == "POST":
            response = _send(world["member"], "POST", "/api/v1/runbooks/", body)
        else:
            body = {k: v for k, v in body.items() if k not in ("service", "slug")} if isinstance(body, dict) else body
            response = _send(world["member"], "PATCH", f"/api/v1/runbooks/{world['runbook'].pk}/", body)
        answer = assert_refused_or_written(response, body, RUNBOOK_FIELDS)
        if answer is None:
            return
        read = world["member"].get(f"/api/v1/runbooks/{answer['id']}/")
        assert read.status_code == 200
        shown = read.json()
        if "title" in body:
            assert shown["title"] == _trimmed(body["title"])
        if "body" in body:
            sent = body["body"]
            assert shown["body"] == (str(sent) if isinstance(sent, int | float) else sent)  # kept untrimmed
        assert "<script" not in shown["html"].lower()
        assert_fits_the_database(Runbook.objects.get(pk=answer["id"]))

    check()


ENVIRONMENT_FIELDS = {"service": st.sampled_from(["ledger", "nope"]),
                      "name": st.one_of(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,30}", fullmatch=True), TEXT),
                      "url": st.one_of(TEXT, st.just("https://ledger.example.org/")),
                      "required_reviewers": st.lists(TEXT, max_size=7),
                      "wait_timer": st.integers(-5, 50_000), "branch_policy": TEXT}


def test_environment_create_and_update_refuse_or_store_what_was_sent():
    world = _world()

    @settings(max_examples=examples(ci=25))
    @given(body=bodies({"service": "ledger", "name": "x"}, ENVIRONMENT_FIELDS),
           method=st.sampled_from(["POST", "PATCH"]))
    def check(body: Any, method: str) -> None:
        if method == "POST":
            if isinstance(body, dict) and body.get("name") == "x":
                body = {**body, "name": f"env-{next(_unique)}"}
            response = _send(world["member"], "POST", "/api/v1/environments/", body)
        else:
            body = {k: v for k, v in body.items() if k != "service"} if isinstance(body, dict) else body
            response = _send(world["member"], "PATCH", f"/api/v1/environments/{world['environment'].pk}/", body)
        answer = assert_refused_or_written(response, body, ENVIRONMENT_FIELDS)
        if answer is None:
            return
        read = world["member"].get(f"/api/v1/environments/{answer['id']}/")
        assert read.status_code == 200
        shown = read.json()
        for field in ("name", "url", "branch_policy"):
            if field in body:
                assert shown[field] == _trimmed(body[field]), field
        for field in ("wait_timer", "required_reviewers"):
            if field in body:
                assert shown[field] == ([_trimmed(r) for r in body[field]] if field == "required_reviewers"
                                        else body[field])
        assert_fits_the_database(Environment.objects.get(pk=answer["id"]))

    check()


# ---------------------------------------------------------------------------------------------
# Runs (with the Idempotency-Key header), template previews and tokens.

INPUTS = st.fixed_dictionaries({}, optional={
    "service_name": st.one_of(st.from_regex(r"[a-z][a-z0-9-]{2,20}", fullmatch=True), TEXT),
    "description": TEXT, "lifecycle": st.sampled_from(["experimental", "production", "x"]),
    "python_version": st.sampled_from(["3.12", "3.11", 3.12]), "port": st.integers(0, 70_000),
    "poll_interval_seconds": st.integers(-1, 4000), "owner": TEXT, "_slipway": json_junk(),
})
RUN_FIELDS = {"template": st.sampled_from(["python-service", "python-worker", "../python-service", "nope"]),
              "owner": st.sampled_from(["payments", "finance", "nobody"]), "inputs": st.one_of(INPUTS, json_junk())}
LATIN1 = st.text(st.characters(max_codepoint=255), max_size=300)


def test_run_create_refuses_or_stores_the_validated_inputs():
    world = _world()

    @settings(max_examples=examples(ci=25))
    @given(body=bodies({"template": "python-service", "owner": "payments", "inputs": {}}, RUN_FIELDS),
           key=st.one_of(st.none(), LATIN1, st.sampled_from(["k1", "k1", "k2"])))
    @example(body={"template": "python-service", "owner": "payments",
                   "inputs": {"service_name": "idem-one", "description": "x"}}, key="same")
    # Regression: orjson refused an integer beyond 64 bits while fingerprinting the request (500).
    @example(body={"template": "python-service", "owner": "payments", "inputs": {"port": 2**70}}, key=None)
    def check(body: Any, key: str | None) -> None:
        headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
        response = _send(world["member"], "POST", "/api/v1/runs/", body, **headers)
        answer = assert_refused_or_written(response, body, {*RUN_FIELDS, "Idempotency-Key"})
        if answer is None:
            return
        run = ProvisioningRun.objects.get(pk=answer["id"])
        assert_fits_the_database(run)
        if response.status_code == 202:
            assert run.inputs == answer["inputs"]
            for name, value in body["inputs"].items():
                assert run.inputs[name] == value  # validated values are stored exactly, never rendered
        read = world["member"].get(f"/api/v1/runs/{answer['id']}/")
        assert read.status_code == 200

    check()


def test_template_preview_refuses_or_renders():
    world = _world()

    @settings(max_examples=examples(ci=15))
    @given(body=bodies({"owner": "payments", "inputs": {}}, {k: RUN_FIELDS[k] for k in ("owner", "inputs")}),
           name=st.one_of(st.sampled_from(["python-service", "python-worker"]), TEXT))
    def check(body: Any, name: str) -> None:
        encoded = name.encode("utf-8", "surrogatepass")
        from urllib.parse import quote

        response = _send(world["member"], "POST", f"/api/v1/templates/{quote(encoded, safe='')}/preview/", body)
        answer = assert_refused_or_written(response, body, {*RUN_FIELDS, "path"})  # a NUL in the URL: "path"
        if answer is not None:
            for file in answer["files"]:
                assert not file["path"].startswith("/") and ".." not in file["path"].split("/")
                assert "uid=" not in file["content"]

    check()


def test_token_create_refuses_or_stores_the_name():
    world = _world()

    @settings(max_examples=examples(ci=15))
    @given(body=bodies({"name": "ci"}, {"name": TEXT, "expires_in_days": st.one_of(st.none(), st.integers(-5, 4000))}))
    def check(body: Any) -> None:
        answer = assert_refused_or_written(_send(world["member"], "POST", "/api/v1/tokens/", body), body,
                                           {"name", "expires_in_days"})
        if answer is None:
            return
        token = ApiToken.objects.get(pk=answer["id"])
        assert token.name == _trimmed(body["name"]) == answer["name"]
        assert_fits_the_database(token)
        listed = world["member"].get("/api/v1/tokens/")
        assert listed.status_code == 200 and answer["id"] in [row["id"] for row in listed.json()["results"]]

    check()
