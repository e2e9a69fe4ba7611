"""Keep credentials out of step logs, errors and API answers."""

from __future__ import annotations

import re

from django.conf import settings

_PATTERNS = [
    re.compile(r"gh[pousr]_[A-Za-z0-9]{20,}"),  # GitHub tokens
    re.compile(r"github_pat_[A-Za-z0-9_]{20,}"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.DOTALL),
    re.compile(r"(?i)(authorization:\s*)(token|bearer)\s+\S+"),
    re.compile(r"(?i)(https?://)[^/@\s:]+:[^/@\s]+@"),  # credentials in URLs
]


def _configured_secrets() -> list[str]:
    values = [getattr(settings, name, "") for name in ("SLIPWAY_GITHUB_TOKEN", "SLIPWAY_GITHUB_APP_PRIVATE_KEY")]
    return [value for value in values if value and len(value) >= 8]


def redact(text: str) -> str:
    """The text with every known secret and token-shaped string replaced by [redacted]."""
    if not text:
        return text
    for secret in _configured_secrets():
        text = text.replace(secret, "[redacted]")
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.re.groups else "") + "[redacted]", text)
    return text
