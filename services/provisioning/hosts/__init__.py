"""Repository hosts behind one protocol (base.py): local bare repositories, or GitHub."""

from __future__ import annotations

from django.conf import settings

from services.provisioning.hosts.base import RepositoryHost


def host_for(name: str | None = None) -> RepositoryHost:
    """The configured repository host (SLIPWAY_REPO_HOST), or the one named."""
    name = name or settings.SLIPWAY_REPO_HOST
    if name == "local":
        from services.provisioning.hosts.local import LocalHost

        return LocalHost()
    if name == "github":
        from services.provisioning.hosts.github import GitHubHost

        return GitHubHost.from_settings()
    raise ValueError(f"unknown repository host {name!r} (SLIPWAY_REPO_HOST is local or github)")
