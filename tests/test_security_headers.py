"""Security headers on every kind of response: a page, a DRF answer, the cached fast path, a 404, a
refused request, a static file; HSTS only behind TLS; and no template that the policy would break."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client, override_settings

from tests.factories import UserFactory, token_for

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
          "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")


def assert_secure(response) -> None:
    assert response["Content-Security-Policy"] == POLICY
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


@pytest.fixture
def token_client(viewer) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {token_for(viewer)}")


def test_a_page_has_the_security_headers(viewer):
    client = Client()
    client.force_login(viewer)
    response = client.get("/")
    assert response.status_code == 200
    assert_secure(response)
    assert "Strict-Transport-Security" not in response  # not behind TLS


def test_the_sign_in_page_and_an_api_answer_have_them(token_client, service):
    assert_secure(Client().get("/accounts/login/"))
    response = token_client.get("/api/v1/services/", HTTP_ACCEPT="application/json", data={"format": "json"})
    assert response.status_code == 200 and "X-Slipway-Cache" not in response  # through DRF
    assert_secure(response)


def test_a_fast_path_answer_has_them(token_client, service):
    assert token_client.get("/api/v1/ownership/", {"service": "ledger"}).status_code == 200
    response = token_client.get("/api/v1/ownership/", {"service": "ledger"})
    assert response["X-Slipway-Cache"] == "hit"
    assert_secure(response)


def test_errors_have_them(token_client, viewer):
    client = Client()
    client.force_login(viewer)
    missing = client.get("/no-such-page/")
    assert missing.status_code == 404
    assert_secure(missing)
    api_missing = token_client.get("/api/v1/services/no-such-service/")
    assert api_missing.status_code == 404
    assert_secure(api_missing)
    nul = token_client.get("/api/v1/services/", {"q": "a\x00b"})
    assert nul.status_code == 400  # refused before the view: RejectNulMiddleware
    assert_secure(nul)
    anonymous = Client().get("/api/v1/services/")
    assert anonymous.status_code in (401, 403)
    assert_secure(anonymous)


def test_a_static_file_has_them():
    response = Client().get("/static/slipway/site.css")
    assert response.status_code == 200
    assert "htmx-indicator" in b"".join(response.streaming_content).decode()
    assert_secure(response)


def test_api_docs_allow_no_inline_script():
    user = UserFactory(username="docs-reader")
    client = Client()
    client.force_login(user)
    swagger = client.get("/api/docs/")
    assert swagger.status_code == 200
    assert_secure(swagger)
    assert not re.search(rb"<script(?![^>]*\bsrc=)[^>]*>", swagger.content)  # every script is a file
    assert b"<style" not in swagger.content
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200 and script["Content-Type"].startswith("application/javascript")
    redoc = client.get("/api/redoc/")
    assert redoc.status_code == 200
    assert not re.search(rb"<script(?![^>]*\bsrc=)[^>]*>", redoc.content)
    assert b"fonts.googleapis.com" not in redoc.content  # no CDN
    # ReDoc writes styles at run time and searches in a blob: worker; its scripts are still only ours.
    assert "script-src 'self';" in redoc["Content-Security-Policy"]
    assert "style-src 'self' 'unsafe-inline';" in redoc["Content-Security-Policy"]
    assert "worker-src 'self' blob:" in redoc["Content-Security-Policy"]


@override_settings(SECURE_HSTS_SECONDS=31_536_000, SECURE_HSTS_INCLUDE_SUBDOMAINS=True,
                   SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"))
def test_behind_tls_every_answer_has_hsts_the_fast_path_too(viewer, service):
    client = Client(HTTP_AUTHORIZATION=f"Token {token_for(viewer)}", HTTP_X_FORWARDED_PROTO="https")
    client.get("/api/v1/ownership/", {"service": "ledger"})
    fast = client.get("/api/v1/ownership/", {"service": "ledger"})
    assert fast["X-Slipway-Cache"] == "hit"
    assert fast["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    page = client.get("/accounts/login/")
    assert page["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    plain = Client().get("/accounts/login/")
    assert "Strict-Transport-Security" not in plain  # never over plain HTTP


INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE), "an inline <script>"),
    (re.compile(r"<style\b", re.IGNORECASE), "a <style> element"),
    (re.compile(r"\sstyle\s*=", re.IGNORECASE), "a style= attribute"),
    (re.compile(r"\son[a-z]+\s*=", re.IGNORECASE), "an inline event handler"),
    (re.compile(r"\shx-on", re.IGNORECASE), "an hx-on handler"),
    (re.compile(r"javascript:", re.IGNORECASE), "a javascript: URL"),
]


def test_no_template_has_what_the_policy_refuses():
    templates = sorted((ROOT / "templates").rglob("*.html"))
    assert len(templates) > 20  # the scan reads the real templates
    found = [f"{path.relative_to(ROOT)}: {what}" for path in templates for pattern, what in INLINE
             if pattern.search(path.read_text())]
    assert not found, found
