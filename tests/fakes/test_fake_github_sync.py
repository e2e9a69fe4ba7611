"""The fake GitHub's read side for syncing a catalog: contents, conditional requests, organization listings,
seeding helpers and push webhooks (PyGithub over real HTTP where it has a method, `requests` otherwise)."""

from __future__ import annotations

import base64
import calendar
import hashlib
import hmac
import re
import time
from typing import Any

import pytest
import requests
from github import Auth, Github, InputGitTreeElement, UnknownObjectException
from github.Repository import Repository

from tests.fakes import github_schema as schema
from tests.fakes.github import ZERO_SHA, FakeGitHub, etag_matches, sign_webhook

CATALOG = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: svc\n"
ETAG = re.compile(r'"[0-9a-f]{64}"')


def client(fake: FakeGitHub, **options: Any) -> Github:
    """PyGithub on the fake: lazy objects and no throttling (defaults sleep 0.25 s per call, 1 s per write)."""
    options.setdefault("seconds_between_requests", None)
    options.setdefault("seconds_between_writes", None)
    options.setdefault("lazy", True)
    return Github(base_url=fake.api_url, auth=Auth.Token(fake.token), **options)


def fetch(fake: FakeGitHub, full_name: str) -> Repository:
    """A repository read at once (GET /repos/{owner}/{repo}), not a lazy stub."""
    return client(fake, lazy=False).get_repo(full_name)


def get(fake: FakeGitHub, path: str, **headers: str) -> requests.Response:
    """A GET by hand with the fake's token (extra headers as keywords, `_` for `-`)."""
    sent = {"Authorization": f"token {fake.token}"} | {
        key.replace("_", "-"): value for key, value in headers.items()
    }
    return requests.get(fake.api_url + path, headers=sent, timeout=5)


def blob_sha(data: bytes) -> str:
    """git's blob id of `data`."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def pages(fake: FakeGitHub, query: str) -> list[requests.Response]:
    """Every page of GET /orgs/acme/repos, following rel="next" as a client does."""
    answers = [get(fake, f"/orgs/acme/repos?{query}")]
    while 'rel="next"' in answers[-1].headers.get("Link", ""):
        url = re.search(r'<([^>]+)>; rel="next"', answers[-1].headers["Link"])[1]  # type: ignore[index]
        answers.append(requests.get(url, headers={"Authorization": f"token {fake.token}"}, timeout=5))
    return answers


# -- contents --------------------------------------------------------------------------------------


def test_file_content_reads_back_through_pygithub(fake_github: FakeGitHub) -> None:
    fake_github.seed_repository(
        "acme", "svc", files={"catalog-info.yaml": CATALOG, "docs/index.md": "# Docs\n"}
    )
    repo = client(fake_github).get_repo("acme/svc")

    content = repo.get_contents("catalog-info.yaml")

    assert not isinstance(content, list)
    assert content.decoded_content == CATALOG.encode()
    assert content.sha == blob_sha(CATALOG.encode())  # the git blob id, as GitHub answers it
    assert (content.type, content.encoding, content.size) == ("file", "base64", len(CATALOG))
    assert (content.path, content.name) == ("catalog-info.yaml", "catalog-info.yaml")
    assert content.url.startswith(f"{fake_github.api_url}/repos/acme/svc/contents/catalog-info.yaml")
    assert content.git_url == f"{fake_github.api_url}/repos/acme/svc/git/blobs/{content.sha}"
    nested = repo.get_contents("docs/index.md")
    assert not isinstance(nested, list)
    assert (nested.path, nested.name, nested.decoded_content) == ("docs/index.md", "index.md", b"# Docs\n")
    listing = repo.get_contents("docs")
    assert isinstance(listing, list) and [(item.type, item.path) for item in listing] == [
        ("file", "docs/index.md")
    ]


def test_content_at_a_ref_and_base64_wrapped_as_github_does(fake_github: FakeGitHub) -> None:
    first = fake_github.seed_repository("acme", "svc", files={"catalog-info.yaml": CATALOG})
    old_head = first.refs["refs/heads/main"]
    text = "description: " + "x" * 100 + "\n"
    fake_github.push_files("acme", "svc", {"catalog-info.yaml": text})
    repo = client(fake_github).get_repo("acme/svc")

    assert repo.get_contents("catalog-info.yaml", ref=old_head).decoded_content == CATALOG.encode()  # type: ignore[union-attr]
    assert repo.get_contents("catalog-info.yaml", ref="main").decoded_content == text.encode()  # type: ignore[union-attr]
    lines = get(fake_github, "/repos/acme/svc/contents/catalog-info.yaml").json()["content"].split("\n")
    assert lines[-1] == "" and {len(line) for line in lines[:-2]} == {60}  # 60 per line, trailing newline


def test_missing_file_repository_or_ref_answers_404(fake_github: FakeGitHub) -> None:
    fake_github.seed_repository("acme", "svc", files={"catalog-info.yaml": CATALOG})
    fake_github.seed_repository("acme", "empty")
    repo = client(fake_github).get_repo("acme/svc")

    with pytest.raises(UnknownObjectException):
        repo.get_contents("nope.yaml")
    missing_file = get(fake_github, "/repos/acme/svc/contents/nope.yaml")
    missing_repo = get(fake_github, "/repos/acme/nope/contents/catalog-info.yaml")
    missing_ref = get(fake_github, "/repos/acme/svc/contents/catalog-info.yaml?ref=nope")
    empty = get(fake_github, "/repos/acme/empty/contents/catalog-info.yaml")

    assert missing_file.status_code == missing_repo.status_code == 404
    assert missing_file.json() == {"message": "Not Found", "documentation_url": schema.DOCS, "status": "404"}
    assert missing_repo.json()["message"] == "Not Found"
    assert (missing_ref.status_code, missing_ref.json()["message"]) == (
        404,
        "No commit found for the ref nope",
    )
    assert (empty.status_code, empty.json()["message"]) == (404, "This repository is empty.")


@pytest.mark.parametrize("accept", ["application/vnd.github.raw+json", "application/vnd.github.raw"])
def test_raw_media_type_answers_the_bytes(fake_github: FakeGitHub, accept: str) -> None:
    data = bytes(range(256))  # not text: the raw answer is the blob as stored
    fake_github.seed_repository("acme", "svc", files={"bin/data": data})

    answer = get(fake_github, "/repos/acme/svc/contents/bin/data", Accept=accept)

    assert answer.status_code == 200
    assert answer.content == data
    assert answer.headers["Content-Type"] == "application/vnd.github.raw; charset=utf-8"


def test_symlinks_submodules_and_large_files(fake_github: FakeGitHub) -> None:
    fake_github.seed_repository("acme", "svc", files={"catalog-info.yaml": CATALOG})
    big = b"x" * (1024 * 1024 + 1)
    fake_github.push_files("acme", "svc", {"big.bin": big})
    repo = client(fake_github).get_repo("acme/svc")
    head = repo.get_git_commit(fake_github.repo("acme", "svc").refs["refs/heads/main"])
    elements = [
        InputGitTreeElement("link.yaml", "120000", "blob", content="catalog-info.yaml"),
        InputGitTreeElement("dangling", "120000", "blob", content="nowhere/else"),
        InputGitTreeElement("vendor/lib", "160000", "commit", sha="a" * 40),
    ]
    tree = repo.create_git_tree(elements, base_tree=head.tree)
    commit = repo.create_git_commit("Links", tree, [head])
    repo.requester.requestJsonAndCheck("PATCH", f"{repo.url}/git/refs/heads/main", input={"sha": commit.sha})

    followed = get(fake_github, "/repos/acme/svc/contents/link.yaml").json()
    dangling = get(fake_github, "/repos/acme/svc/contents/dangling").json()
    submodule = get(fake_github, "/repos/acme/svc/contents/vendor/lib").json()
    listing = get(fake_github, "/repos/acme/svc/contents/vendor").json()
    too_large = get(fake_github, "/repos/acme/svc/contents/big.bin")
    raw_large = get(fake_github, "/repos/acme/svc/contents/big.bin", Accept="application/vnd.github.raw+json")

    assert (followed["type"], followed["path"]) == ("file", "catalog-info.yaml")  # a link to a file: the file
    assert (dangling["type"], dangling["target"]) == ("symlink", "nowhere/else")
    assert (submodule["type"], submodule["sha"]) == ("submodule", "a" * 40)
    assert [(item["type"], item["path"]) for item in listing] == [("file", "vendor/lib")]  # GitHub's quirk
    assert too_large.status_code == 403 and too_large.json()["errors"][0]["code"] == "too_large"
    assert raw_large.content == big


# -- conditional requests --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/repos/acme/svc/contents/catalog-info.yaml", "/orgs/acme/repos", "/repos/acme/svc"]
)
def test_etag_round_trip_answers_304_without_counting_against_the_rate_limit(
    fake_github: FakeGitHub, path: str
) -> None:
    fake_github.seed_repository("acme", "svc", files={"catalog-info.yaml": CATALOG})

    first = get(fake_github, path)
    etag = first.headers["ETag"]
    strong = get(fake_github, path, If_None_Match=etag)
    weak = get(fake_github, path, If_None_Match=f'W/{etag}, "other"')
    stale = get(fake_github, path, If_None_Match='"0000"')

    assert first.status_code == 200 and ETAG.fullmatch(etag)
    assert etag == '"' + hashlib.sha256(first.content).hexdigest() + '"'  # derived from the body
    for answer in (strong, weak):
        assert (answer.status_code, answer.content, answer.headers["ETag"]) == (304, b"", etag)
        assert answer.headers["x-ratelimit-remaining"] == first.headers["x-ratelimit-remaining"]
    assert stale.status_code == 200 and stale.headers["ETag"] == etag
    assert int(stale.headers["x-ratelimit-remaining"]) == int(first.headers["x-ratelimit-remaining"]) - 1
    assert [call.status for call in fake_github.calls] == [200, 304, 304, 200]
    assert [call.status for call in fake_github.rate_limited_calls()] == [200, 200]
    assert fake_github.rate_limit_used() == 2


def test_a_push_changes_the_etag(fake_github: FakeGitHub) -> None:
    fake_github.seed_repository("acme", "svc", files={"catalog-info.yaml": CATALOG})
    path = "/repos/acme/svc/contents/catalog-info.yaml"
    etag = get(fake_github, path).headers["ETag"]

    fake_github.push_files("acme", "svc", {"catalog-info.yaml": CATALOG + "  owner: payments\n"})
    changed = get(fake_github, path, If_None_Match=etag)

    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert b"owner: payments" in base64.b64decode(changed.json()["content"])


def test_pygithub_update_is_a_conditional_request(fake_github: FakeGitHub) -> None:
    fake_github.seed_repository("acme", "svc", files={"catalog-info.yaml": CATALOG})
    repo = fetch(fake_github, "acme/svc")

    unchanged = repo.update()  # sends If-None-Match with the ETag of the first answer
    fake_github.push_files("acme", "svc", {"README.md": "# svc\n"})
    changed = repo.update()

    assert (unchanged, changed) == (False, True)
    assert [call.status for call in fake_github.calls] == [200, 304, 200]
    assert len(fake_github.rate_limited_calls()) == 2


def test_etag_helpers_compare_weakly() -> None:
    assert etag_matches('W/"abc"', '"abc"') and etag_matches('"abc"', 'W/"abc"')
    assert etag_matches('"x", "abc"', '"abc"') and etag_matches("*", '"abc"')
    assert not etag_matches('"abd"', '"abc"') and not etag_matches(None, '"abc"')


def test_a_304_is_checked_too() -> None:
    # A 304 must answer a conditional GET and carry no body, described for the operation or not.
    route, params, _ = schema.find_route("GET", "/repos/acme/svc")
    assert route is not None
    conditional = {"if-none-match": '"abc"'}

    assert schema.validate_response(route, params, {}, 304, b"", {}, request_headers=conditional) == []
    assert schema.validate_response(route, params, {}, 304, b"", {}, request_headers={}) == [
        "304 answered to a request without If-None-Match or If-Modified-Since"
    ]
    assert schema.validate_response(route, params, {}, 304, b"{}", {}, request_headers=conditional) == [
        "a 304 answer has a body"
    ]


# -- organization repositories ---------------------------------------------------------------------


def test_org_repositories_paginate_over_three_pages_with_link_headers(fake_github: FakeGitHub) -> None:
    for index in range(250):
        fake_github.seed_repository("acme", f"svc-{index:03d}", files={"catalog-info.yaml": CATALOG})

    answers = pages(fake_github, "per_page=100")

    assert [len(answer.json()) for answer in answers] == [100, 100, 50]
    base = f"{fake_github.api_url}/orgs/acme/repos?per_page=100&page="
    assert answers[0].headers["Link"] == f'<{base}2>; rel="next", <{base}3>; rel="last"'
    assert answers[1].headers["Link"] == (
        f'<{base}1>; rel="prev", <{base}3>; rel="next", <{base}3>; rel="last", <{base}1>; rel="first"'
    )
    assert answers[2].headers["Link"] == f'<{base}2>; rel="prev", <{base}1>; rel="first"'
    names = [repo["name"] for answer in answers for repo in answer.json()]
    assert names == [f"svc-{index:03d}" for index in reversed(range(250))]  # newest created first
    first = answers[0].json()[0]
    assert {key: first[key] for key in ("full_name", "private", "archived", "default_branch")} == {
        "full_name": "acme/svc-249",
        "private": False,
        "archived": False,
        "default_branch": "main",
    }
    assert first["pushed_at"] and first["owner"]["login"] == "acme"


def test_pygithub_lists_every_page(fake_github: FakeGitHub) -> None:
    for index in range(250):
        fake_github.seed_repository("acme", f"svc-{index:03d}")

    repos = list(client(fake_github, per_page=100).get_organization("acme").get_repos(sort="full_name"))

    assert [repo.name for repo in repos] == [f"svc-{index:03d}" for index in range(250)]
    assert [(call.method, call.path) for call in fake_github.calls] == [("GET", "/orgs/acme/repos")] * 3


def test_org_repositories_type_sort_direction_and_page_size(fake_github: FakeGitHub) -> None:
    fake_github.seed_repository("acme", "b-public")
    fake_github.seed_repository("acme", "a-private", private=True)
    fake_github.seed_repository("acme", "c-internal", visibility="internal")
    fake_github.seed_repository("other", "elsewhere")

    def names(query: str) -> list[str]:
        return [repo["name"] for repo in get(fake_github, f"/orgs/acme/repos?{query}").json()]

    assert names("") == ["c-internal", "a-private", "b-public"]  # sort=created, desc
    assert names("sort=full_name") == ["a-private", "b-public", "c-internal"]  # asc by default
    assert names("sort=full_name&direction=desc") == ["c-internal", "b-public", "a-private"]
    assert names("type=public") == ["b-public"]
    assert names("type=private&sort=full_name") == ["a-private", "c-internal"]
    assert names("type=forks") == []
    fake_github.push_files("acme", "b-public", {"x": "y"})
    assert names("sort=pushed")[0] == "b-public"
    assert len(names("per_page=1")) == 1 and "Link" in get(fake_github, "/orgs/acme/repos?per_page=1").headers
    for index in range(105):
        fake_github.seed_repository("acme", f"many-{index}")
    assert len(names("per_page=500")) == 100  # GitHub caps per_page at 100


def test_unknown_org_answers_404(fake_github: FakeGitHub) -> None:
    assert get(fake_github, "/orgs/nobody/repos").status_code == 404


# -- seeding helpers -------------------------------------------------------------------------------


def test_pushed_at_moves_on_every_push(fake_github: FakeGitHub) -> None:
    fake_github.seed_repository("acme", "svc", files={"catalog-info.yaml": CATALOG})
    gh = client(fake_github)
    seeded = fetch(fake_github, "acme/svc").pushed_at

    fake_github.push_files("acme", "svc", {"catalog-info.yaml": CATALOG + "# edited\n"})
    after_helper = fetch(fake_github, "acme/svc").pushed_at
    repo = gh.get_repo("acme/svc")
    head = repo.get_git_commit(fake_github.repo("acme", "svc").refs["refs/heads/main"])
    commit = repo.create_git_commit("Through the API", head.tree, [head])
    repo.requester.requestJsonAndCheck("PATCH", f"{repo.url}/git/refs/heads/main", input={"sha": commit.sha})
    after_api = fetch(fake_github, "acme/svc").pushed_at

    # Two pushes in one second still move it: the fake's clock steps a second on when it has not.
    assert seeded < after_helper < after_api
    assert [item["message"] for item in fake_github.commits("acme", "svc")] == [
        "Through the API",
        "Update files",
        "Initial commit",
    ]


def test_archived_flag(fake_github: FakeGitHub) -> None:
    fake_github.seed_repository("acme", "old", files={"catalog-info.yaml": CATALOG}, archived=True)
    fake_github.seed_repository("acme", "svc", files={"catalog-info.yaml": CATALOG})
    pushed_at = fake_github.repo("acme", "svc").pushed_at

    fake_github.archive("acme", "svc")

    assert fetch(fake_github, "acme/old").archived is True
    assert fetch(fake_github, "acme/svc").archived is True
    assert {repo["name"]: repo["archived"] for repo in get(fake_github, "/orgs/acme/repos").json()} == {
        "old": True,
        "svc": True,
    }
    assert fake_github.repo("acme", "svc").pushed_at == pushed_at  # archiving is not a push
    with pytest.raises(ValueError, match="archived"):
        fake_github.push_files("acme", "svc", {"x": "y"})
    fake_github.archive("acme", "svc", archived=False)
    assert fetch(fake_github, "acme/svc").archived is False


def test_delete_file_and_remove_repository(fake_github: FakeGitHub) -> None:
    fake_github.seed_repository(
        "acme", "svc", files={"catalog-info.yaml": CATALOG, "README.md": "# svc\n"}, default_branch="trunk"
    )
    repo = client(fake_github).get_repo("acme/svc")

    fake_github.delete_file("acme", "svc", "catalog-info.yaml")

    assert fake_github.files("acme", "svc") == {"README.md": "# svc\n"}
    assert fake_github.commits("acme", "svc", "trunk")[0]["message"] == "Delete catalog-info.yaml"
    with pytest.raises(UnknownObjectException):
        repo.get_contents("catalog-info.yaml")
    with pytest.raises(KeyError):
        fake_github.delete_file("acme", "svc", "catalog-info.yaml")
    fake_github.remove_repository("acme", "svc")
    with pytest.raises(UnknownObjectException):
        fetch(fake_github, "acme/svc")
    assert get(fake_github, "/orgs/acme/repos").json() == []


def test_seeding_10000_repositories_with_one_file_each_is_timed(fake_github: FakeGitHub) -> None:
    started = time.perf_counter()
    for index in range(10_000):
        fake_github.seed_repository("acme", f"svc-{index:05d}", files={"catalog-info.yaml": CATALOG})
    seconds = time.perf_counter() - started
    print(f"\nseeded 10,000 repositories with one file each in {seconds:.2f} s")

    started = time.perf_counter()
    answer = get(fake_github, "/orgs/acme/repos?per_page=100&page=100")
    print(f"listed page 100 of 100 (schema-checked) in {time.perf_counter() - started:.2f} s")
    assert [repo["name"] for repo in answer.json()][-1] == "svc-00000"
    assert 'rel="next"' not in answer.headers["Link"]


# -- webhooks --------------------------------------------------------------------------------------


def test_push_event_validates_against_the_webhook_schema(fake_github: FakeGitHub) -> None:
    seeded = fake_github.seed_repository("acme", "svc", files={"catalog-info.yaml": CATALOG, "old.md": "x"})
    before = seeded.refs["refs/heads/main"]
    middle = fake_github.push_files("acme", "svc", {"docs/a.md": "a"})
    after = fake_github.push_files("acme", "svc", {"catalog-info.yaml": CATALOG + "# v2\n", "old.md": None})

    payload = fake_github.push_event("acme", "svc", before=before, after=after)

    assert schema.validate_webhook("push", payload) == []
    assert (payload["ref"], payload["before"], payload["after"]) == ("refs/heads/main", before, after)
    assert (payload["created"], payload["deleted"], payload["forced"]) == (False, False, False)
    assert [commit["id"] for commit in payload["commits"]] == [middle, after]  # oldest first
    assert payload["head_commit"]["id"] == after
    assert [(c["added"], c["removed"], c["modified"]) for c in payload["commits"]] == [
        (["docs/a.md"], [], []),
        ([], ["old.md"], ["catalog-info.yaml"]),
    ]
    repository = payload["repository"]
    assert (repository["full_name"], repository["default_branch"], repository["archived"]) == (
        "acme/svc",
        "main",
        False,
    )
    # Push payloads carry created_at and pushed_at as Unix times, unlike the REST API.
    assert repository["pushed_at"] == calendar.timegm(time.strptime(seeded.pushed_at, "%Y-%m-%dT%H:%M:%SZ"))
    assert payload["organization"]["login"] == "acme" and payload["sender"]["login"] == "slipway-bot"
    assert fake_github.violations == []


def test_push_event_with_changed_paths_and_a_created_branch(fake_github: FakeGitHub) -> None:
    seeded = fake_github.seed_repository("acme", "svc", files={"catalog-info.yaml": CATALOG})
    head = seeded.refs["refs/heads/main"]

    given = fake_github.push_event(
        "acme", "svc", before=ZERO_SHA, after=head, changed_paths=["catalog-info.yaml"], installation_id=42
    )

    assert schema.validate_webhook("push", given) == []
    assert given["created"] is True and given["installation"]["id"] == 42
    assert given["head_commit"]["added"] == ["catalog-info.yaml"]
    with pytest.raises(ValueError, match="not a commit"):
        fake_github.push_event("acme", "svc", before=head, after="f" * 40)


def test_broken_push_payload_fails_validation(fake_github: FakeGitHub) -> None:
    seeded = fake_github.seed_repository("acme", "svc", files={"catalog-info.yaml": CATALOG})
    head = seeded.refs["refs/heads/main"]
    payload = fake_github.push_event("acme", "svc", before=ZERO_SHA, after=head)

    del payload["repository"]
    payload["commits"][0]["id"] = 7
    payload["forced"] = "no"
    problems = schema.validate_webhook("push", payload)

    assert "(root): 'repository' is a required property" in problems
    assert "commits/0/id: 7 is not of type 'string'" in problems
    assert "forced: 'no' is not of type 'boolean'" in problems


def test_webhook_event_names_pick_the_entry() -> None:
    assert schema.webhook_key("push") == "push"
    assert schema.webhook_key("repository", {"action": "archived"}) == "repository-archived"
    assert schema.webhook_key("deployment_status", {"action": "created"}) == "deployment-status-created"
    with pytest.raises(KeyError, match="no webhook 'issues'"):
        schema.validate_webhook("issues", {})
    assert "(root): 'sender' is a required property" in schema.validate_webhook("repository-archived", {})


def test_sign_webhook_matches_githubs_documented_example() -> None:
    # docs.github.com, "Validating webhook deliveries": this secret and payload give this signature.
    signature = sign_webhook("It's a Secret to Everybody", b"Hello, World!")

    assert signature == "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def test_webhook_delivery_is_signed(fake_github: FakeGitHub) -> None:
    seeded = fake_github.seed_repository("acme", "svc", files={"catalog-info.yaml": CATALOG})
    payload = fake_github.push_event("acme", "svc", before=ZERO_SHA, after=seeded.refs["refs/heads/main"])

    body, headers = fake_github.webhook_delivery("push", payload, secret="s3cret")

    expected = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Hub-Signature-256"], f"sha256={expected}")
    assert headers["X-GitHub-Event"] == "push" and headers["Content-Type"] == "application/json"
    assert headers["X-GitHub-Hook-Installation-Target-Type"] == "organization"


def test_webhooks_subset_is_a_valid_description() -> None:
    from openapi_spec_validator import validate

    validate(schema.webhooks_spec())
