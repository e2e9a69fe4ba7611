"""API definitions given as `$text`/`$json`/`$yaml` placeholders, fetched by the worker after a location's
refresh (never during a request, nor while importing).

A relative path, a path from the repository's root, or a file URL into the location's own repository
is read through the location's reader (its host, conditional on the ETag: an unchanged file costs a
304); any other URL through services/hosts/fetch.py, only from the repository's host and the hosts an
administrator allows (SLIPWAY_DEFINITION_HOSTS), never from a private address. What cannot be fetched
leaves the API in the catalog with its definition `unresolved` and the reason (Backstage drops it).

Bounded: at most MOST_PER_REFRESH definitions and MOST_SECONDS of fetching per refresh (the rest wait
for the next one, pending first, then the unresolved, then the oldest fetched), each at most
SLIPWAY_DEFINITION_MAX_BYTES within SLIPWAY_DEFINITION_FETCH_SECONDS."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.db.models import Case, IntegerField, Value, When
from django.utils import timezone

from services.catalog.generation import bump_generation
from services.catalog.sync.reading import Reader, reader_for
from services.descriptors.placeholders import PlaceholderError, definition_text, resolve_placeholder
from services.hosts.base import HostError, checked_repository_path
from services.hosts.fetch import FetchRefused, definition_hosts, fetch_text
from services.models import Api, Location

log = logging.getLogger(__name__)

MOST_PER_REFRESH = 100
MOST_SECONDS = 60.0


@dataclass
class DefinitionsFetched:
    """What one pass fetched: counts by outcome, and the reasons of those it could not."""

    resolved: int = 0
    unchanged: int = 0
    unresolved: int = 0
    left: int = 0  # still never fetched: waiting for the next refresh (over this one's count or time)
    reasons: dict[str, str] = field(default_factory=dict)  # api ref -> why


def definitions_fetch(location: Location, *, reader: Reader | None = None) -> DefinitionsFetched:
    """Fetch the placeholder definitions of the APIs `location` produced, within this pass's bounds."""
    reader = reader or reader_for(location)
    # The web host of the location's repositories (github.com): allowed by default. The local host has none.
    repository_host = settings.SLIPWAY_DEFAULT_GIT_HOST if location.host == "github" else None
    order = Case(When(definition_state=Api.DefinitionState.PENDING, then=Value(0)),
                 When(definition_state=Api.DefinitionState.UNRESOLVED, then=Value(1)),
                 default=Value(2), output_field=IntegerField())
    apis = (Api.objects.filter(origin_location=location, orphaned_at__isnull=True)
            .exclude(definition_placeholder="").annotate(order=order)
            .order_by("order", "definition_fetched_at", "pk")
            .only("pk", "namespace", "slug", "origin_path", "definition_placeholder", "definition_target",
                  "definition_etag", "definition_state"))
    done = DefinitionsFetched()
    started = time.monotonic()
    changed = False
    for index, api in enumerate(apis[:MOST_PER_REFRESH + 1]):
        if index == MOST_PER_REFRESH or time.monotonic() - started > MOST_SECONDS:
            break
        try:
            fetched = _fetch(api, location, reader, repository_host)
        except (PlaceholderError, FetchRefused) as error:
            fetched, reason = None, error.reason
        except (HostError, ValueError) as error:
            fetched, reason = None, str(error) or type(error).__name__
        now = timezone.now()
        if fetched is None:
            done.unresolved += 1
            done.reasons[api.ref] = reason
            changed |= api.definition_state != Api.DefinitionState.UNRESOLVED
            Api.objects.filter(pk=api.pk).update(definition_state=Api.DefinitionState.UNRESOLVED,
                                                 definition_error=reason[:500], definition_fetched_at=now)
        elif fetched[0] is None:
            done.unchanged += 1
            Api.objects.filter(pk=api.pk).update(definition_fetched_at=now)
        else:
            done.resolved += 1
            changed = True
            Api.objects.filter(pk=api.pk).update(definition=fetched[0], definition_etag=fetched[1][:200],
                                                 definition_state=Api.DefinitionState.RESOLVED,
                                                 definition_error="", definition_fetched_at=now)
    done.left = apis.filter(definition_state=Api.DefinitionState.PENDING).count()
    if changed:
        bump_generation()
    if done.resolved or done.unresolved:
        log.info("definitions.fetched", extra={"location": location.pk, "resolved": done.resolved,
                                               "unresolved": done.unresolved, "left": done.left})
    return done


def _fetch(api: Api, location: Location, reader: Reader,
           repository_host: str | None) -> tuple[str | None, str]:
    """(the definition's text, its ETag), or (None, "") when it has not changed since it was fetched."""
    source = api.origin_path
    prefix = ""
    if location.kind == Location.Kind.ORGANISATION:  # `owner/name/<path in the repository>`
        owner, name, source = (source.split("/", 2) + ["", ""])[:3]
        prefix = f"{owner}/{name}/"
    placeholder = resolve_placeholder({api.definition_placeholder: api.definition_target}, base_url=source)
    if placeholder is None:  # cannot happen for a row the importer wrote: it checked the same shape
        raise PlaceholderError("the definition is not a placeholder")
    path = placeholder.path
    if placeholder.url and location.kind == Location.Kind.REPOSITORY:
        try:  # a file URL into this same repository is read through its host
            path = reader.resolve(source, placeholder.url)
        except ValueError:
            path = ""
    limit = settings.SLIPWAY_DEFINITION_MAX_BYTES
    # Only a definition already fetched may be answered "unchanged" (it is then kept as it is).
    etag = api.definition_etag if api.definition_state == Api.DefinitionState.RESOLVED else ""
    elsewhere = _repository_file(placeholder.url, repository_host) if placeholder.url and not path else None
    if path or elsewhere:
        if path:
            answer = reader.read(prefix + path, etag=etag)
        else:  # a file of another repository on the same host: read through the host, as the descriptors
            full_name, ref, file_path = elsewhere
            answer = reader.host.read_file(full_name=full_name, path=file_path, ref=ref, etag=etag)
        if answer.state == "unchanged" and etag:
            return None, ""
        if answer.state != "read" or answer.text is None:
            raise PlaceholderError(answer.error or f"{path or placeholder.url} could not be read")
        text, etag = answer.text, answer.etag
    else:
        fetched = fetch_text(placeholder.url, allowed_hosts=definition_hosts(repository_host), max_bytes=limit,
                             deadline_seconds=settings.SLIPWAY_DEFINITION_FETCH_SECONDS,
                             etag=etag)
        if fetched.not_modified:
            return None, ""
        text, etag = fetched.text, fetched.etag
    if len(text.encode("utf-8", "surrogatepass")) > limit:
        raise PlaceholderError(f"larger than {limit:,} bytes (SLIPWAY_DEFINITION_MAX_BYTES)")
    return definition_text(placeholder.kind, text, max_bytes=limit), etag


def _repository_file(url: str, repository_host: str | None) -> tuple[str, str, str] | None:
    """(owner/name, ref, path) of a file URL on the location's own host (`https://github.com/o/n/blob/
    main/api.yaml`), which its host client reads (a page of github.com is HTML, not the file); else None."""
    if not repository_host:
        return None
    parts = urlsplit(url)
    segments = unquote(parts.path).strip("/").split("/")
    if (parts.hostname or "").lower() != repository_host.lower() or len(segments) < 5 \
            or segments[2] not in ("blob", "raw"):
        return None
    try:
        return f"{segments[0]}/{segments[1]}", segments[3], checked_repository_path("/".join(segments[4:]))
    except ValueError:
        return None
