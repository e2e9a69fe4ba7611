"""What a client may claim in the catalog, and what is Slipway's alone: annotations under slipway.dev/
are written by Slipway itself (a run's marker lets the run's last step recognise the service as its
own, so no interface lets a client set one), and the slug and repository a provisioning run in
progress will create are reserved for that run. Who may register for whom is access/permissions.py."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Q

from services.catalog.refs import quote
from services.errors import Conflict, InvalidInput
from services.models import ProvisioningRun

SERVER_ANNOTATION_PREFIX = "slipway.dev/"  # set by Slipway itself (a run's marker, a local clone path)
RUN_ANNOTATION = "slipway.dev/provisioning-run"
LOCAL_REPOSITORY_ANNOTATION = "slipway.dev/local-repository"
# What a run writes on the service it registers: never taken from a client or a descriptor.
RUN_MARKERS = (RUN_ANNOTATION, LOCAL_REPOSITORY_ANNOTATION)
LIVE_RUN_STATES = (ProvisioningRun.State.QUEUED, ProvisioningRun.State.RUNNING)


def client_annotations(annotations: Any) -> Any:
    """Annotations as a client gave them: none under slipway.dev/, which only Slipway writes (a
    run's marker is what lets the run's last step recognise the service as its own)."""
    if isinstance(annotations, dict):
        server = sorted(key for key in annotations if str(key).startswith(SERVER_ANNOTATION_PREFIX))
        if server:
            raise InvalidInput.field("annotations", f"{quote(server[0])}: annotations under "
                                                    f"{SERVER_ANNOTATION_PREFIX} are set by Slipway, not by clients")
    return annotations


def live_run_reserving(slug: str, repository: str | None, *, run_id: Any = None) -> tuple[str, ProvisioningRun] | None:
    """The field and the queued or running run that will register `slug` or create `repository`
    (other than `run_id`, the run asking): what a live run will take is reserved for it."""
    live = ProvisioningRun.objects.filter(state__in=LIVE_RUN_STATES).exclude(pk=run_id).only("pk", "service_slug")
    run = live.filter(service_slug=slug).first()
    if run is not None:
        return "slug", run
    if repository:
        # The run's repository is known once created; before that, its name is the service's slug
        # under the organisation (or local owner) runs create repositories in.
        parts = repository.split("/")
        owners = {str(settings.SLIPWAY_GITHUB_ORG or "").lower(), str(settings.SLIPWAY_LOCAL_OWNER).lower()} - {""}
        by_name = Q(service_slug=parts[2]) if len(parts) == 3 and parts[1] in owners else Q(pk__in=[])
        run = live.filter(Q(repository=repository) | by_name).first()
        if run is not None:
            return "repository", run
    return None


def reserved(found: tuple[str, ProvisioningRun]) -> Conflict:
    field, run = found
    return Conflict(f"The {field} is reserved for the provisioning run {run.pk} creating '{run.service_slug}'.",
                    {field: [f"reserved for run {run.pk}, which is in progress"]})
