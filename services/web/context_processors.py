"""Template context every page gets."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def portal(request: HttpRequest) -> dict[str, Any]:
    """Whether single sign-on is offered (the login page shows its button)."""
    return {"sso_enabled": settings.SLIPWAY_OIDC_ENABLED}
