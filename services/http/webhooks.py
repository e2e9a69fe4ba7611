"""/webhooks/github/: GitHub's deliveries, verified (services/catalog/sync/webhooks.py) before
anything is read of them; every delivery is counted by outcome (slipway_webhook_deliveries)."""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from services.audit import audit_source
from services.catalog.sync.webhooks import MAX_BODY_BYTES, WebhookRefused, github_delivery
from services.http.metrics import WEBHOOKS
from services.models import AuditEvent


@csrf_exempt  # GitHub signs its deliveries (X-Hub-Signature-256); there is no session to forge
@require_POST
def github_webhook(request: HttpRequest) -> JsonResponse:
    """Verify the delivery's signature, then refresh the locations a push touched (202), or say why not."""
    try:
        body = request.body
    except RequestDataTooBig:
        WEBHOOKS.labels("refused_size").inc()
        return JsonResponse({"detail": f"A delivery is at most {MAX_BODY_BYTES:,} bytes."}, status=413)
    try:
        with audit_source(AuditEvent.Source.API, request.headers.get("X-GitHub-Delivery", "")[:100]):
            result = github_delivery(event=request.headers.get("X-GitHub-Event", ""),
                                     delivery=request.headers.get("X-GitHub-Delivery", ""), body=body,
                                     signature=request.headers.get("X-Hub-Signature-256"))
    except WebhookRefused as refusal:
        WEBHOOKS.labels(refusal.outcome).inc()
        return JsonResponse({"detail": str(refusal)}, status=refusal.status)
    WEBHOOKS.labels(result.outcome).inc()
    return JsonResponse({"detail": result.detail, "outcome": result.outcome, "locations": result.locations},
                        status=202 if result.outcome == "accepted" else 200)
