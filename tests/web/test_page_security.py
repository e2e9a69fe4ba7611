"""What people store is shown, never run: names, descriptions, runbooks and links are rendered inert;
error pages are styled and say what to do."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.test import Client, override_settings
from django.urls import path

from services.catalog import writes
from services.models import Environment, Service, Team
from tests.factories import MembershipFactory, ServiceFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

SCRIPT = '<script>alert("x")</script>'
ATTRIBUTE = '" onmouseover="alert(1)'


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def hostile(member):
    """A team and a service whose every free-text field carries markup, and links with javascript: URLs."""
    team = TeamFactory(slug="evil", name=f"Evil {SCRIPT}", description=SCRIPT, chat_channel="javascript:alert(1)",
                       on_call="javascript:alert(2)", email="evil@example.org")
    MembershipFactory(team=team, user=member)
    person = UserFactory(username="mallory", first_name=SCRIPT)
    MembershipFactory(team=team, user=person)
    service = ServiceFactory(
        slug="evil-svc", owner_team=team, name=f"Svc {SCRIPT}", description=f"{SCRIPT}{ATTRIBUTE}",
        lifecycle=f"prod{ATTRIBUTE}", type=SCRIPT, language=SCRIPT, tags=["<b>tag</b>"],
        links=[{"url": "javascript:alert(3)", "title": f"Click {SCRIPT}"},
               {"url": "JaVaScRiPt:alert(4)", "title": "upper"},
               {"url": " javascript:alert(5)", "title": "spaced"},
               {"url": "data:text/html,<script>alert(6)</script>", "title": "data"},
               {"url": "https://ok.example.org/", "title": "fine"}],
    )
    Environment.objects.create(service=service, name="prod", url="javascript:alert(7)", branch_policy=SCRIPT)
    writes.runbook_create(actor=member, service=service, slug="rb", title=f"Runbook {SCRIPT}",
                           body=f"{SCRIPT}\n\n[click](javascript:alert(8))\n\n<img src=x onerror=alert(9)>\n\n"
                                "<a href=\"javascript:alert(10)\">raw</a>")
    writes.service_update(actor=member, service=service, data={"description": f"again {SCRIPT}"})
    return service


PAGES = ["/services/", "/services/evil-svc/", "/services/evil-svc/history/", "/teams/", "/teams/evil/",
         "/ownership/?q=evil-svc", "/ownership/?q=team:evil", "/ownership/?q=mallory", "/search/?q=evil",
         "/services/evil-svc/runbooks/rb/", "/services/evil-svc/runbooks/rb/history/",
         "/services/evil-svc/runbooks/rb/edit/", "/services/evil-svc/edit/", "/"]


class _Elements(HTMLParser):
    """The real elements of a page (not text that looks like one): scripts, event handlers, URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.inline_scripts = 0
        self.handlers: list[str] = []
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script" and not (values.get("src") or "").startswith("/static/"):
            self.inline_scripts += 1
        for name, value in attrs:
            if name.startswith("on"):
                self.handlers.append(f"{tag} {name}")
            if name in ("href", "src", "action", "formaction") and value is not None:
                self.urls.append(value)


def _elements(body: str) -> _Elements:
    parser = _Elements()
    parser.feed(body)
    return parser


def _unsafe_urls(urls: list[str]) -> list[str]:
    return [url for url in urls if url.strip().lower().startswith(("javascript:", "data:", "vbscript:"))]


@pytest.mark.parametrize("page", PAGES)
def test_stored_markup_is_escaped_on_every_page(member, hostile, page):
    response = _client(member).get(page)
    assert response.status_code == 200, page
    body = response.content.decode()
    assert SCRIPT not in body
    assert "<b>tag</b>" not in body
    elements = _elements(body)
    assert elements.inline_scripts == 0
    assert elements.handlers == []
    assert _unsafe_urls(elements.urls) == []


def test_javascript_links_are_shown_as_text_not_links(member, hostile):
    body = _client(member).get("/services/evil-svc/").content.decode()
    assert "javascript:alert(3)" in body  # visible, so an owner can fix it
    assert "not a web link" in body
    assert 'href="https://ok.example.org/"' in body


def test_runbook_markdown_is_sanitized(member, hostile):
    body = _client(member).get("/services/evil-svc/runbooks/rb/").content.decode()
    article = _elements(body.split('<div class="markdown">', 1)[1].split("</article>", 1)[0])
    assert article.inline_scripts == 0 and article.handlers == [] and _unsafe_urls(article.urls) == []
    assert "&lt;script&gt;" in body  # the raw HTML is shown as text


def test_search_fragment_escapes_names(member, hostile):
    response = _client(member).get("/search/", {"q": "svc", "fragment": "suggestions"}, HTTP_HX_REQUEST="true")
    assert SCRIPT not in response.content.decode()
    assert "Svc &lt;script&gt;" in response.content.decode()


def test_every_form_carries_a_csrf_token(member, hostile):
    client = _client(member)
    for page in ("/services/evil-svc/edit/", "/services/evil-svc/runbooks/rb/edit/", "/services/evil-svc/new-runbook/",
                 "/"):
        body = client.get(page).content.decode()
        assert body.count('method="post"') == body.count("csrfmiddlewaretoken"), page


def test_403_page_says_what_to_do(viewer, hostile):
    response = _client(viewer).post("/services/evil-svc/edit/", {"name": "x"})
    assert response.status_code == 403
    body = response.content.decode()
    assert "You may not do that" in body and "who owns it" in body
    assert 'href="/ownership/"' in body
    assert Service.objects.get(slug="evil-svc").name.startswith("Svc")


def test_404_page_says_what_to_do(viewer):
    response = _client(viewer).get("/services/<script>/")
    assert response.status_code == 404
    body = response.content.decode()
    assert "There is nothing here" in body and 'href="/services/"' in body
    assert "<script>" not in body


def _boom(request):
    raise RuntimeError("boom")


urlpatterns = [path("boom/", _boom)]


@override_settings(ROOT_URLCONF=__name__)
def test_500_page_is_styled_and_says_what_to_do(viewer):
    client = Client(raise_request_exception=False)
    client.force_login(viewer)
    response = client.get("/boom/")
    assert response.status_code == 500
    body = response.content.decode()
    assert "Something went wrong on our side" in body
    assert "slipway/site.css" in body
    assert "Try again" in body


def test_team_without_members_declared_by_import(viewer):
    Team.objects.create(slug="ghosts", name="Ghosts", declared_by_import=True)
    body = _client(viewer).get("/teams/ghosts/").content.decode()
    assert "declared by an import" in body
