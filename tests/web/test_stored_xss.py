"""Stored XSS, field by field: each payload is written into every text field a page shows (service,
team, runbook, environment, system, domain, run inputs, token names), then every page that shows them
is parsed: no element or attribute came from the payload. Extends tests/web/test_page_security.py,
which covers one fixed hostile catalog; here every payload goes through every field."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.test import Client

from services.access import tokens
from services.catalog import writes
from services.models import Domain, Environment, Membership, ProvisioningRun, System
from services.scaffolder import runs as provisioning_runs
from tests.factories import MembershipFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

PAYLOADS = [
    '<script>alert("x1")</script>',
    '"><img src=x onerror=alert("x2")>',
    "'><svg/onload=alert('x3')>",
    "</textarea><script>alert('x4')</script>",
    "</title></style><iframe src=javascript:alert('x5')>",
    "{{ 7*7 }}{% now 'Y' %}<b onmouseover=alert('x6')>",
]
LINK_PAYLOADS = ["javascript:alert('x7')", " JaVaScRiPt:alert('x8')", "data:text/html,<script>alert('x9')</script>",
                 "vbscript:msgbox('x10')"]


class _Page(HTMLParser):
    """What a browser would build: elements, their attributes, and the text inside scripts."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.handlers: list[str] = []
        self.urls: list[str] = []
        self.inline_scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        values = dict(attrs)
        if tag == "script":
            self._in_script = not (values.get("src") or "").startswith("/static/")
            if self._in_script:
                self.inline_scripts.append("")
        for name, value in attrs:
            if name.startswith("on"):
                self.handlers.append(f"{tag} {name}={value}")
            if name in ("href", "src", "action", "formaction", "xlink:href") and value is not None:
                self.urls.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.inline_scripts[-1] += data


def _parsed(body: str) -> _Page:
    page = _Page()
    page.feed(body)
    return page


def _unsafe_urls(urls: list[str]) -> list[str]:
    schemes = ("javascript:", "data:", "vbscript:")
    return [url for url in urls if "".join(url.split()).lower().startswith(schemes)]


def _plant(payload: str, link: str) -> dict[str, str]:
    """Write `payload` into every text field shown on a page; answers the pages to fetch."""
    parent = TeamFactory(slug="evil-parent", name=f"Parent {payload}")
    team = TeamFactory(slug="evil", name=f"Evil {payload}", description=payload, parent=parent,
                       chat_channel=link, on_call=link, email="evil@example.org")
    owner = UserFactory(username="mallory", first_name=payload, last_name=payload)
    MembershipFactory(team=team, user=owner, role=Membership.Role.LEAD)
    domain = Domain.objects.create(slug="evil-domain", name=f"Domain {payload}", description=payload, owner=team)
    System.objects.create(slug="evil-system", name=f"System {payload}", description=payload, domain=domain, owner=team)
    service = writes.service_create(
        actor=owner, slug="evil-svc", owner="evil", name=f"Svc {payload}", description=payload, type=payload[:100],
        lifecycle=payload[:100], language=payload[:50], system="evil-system", tags=["ok-tag"],
        links=[{"url": link, "title": payload}, {"url": "https://ok.example.org/", "title": payload}],
        annotations={"backstage.io/techdocs-ref": payload}, depends_on=["component:other"])
    Environment.objects.create(service=service, name="prod", url=link, branch_policy=payload[:200],
                               required_reviewers=[payload[:100]])
    writes.runbook_create(actor=owner, service=service, slug="rb", title=f"Runbook {payload}",
                           body=f"{payload}\n\n[click]({link})\n\n<a href=\"{link}\">raw</a>")
    writes.service_update(actor=owner, service=service, data={"description": f"again {payload}"})
    run, _ = provisioning_runs.run_create(actor=owner, template="python-service", owner="evil",
                                          inputs={"service_name": "evil-new", "description": payload[:200]})
    ProvisioningRun.objects.filter(pk=run.pk).update(state=ProvisioningRun.State.FAILED, error=payload)
    tokens.token_create(actor=owner, user=owner, name=payload[:100])
    return {"owner": owner, "run": str(run.pk)}


def _pages(run_id: str) -> list[str]:
    return ["/", "/services/", "/services/?q=evil", "/services/evil-svc/", "/services/evil-svc/history/",
            "/services/evil-svc/edit/", "/services/evil-svc/runbooks/rb/", "/services/evil-svc/runbooks/rb/edit/",
            "/services/evil-svc/runbooks/rb/history/", "/teams/", "/teams/evil/", "/teams/evil-parent/",
            "/search/?q=evil", "/ownership/?q=evil-svc", "/ownership/?q=team:evil", "/ownership/?q=mallory",
            f"/runs/{run_id}/", "/runs/", "/tokens/"]


@pytest.mark.parametrize("link", LINK_PAYLOADS)
@pytest.mark.parametrize("payload", PAYLOADS)
def test_payload_in_every_field_is_inert_on_every_page(payload, link):
    world = _plant(payload, link)
    client = Client()
    client.force_login(world["owner"])
    fragments = [client.get("/search/", {"q": "evil", "fragment": "suggestions"}, HTTP_HX_REQUEST="true"),
                 client.get("/services/evil-svc/", {"fragment": "summary"}, HTTP_HX_REQUEST="true")]
    for page, response in [*((page, client.get(page)) for page in _pages(world["run"])),
                           *(("fragment", response) for response in fragments)]:
        assert response.status_code == 200, page
        body = response.content.decode()
        assert payload not in body, page  # never verbatim: always escaped
        parsed = _parsed(body)
        assert parsed.handlers == [], (page, parsed.handlers)
        assert _unsafe_urls(parsed.urls) == [], (page, parsed.urls)
        assert not [text for text in parsed.inline_scripts if "alert" in text], page
        assert "iframe" not in parsed.tags and "svg" not in parsed.tags, page
    # The fields really are on the pages, escaped (so the checks above looked at them).
    from django.utils.html import escape

    service_page = client.get("/services/evil-svc/").content.decode()
    assert escape(f"Svc {payload}") in service_page and escape(payload[:100]) in service_page
    assert escape(payload[:100]) in client.get("/tokens/").content.decode()


def test_template_syntax_is_shown_not_evaluated():
    world = _plant("{{ 7*7 }} {% now 'Y' %}", "https://ok.example.org/")
    client = Client()
    client.force_login(world["owner"])
    for page in ("/services/evil-svc/", "/teams/evil/", f"/runs/{world['run']}/"):
        body = client.get(page).content.decode()
        assert "{{ 7*7 }} {% now &#x27;Y&#x27; %}" in body or "{{ 7*7 }} {% now 'Y' %}" in body, page
