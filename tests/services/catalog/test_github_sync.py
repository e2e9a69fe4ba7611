"""Sync from GitHub (the fake GitHub, schema-checked, over real HTTP through PyGithub): a repository
read with ETags, an organisation discovered (archived repositories left out, a removed one orphaning
its entries), a no-change refresh costing no rate-limited call, and signed push webhooks."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from services.catalog.sync.locations import (
    location_refresh_by_id,
    location_register,
    location_register_organisation,
)
from services.http.metrics import WEBHOOKS
from services.models import Location, Service
from tests.factories import UserFactory
from tests.fakes.github import DEFAULT_TOKEN
from tests.services.catalog.test_locations import component, location_doc

pytestmark = pytest.mark.django_db

SECRET = "a-webhook-secret-of-at-least-32-characters"
CODEOWNERS_PLACES = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")


@pytest.fixture
def github(fake_github, settings):
    settings.SLIPWAY_REPO_HOST = "github"
    settings.SLIPWAY_GITHUB_API_URL, settings.SLIPWAY_GITHUB_ORG = fake_github.api_url, "acme"
    settings.SLIPWAY_GITHUB_TOKEN = DEFAULT_TOKEN
    settings.SLIPWAY_GITHUB_WEBHOOK_SECRET = SECRET
    return fake_github


@pytest.fixture
def admin():
    return UserFactory(is_staff=True)


def test_a_repository_location_reads_through_the_contents_api_and_an_unchanged_file_costs_a_304(github, admin):
    github.seed_repository("acme", "ledger", files={
        "catalog-info.yaml": component("ledger") + "---\n" + location_doc("./docs/api.yaml"),
        "docs/api.yaml": component("ledger-api")})
    location = location_register(actor=admin, url="https://github.com/acme/ledger", team=None)

    first = location_refresh_by_id(location.pk)

    assert first.state == "ok", first.summary()
    assert sorted(Service.objects.values_list("slug", flat=True)) == ["ledger", "ledger-api"]
    github.reset_calls()
    again = location_refresh_by_id(location.pk)
    assert again.skipped
    assert [(call.method, call.status) for call in github.calls] == [("GET", 304), ("GET", 304)]
    assert github.rate_limited_calls() == []  # a 304 is not counted against the rate limit


def test_a_descriptor_url_names_the_branch_and_path(github, admin):
    github.seed_repository("acme", "mono", files={"services/pay/catalog-info.yaml": component("pay")})
    location = location_register(actor=admin, url="https://github.com/acme/mono/blob/main/services/pay/catalog-info.yaml",
                                 team=None)

    location_refresh_by_id(location.pk)

    assert (location.path, location.ref) == ("services/pay/catalog-info.yaml", "main")
    assert Service.objects.get(slug="pay").origin_path == "services/pay/catalog-info.yaml"


@pytest.fixture
def organisation(github):
    github.seed_repository("acme", "ledger", files={"catalog-info.yaml": component("ledger")})
    github.seed_repository("acme", "billing", files={"catalog-info.yaml": component("billing"),
                                                     "more.yaml": component("invoices")})
    github.seed_repository("acme", "old", files={"catalog-info.yaml": component("old")}, archived=True)
    github.seed_repository("acme", "scripts", files={"README.md": "no descriptor here"})
    return github


def test_an_organisation_is_discovered_archived_repositories_left_out(organisation, admin):
    location = location_register_organisation(actor=admin, organisation="acme")

    result = location_refresh_by_id(location.pk)

    assert sorted(Service.objects.values_list("slug", flat=True)) == ["billing", "ledger"]
    states = dict(Location.objects.get().sources.values_list("path", "state"))
    assert states == {"acme/billing/catalog-info.yaml": "read", "acme/ledger/catalog-info.yaml": "read",
                      "acme/scripts/catalog-info.yaml": "none"}
    assert result.state == "ok" and result.report.file_errors == []  # a repository without one is no error
    assert Service.objects.get(slug="billing").origin_path == "acme/billing/catalog-info.yaml"


def test_a_no_change_refresh_of_an_organisation_costs_no_rate_limited_call(organisation, admin):
    location = location_register_organisation(actor=admin, organisation="acme")
    location_refresh_by_id(location.pk)
    organisation.reset_calls()

    again = location_refresh_by_id(location.pk)

    assert again.skipped
    assert [(c.method, c.path.split("?")[0], c.status) for c in organisation.calls] == [
        ("GET", "/orgs/acme/repos", 304)]  # one listing page, not modified; no repository is asked
    assert organisation.rate_limited_calls() == []


def test_a_push_to_one_repository_reads_that_repository_only(organisation, admin):
    location = location_register_organisation(actor=admin, organisation="acme")
    location_refresh_by_id(location.pk)
    organisation.push_files("acme", "billing", {"catalog-info.yaml": component("billing").replace("service", "worker")})
    organisation.reset_calls()

    location_refresh_by_id(location.pk)

    asked = [c.path.split("?")[0] for c in organisation.calls]
    assert asked == ["/orgs/acme/repos", "/repos/acme/billing/contents/catalog-info.yaml",
                     *(f"/repos/acme/billing/contents/{path}" for path in CODEOWNERS_PLACES)]  # it has none
    assert Service.objects.get(slug="billing").type == "worker"


def test_a_repository_removed_or_archived_orphans_its_entries(organisation, admin):
    location = location_register_organisation(actor=admin, organisation="acme")
    location_refresh_by_id(location.pk)

    organisation.remove_repository("acme", "ledger")
    organisation.archive("acme", "billing")
    result = location_refresh_by_id(location.pk)

    assert result.orphans == {"Component": ["billing", "ledger"]}
    assert Service.objects.filter(orphaned_at__isnull=False).count() == 2


def test_an_organisation_that_cannot_be_listed_keeps_the_catalog(organisation, admin):
    location = location_register_organisation(actor=admin, organisation="acme")
    location_refresh_by_id(location.pk)
    organisation.fail("GET", "/orgs/acme/repos", status=502)

    result = location_refresh_by_id(location.pk)

    location.refresh_from_db()
    assert location.state == "failed" and "could not be listed" in location.last_error
    assert result.orphans == {} and not Service.objects.filter(orphaned_at__isnull=False).exists()
    assert (location.next_refresh_at - timezone.now()).total_seconds() <= 300  # tried again soon


# -- webhooks -----------------------------------------------------------------------------------------


def _deliver(client, fake, payload, *, secret=SECRET, event="push", tamper=False):
    body, headers = fake.webhook_delivery(event, payload, secret=secret)
    if tamper:
        body = body.replace(b'"acme/', b'"evil/', 1)
    extra = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()
             if name != "Content-Type"}
    return client.post("/webhooks/github/", data=body, content_type="application/json", **extra)


@pytest.fixture
def watched(github, admin):
    github.seed_repository("acme", "ledger", files={"catalog-info.yaml": component("ledger"),
                                                    "README.md": "hello"})
    location = location_register(actor=admin, url="acme/ledger", team=None)
    location_refresh_by_id(location.pk)
    Location.objects.filter(pk=location.pk).update(next_refresh_at=timezone.now() + timezone.timedelta(hours=1))
    return location


def _outcome(name):
    return WEBHOOKS.labels(name)._value.get()


def test_a_signed_push_touching_the_descriptor_refreshes_its_location(client, github, watched):
    before = github.repo("acme", "ledger").refs["refs/heads/main"]
    after = github.push_files("acme", "ledger", {"catalog-info.yaml": component("ledger").replace("service", "worker")})
    accepted = _outcome("accepted")

    response = _deliver(client, github, github.push_event("acme", "ledger", before=before, after=after))

    assert response.status_code == 202, response.json()
    assert response.json()["locations"] == [watched.pk]
    assert Location.objects.get(pk=watched.pk).next_refresh_at <= timezone.now()  # due now; queued on commit
    location_refresh_by_id(watched.pk)  # what the worker does
    assert Service.objects.get(slug="ledger").type == "worker"
    assert _outcome("accepted") == accepted + 1


def test_a_push_not_touching_a_descriptor_is_ignored(client, github, watched):
    before = github.repo("acme", "ledger").refs["refs/heads/main"]
    after = github.push_files("acme", "ledger", {"README.md": "changed"})

    response = _deliver(client, github, github.push_event("acme", "ledger", before=before, after=after))

    assert response.status_code == 200 and response.json()["outcome"] == "ignored"
    assert Location.objects.get(pk=watched.pk).next_refresh_at > timezone.now()


@pytest.mark.parametrize("how, status, outcome", [
    ("unsigned", 401, "refused_unsigned"),
    ("wrong secret", 401, "refused_signature"),
    ("tampered", 401, "refused_signature"),
])
def test_deliveries_without_a_good_signature_are_refused_and_counted(client, github, watched, how, status, outcome):
    before = github.repo("acme", "ledger").refs["refs/heads/main"]
    after = github.push_files("acme", "ledger", {"catalog-info.yaml": component("ledger") + "\n"})
    payload = github.push_event("acme", "ledger", before=before, after=after)
    counted = _outcome(outcome)

    response = _deliver(client, github, payload, secret=None if how == "unsigned" else
                        "another-secret" if how == "wrong secret" else SECRET, tamper=how == "tampered")

    assert response.status_code == status
    assert _outcome(outcome) == counted + 1
    assert Location.objects.get(pk=watched.pk).next_refresh_at > timezone.now()  # nothing was acted on


def test_webhooks_are_refused_while_no_secret_is_set(client, github, watched, settings):
    settings.SLIPWAY_GITHUB_WEBHOOK_SECRET = ""
    response = client.post("/webhooks/github/", data=json.dumps({}), content_type="application/json",
                           HTTP_X_GITHUB_EVENT="push", HTTP_X_HUB_SIGNATURE_256="sha256=00")
    assert response.status_code == 503


def test_a_redelivered_push_is_acted_on_once(client, github, watched):
    before = github.repo("acme", "ledger").refs["refs/heads/main"]
    after = github.push_files("acme", "ledger", {"catalog-info.yaml": component("ledger") + "\n"})
    body, headers = github.webhook_delivery("push", github.push_event("acme", "ledger", before=before, after=after),
                                            secret=SECRET)
    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items() if k != "Content-Type"}

    first = client.post("/webhooks/github/", data=body, content_type="application/json", **extra)
    second = client.post("/webhooks/github/", data=body, content_type="application/json", **extra)

    assert (first.json()["outcome"], second.json()["outcome"]) == ("accepted", "duplicate")


def test_a_push_to_an_organisations_repository_reads_that_repository_alone(client, organisation, admin,
                                                                           django_capture_on_commit_callbacks):
    from unittest import mock

    location = location_register_organisation(actor=admin, organisation="acme")
    location_refresh_by_id(location.pk)
    before = organisation.repo("acme", "billing").refs["refs/heads/main"]
    after = organisation.push_files("acme", "billing", {"catalog-info.yaml": component("billing").replace(
        "service", "worker")})
    sent = []
    with mock.patch("services.catalog.sync.locations.enqueue_refresh", lambda *args: sent.append(args)), \
            django_capture_on_commit_callbacks(execute=True):
        response = _deliver(client, organisation, organisation.push_event("acme", "billing", before=before,
                                                                          after=after))
    assert response.status_code == 202
    assert sent == [(location.pk, ["acme/billing"])]  # the task's arguments: this repository only
    organisation.reset_calls()

    location_refresh_by_id(*sent[0])  # what the worker does with them

    assert [c.path.split("?")[0] for c in organisation.calls] == [
        "/repos/acme/billing/contents/catalog-info.yaml",
        *(f"/repos/acme/billing/contents/{path}" for path in CODEOWNERS_PLACES)]
    assert Service.objects.get(slug="billing").type == "worker"
    assert Service.objects.filter(orphaned_at__isnull=False).count() == 0  # the others were kept as they were
