"""ReDoc's script, served from here with one change: its sidebar's "API docs by Redocly" link shows
its maker's logo from their CDN, which a portal on a closed network cannot reach and its
Content-Security-Policy refuses. The copy served points at the same picture among our own static
files instead, so /api/redoc/ asks nothing of another origin. Read once per process (1.1 MB)."""

from __future__ import annotations

import functools
from pathlib import Path

import drf_spectacular_sidecar
from django.http import HttpRequest, HttpResponse
from django.templatetags.static import static
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

BUNDLE = Path(drf_spectacular_sidecar.__file__).parent / "static/drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"
CDN_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@functools.cache
def _bundle() -> bytes:
    script = BUNDLE.read_text(encoding="utf-8")
    return script.replace(CDN_LOGO, static("slipway/redoc-logo.svg")).encode("utf-8")


@require_GET
@cache_control(public=True, max_age=86400)
def redoc_bundle(request: HttpRequest) -> HttpResponse:
    return HttpResponse(_bundle(), content_type="text/javascript; charset=utf-8")
