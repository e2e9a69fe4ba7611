"""Who owns a file: CODEOWNERS read by sync (GitHub's three places, in order), the last matching rule,
owners matched to catalog teams and people, the service's owner when no rule matches; API and CLI."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from services.catalog.sync.locations import location_refresh_by_id, location_register
from services.models import CodeOwners
from tests.factories import TeamFactory, UserFactory
from tests.services.catalog.test_locations import push, seed_repository

pytestmark = pytest.mark.django_db

CODEOWNERS = """\
*                 @acme/payments
/billing/         @acme/billing-team @ada
/billing/legacy/  # nobody
"""


@pytest.fixture
def monorepo():
    TeamFactory(slug="payments", name="Payments")
    TeamFactory(slug="billing", name="Billing", github_team_slug="billing-team")
    UserFactory(username="ada", first_name="Ada", last_name="Lovelace")
    name = seed_repository()
    push("acme", name, {"docs/CODEOWNERS": "* @acme/nobody-reads-this\n", ".github/CODEOWNERS": CODEOWNERS})
    location = location_register(actor=UserFactory(is_staff=True), url=f"localhost/acme/{name}", team=None)
    location_refresh_by_id(location.pk)
    return name


def test_sync_keeps_the_codeowners_github_would_read(monorepo):
    row = CodeOwners.objects.get(repository=f"localhost/acme/{monorepo}")
    assert (row.path, row.text) == (".github/CODEOWNERS", CODEOWNERS)


def test_the_last_matching_rule_names_the_owners_matched_to_the_catalog(staff_client, monorepo):
    answer = staff_client.get("/api/v1/ownership/", {"path": f"localhost/acme/{monorepo}/billing/api.py"}).json()

    assert answer["query"]["file"] == "billing/api.py"
    assert answer["owned_by"] == "codeowners"
    rule = answer["codeowners"]
    assert (rule["file"], rule["line"], rule["pattern"]) == (".github/CODEOWNERS", 2, "/billing/")
    assert [(o["codeowner"], o["kind"], o["ref"]) for o in rule["owners"]] == [
        ("@acme/billing-team", "team", "group:billing"), ("@ada", "user", "user:ada")]
    assert answer["service"]["slug"] == "billing"  # the repository's service (of its two, the first by name)


def test_a_rule_without_owners_means_nobody(staff_client, monorepo):
    answer = staff_client.get("/api/v1/ownership/", {"path": f"localhost/acme/{monorepo}/billing/legacy/x.py"}).json()
    assert answer["owned_by"] == "nobody" and answer["codeowners"]["owners"] == []


def test_without_a_matching_rule_the_services_owner_answers(staff_client):
    TeamFactory(slug="payments")
    name = seed_repository()  # no CODEOWNERS at all
    location = location_register(actor=UserFactory(is_staff=True), url=f"localhost/acme/{name}", team=None)
    location_refresh_by_id(location.pk)

    answer = staff_client.get("/api/v1/ownership/", {"path": f"localhost/acme/{name}/src/app.py"}).json()

    assert answer["owned_by"] == "service" and answer["codeowners"] is None
    assert answer["owner"] == {"kind": "team", "ref": "group:payments"}
    assert CodeOwners.objects.get(repository=f"localhost/acme/{name}").path == ""  # looked for, none found


def test_a_github_blob_url_and_bad_paths(staff_client):
    assert staff_client.get("/api/v1/ownership/", {"path": "https://github.com/acme/x/blob/main/a.py"}).status_code == 404
    bad = staff_client.get("/api/v1/ownership/", {"path": "acme"})
    assert bad.status_code == 400 and "path" in bad.json()["errors"]
    traversal = staff_client.get("/api/v1/ownership/", {"path": "github.com/acme/x/blob/main/../../etc/passwd"})
    assert traversal.status_code == 400


def test_whoowns_answers_a_file_url(monorepo):
    out = StringIO()
    call_command("whoowns", f"localhost/acme/{monorepo}/blob/main/billing/api.py", "--json", stdout=out)
    assert json.loads(out.getvalue())["codeowners"]["pattern"] == "/billing/"


def test_whoowns_says_which_rule_decides(monorepo):
    out = StringIO()
    call_command("whoowns", f"localhost/acme/{monorepo}/blob/main/billing/api.py", stdout=out)
    assert out.getvalue().splitlines()[0] == ("billing/api.py: @acme/billing-team (group:billing), @ada (user:ada) "
                                              "— line 2 of .github/CODEOWNERS (/billing/)")


def test_the_ownership_page_shows_the_rule(client, monorepo):
    user = UserFactory()
    client.force_login(user)
    page = client.get("/ownership/", {"q": f"localhost/acme/{monorepo}/blob/main/billing/api.py"}).content.decode()
    assert "the last rule that matches it" in page and "@acme/billing-team" in page
