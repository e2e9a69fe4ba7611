"""Where repositories live, behind one protocol (base.py): local.py (bare git on disk, offline) and
github.py (the one PyGithub seam, for every reader and writer of GitHub). budget.py paces writes per
credential, secrets.py keeps credentials out of logs, repository_keys.py turns any repository URL
into its `host/owner/name` key, fetch.py fetches any other URL (API definitions) from allowed hosts on
public addresses only. Hosts use models/ and errors.py only: nothing of the catalog.
"""

from __future__ import annotations

from django.conf import settings

from services.hosts.base import RepositoryHost


def host_for(name: str | None = None) -> RepositoryHost:
    """The configured repository host (SLIPWAY_REPO_HOST), or the one named."""
    name = name or settings.SLIPWAY_REPO_HOST
    if name == "local":
        from services.hosts.local import LocalHost

        return LocalHost()
    if name == "github":
        from services.hosts.github import GitHubHost

        return GitHubHost.from_settings()
    raise ValueError(f"unknown repository host {name!r} (SLIPWAY_REPO_HOST is local or github)")
