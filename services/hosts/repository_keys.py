"""Repository keys: `host/owner/name`, lower case, from any form a repository is written in."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from django.conf import settings

from services.errors import InvalidInput

_SCP_LIKE = re.compile(r"^(?:[\w.+-]+@)?(?P<host>[\w.-]+):(?!//)(?P<path>.+)$")
_PATH_CUTS = ("/-/", "/tree/", "/blob/", "/src/", "/pulls", "/issues", "/actions", "/commit/", "/wiki")


def normalize_repository(value: str, *, field: str = "repository") -> str:
    """The lookup key of a repository: `host/owner/name`, lower case, whatever form it came in.

    Accepts `owner/name` (on the default host), `host/owner/name`, https/http/ssh/git URLs with or
    without `.git` and trailing paths (`/tree/main/...`), and the scp-like `git@host:owner/name.git`.
    """
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput.field(field, "a repository must be a non-empty string")
    text = value.strip()
    if len(text) > 500:
        raise InvalidInput.field(field, "a repository reference is at most 500 characters")
    if "://" in text:
        try:
            parts = urlsplit(text)
        except ValueError:  # an unclosed or malformed [IPv6] host, a host that NFKC turns into / ? # @
            raise InvalidInput.field(field, f"'{text}' is not a well-formed URL (check the host name)") from None
        if parts.scheme not in ("http", "https", "ssh", "git", "git+ssh", "ssh+git"):
            raise InvalidInput.field(field, f"unsupported URL scheme '{parts.scheme}'")
        host, path = (parts.hostname or ""), parts.path
    elif (match := _SCP_LIKE.match(text)) and "/" not in match.group("host"):
        host, path = match.group("host"), match.group("path")
    else:
        segments = text.strip("/").split("/")
        if len(segments) == 2:
            host, path = settings.SLIPWAY_DEFAULT_GIT_HOST, text
        else:
            host, path = segments[0], "/".join(segments[1:])
    for cut in _PATH_CUTS:
        if cut in path:
            path = path.split(cut, 1)[0]
    segments = [s for s in path.strip("/").split("/") if s]
    if segments and segments[-1].lower().endswith(".git"):
        segments[-1] = segments[-1][:-4]
    host = host.lower().rstrip(".")
    if host in ("www.github.com",):
        host = "github.com"
    if host == "github.com" or host == settings.SLIPWAY_DEFAULT_GIT_HOST:
        segments = segments[:2]
    if not host or "." not in host and host != "localhost" or len(segments) < 2:
        raise InvalidInput.field(field, f"'{text}' is not a repository (expected owner/name or a URL of it)")
    if any(not re.match(r"^[\w.-]+$", s) for s in segments) or any(s in (".", "..") for s in segments):
        raise InvalidInput.field(field, f"'{text}' has characters a repository name cannot have")
    return "/".join([host, *segments]).lower()


LOCAL_KEY_HOST = "localhost"  # the local host's repositories: bare git on disk, with no web page


def repository_web_url(key: str | None) -> str:
    """Where a person can look at a repository in a browser: `https://host/owner/name`; nothing for a
    repository of the local host (its clone path is shown instead: it has no web page)."""
    if not key or key.split("/", 1)[0] == LOCAL_KEY_HOST:
        return ""
    return f"https://{key}"
