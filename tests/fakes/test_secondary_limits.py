"""The fake GitHub's opt-in secondary rate limits: GitHub's documented rules, GitHub's 403 answer."""

from __future__ import annotations

import threading

import pytest
import requests

from tests.fakes.github import FakeGitHub, SecondaryLimits

OTHER_TOKEN = "ghp_" + "0ther" * 7


def create(fake: FakeGitHub, name: str, token: str | None = None) -> requests.Response:
    return requests.post(f"{fake.api_url}/orgs/acme/repos", json={"name": name},
                         headers={"Authorization": f"token {token or fake.token}"}, timeout=10)


def get_org(fake: FakeGitHub) -> requests.Response:
    return requests.get(f"{fake.api_url}/orgs/acme", headers={"Authorization": f"token {fake.token}"}, timeout=10)


@pytest.fixture
def limited():
    """A fake with small limits (3 writes a minute), so a test reaches them in a few calls."""
    with FakeGitHub(enforce_secondary_limits=SecondaryLimits(content_per_minute=3, content_per_hour=10)) as fake:
        fake.add_token(OTHER_TOKEN)
        yield fake
    fake.assert_no_violations()


def test_the_policy_is_off_unless_asked(fake_github):
    statuses = [create(fake_github, f"svc-{index}").status_code for index in range(100)]
    assert statuses == [201] * 100
    assert fake_github.secondary_limit_hits == []


def test_the_defaults_are_githubs_documented_limits():
    limits = SecondaryLimits()
    assert (limits.content_per_minute, limits.content_per_hour, limits.concurrent_requests) == (80, 500, 100)
    with FakeGitHub(enforce_secondary_limits=True) as fake:
        statuses = [create(fake, f"svc-{index}").status_code for index in range(81)]
    assert statuses == [201] * 80 + [403]
    assert [hit.rule for hit in fake.secondary_limit_hits] == ["content-per-minute"]
    fake.assert_no_violations()


def test_more_writes_a_minute_than_allowed_get_githubs_403_with_retry_after(limited):
    assert [create(limited, f"svc-{index}").status_code for index in range(3)] == [201] * 3
    refused = create(limited, "svc-3")
    assert refused.status_code == 403
    assert "exceeded a secondary rate limit" in refused.json()["message"]
    assert 55 <= int(refused.headers["Retry-After"]) <= 60
    assert not limited.has_repo("acme", "svc-3")  # refused means not done
    assert get_org(limited).status_code == 200  # reads are not content-creating
    assert create(limited, "theirs", token=OTHER_TOKEN).status_code == 201  # the limit is per credential
    assert [(hit.rule, hit.method, hit.path) for hit in limited.secondary_limit_hits] == [
        ("content-per-minute", "POST", "/orgs/acme/repos")]
    assert [call for call in limited.calls if call.status == 403] == [("POST", "/orgs/acme/repos", 403)]
    assert limited.max_content_per_minute() == 3


def test_more_writes_an_hour_than_allowed_are_refused_for_the_hour():
    limits = SecondaryLimits(content_per_minute=100, content_per_hour=5)
    with FakeGitHub(enforce_secondary_limits=limits) as fake:
        assert [create(fake, f"svc-{index}").status_code for index in range(6)] == [201] * 5 + [403]
        refused = create(fake, "svc-late")
    assert refused.status_code == 403
    assert 3500 <= int(refused.headers["Retry-After"]) <= 3600
    assert {hit.rule for hit in fake.secondary_limit_hits} == {"content-per-hour"}
    fake.assert_no_violations()


def test_concurrent_writes_of_one_credential_are_refused(limited):
    limited.add_latency(0.5, "POST", "/orgs/*/repos")
    start = threading.Barrier(2)
    statuses: list[int] = []

    def write(name: str) -> None:
        start.wait()
        statuses.append(create(limited, name).status_code)

    threads = [threading.Thread(target=write, args=(f"svc-{index}",)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert sorted(statuses) == [201, 403]
    assert [hit.rule for hit in limited.secondary_limit_hits] == ["concurrent-writes"]
    assert limited.secondary_limit_hits[0].retry_after == 60


def test_serial_writes_back_to_back_are_not_counted_as_concurrent():
    # A request leaves the in-flight count before its answer is sent: the next one never overlaps it.
    with FakeGitHub(enforce_secondary_limits=SecondaryLimits(content_per_minute=1000, content_per_hour=1000)) as fake:
        session = requests.Session()
        session.headers["Authorization"] = f"token {fake.token}"
        statuses = [session.post(f"{fake.api_url}/orgs/acme/repos", json={"name": f"svc-{index}"},
                                 timeout=10).status_code for index in range(60)]
    assert statuses == [201] * 60
    assert fake.secondary_limit_hits == []
    assert fake.max_content_per_minute() == 60


def test_too_many_concurrent_requests_are_refused():
    with FakeGitHub(enforce_secondary_limits=SecondaryLimits(concurrent_requests=2)) as fake:
        fake.add_latency(0.5, "GET", "/orgs/*")
        start = threading.Barrier(3)
        statuses: list[int] = []

        def read() -> None:
            start.wait()
            statuses.append(get_org(fake).status_code)

        threads = [threading.Thread(target=read) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
    assert sorted(statuses) == [200, 200, 403]
    assert [hit.rule for hit in fake.secondary_limit_hits] == ["concurrent-requests"]


def test_the_portal_waits_for_the_retry_after_of_a_secondary_limit(limited):
    from services.hosts.base import TransientHostError
    from services.hosts.github import GitHubHost

    host = GitHubHost(api_url=limited.api_url, organisation="acme", token=limited.token, write_spacing=0,
                      writes_per_hour=0)  # no pacing: this is about the answer to a limit hit
    for index in range(3):
        host.create_repository(name=f"svc-{index}", description="", run_id=str(index))
    with pytest.raises(TransientHostError) as raised:
        host.create_repository(name="svc-3", description="", run_id="3")
    assert "rate limit" in str(raised.value)
    assert 55 <= raised.value.retry_after <= 60
