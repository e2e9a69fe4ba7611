"""Django's own 400 and 404 answers: JSON under /api/ (as every other API error), the styled pages
elsewhere. Without them, a malformed id in an API path (`/api/v1/runbooks/abc/`) or a request body over
DATA_UPLOAD_MAX_MEMORY_SIZE answered HTML to an API client."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import bad_request as page_bad_request
from django.views.defaults import page_not_found


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's handler404."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found: no API address matches this path (see /api/schema/).",
                             "errors": {}}, status=404)
    return page_not_found(request, exception)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's handler400 (a request Django itself refuses, before DRF parses it)."""
    if not request.path.startswith("/api/"):
        return page_bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        message = f"the request body is larger than {limit} bytes"
        return JsonResponse({"detail": f"Invalid input: {message}.", "errors": {"non_field_errors": [message]}},
                            status=400)
    return JsonResponse({"detail": "Bad request.", "errors": {}}, status=400)
