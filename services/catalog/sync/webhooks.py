"""GitHub's webhooks: a delivery is refused unless its X-Hub-Signature-256 checks against
SLIPWAY_GITHUB_WEBHOOK_SECRET; a `push` to the branch a location reads that touches one of its
descriptors makes that location due at once (a worker refreshes it). Nothing of the payload is
stored or evaluated: it only picks which locations to refresh."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import caches
from django.db.models import Q

from services.catalog.sync.locations import location_refresh_soon
from services.models import Location

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 2_621_440  # Django's DATA_UPLOAD_MAX_MEMORY_SIZE; GitHub caps payloads at 25 MB, a push is far smaller
DELIVERY_SECONDS = 86400  # a redelivery within a day is answered, not acted on twice
# GitHub lists at most 20 commits in a push payload (and at most 3,000 changed files): past that the
# payload cannot say which files changed, so every location of the repository is refreshed.
PAYLOAD_COMMIT_LIMIT = 20


class WebhookRefused(Exception):
    """A delivery that is not taken: `status` is the HTTP answer, `outcome` the metric's label."""

    def __init__(self, message: str, *, status: int, outcome: str) -> None:
        super().__init__(message)
        self.status, self.outcome = status, outcome


@dataclass
class DeliveryResult:
    outcome: str  # accepted | ignored | duplicate
    detail: str
    locations: list[int] = field(default_factory=list)


def signature_valid(secret: str, body: bytes, header: str | None) -> bool:
    """GitHub's `sha256=<hex HMAC of the body>`, compared in constant time."""
    if not secret or not header or not header.startswith("sha256="):
        return False
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.strip())


def github_delivery(*, event: str, delivery: str, body: bytes, signature: str | None) -> DeliveryResult:
    """Verify a delivery, then act on it (a push) or say why not."""
    secret = settings.SLIPWAY_GITHUB_WEBHOOK_SECRET
    if not secret:
        raise WebhookRefused("Webhooks are off: set SLIPWAY_GITHUB_WEBHOOK_SECRET (and the same secret on GitHub).",
                             status=503, outcome="refused_not_configured")
    if len(body) > MAX_BODY_BYTES:
        raise WebhookRefused(f"A delivery is at most {MAX_BODY_BYTES:,} bytes.", status=413, outcome="refused_size")
    if not signature:
        raise WebhookRefused("Unsigned delivery: X-Hub-Signature-256 is missing.", status=401,
                             outcome="refused_unsigned")
    if not signature_valid(secret, body, signature):
        raise WebhookRefused("The signature does not match: refused.", status=401, outcome="refused_signature")
    if event == "ping":
        return DeliveryResult("ignored", "pong")
    if event != "push":
        return DeliveryResult("ignored", f"'{event[:50]}' events are not used")
    if delivery and not caches["counters"].add(f"webhook-delivery:{delivery[:100]}", True, DELIVERY_SECONDS):
        return DeliveryResult("duplicate", "this delivery was received before")
    try:
        payload = json.loads(body)
        repository = payload["repository"]
        full_name = str(repository["full_name"])
        branch = str(payload.get("ref", "")).removeprefix("refs/heads/")
        default_branch = str(repository.get("default_branch") or "main")
        commits = payload.get("commits") or []
        changed = {str(path) for commit in commits for key in ("added", "modified", "removed")
                   for path in commit.get(key) or []}
    except (ValueError, KeyError, TypeError, AttributeError):
        raise WebhookRefused("Not a push payload (repository.full_name and ref are needed).", status=400,
                             outcome="refused_payload") from None
    everything = len(commits) >= PAYLOAD_COMMIT_LIMIT or (commits and not changed)
    owner = full_name.split("/", 1)[0]
    candidates = Location.objects.filter(host="github").filter(
        Q(kind=Location.Kind.REPOSITORY, target__iexact=full_name)
        | Q(kind=Location.Kind.ORGANISATION, target__iexact=owner))
    refreshed = []
    for location in candidates:
        if branch != (location.ref or default_branch):
            continue
        prefix = f"{full_name}/" if location.kind == Location.Kind.ORGANISATION else ""
        sources = set(location.sources.filter(path__istartswith=prefix).values_list("path", flat=True))
        known = {path[len(prefix):] for path in sources} | {location.path}
        if everything or changed & known:
            # Read this repository's files in full next time, whatever the validators say.
            location.sources.filter(path__in=sorted(sources)).update(had_problems=True)
            organisation = location.kind == Location.Kind.ORGANISATION
            location_refresh_soon(location=location, repositories=[full_name] if organisation else None)
            refreshed.append(location.pk)
    if not refreshed:
        return DeliveryResult("ignored", "no location reads a descriptor this push changed")
    logger.info("webhook.push", extra={"repository": full_name, "locations": refreshed})
    return DeliveryResult("accepted", f"refreshing {len(refreshed)} location(s)", refreshed)

