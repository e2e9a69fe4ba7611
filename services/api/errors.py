"""Every API error as JSON: {"detail": "...", "errors": {field: [messages]}}.

DRF's errors go through exception_handler; what DRF never sees is answered here too: an unhandled
exception anywhere under /api/ (Django's handler500, server_error) and an over-long address
(ApiAddressLengthMiddleware, 414)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import server_error as page_server_error
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from services.audit import request_id_of
from services.errors import CatalogError

logger = logging.getLogger(__name__)


def _messages(value: Any) -> list[str]:
    if isinstance(value, list):
        out: list[str] = []
        for item in value:
            out.extend(_messages(item) if isinstance(item, list) else [_flatten(item)])
        return out
    return [_flatten(value)]


def _flatten(value: Any) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{k}: {', '.join(_messages(v))}" for k, v in value.items())
    return str(value)


def _field_errors(data: Any) -> dict[str, list[str]]:
    if isinstance(data, dict):
        return {str(field): _messages(value) for field, value in data.items()}
    return {"non_field_errors": _messages(data)}


def _summary(errors: dict[str, list[str]]) -> str:
    parts = [f"{field}: {messages[0]}" for field, messages in errors.items() if messages]
    return "Invalid input. " + "; ".join(parts[:5]) if parts else "Invalid input."


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, reshaped so every error names its fields; domain errors map to their status."""
    if isinstance(exc, CatalogError):
        retry_after = getattr(exc, "retry_after", None)  # a limit reached (TooManyRequests): when to come back
        return Response({"detail": exc.detail, "errors": exc.errors}, status=exc.status,
                        headers={"Retry-After": str(retry_after)} if retry_after else None)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    if isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = _field_errors(response.data)
        response.data = {"detail": _summary(errors), "errors": errors}
    else:
        detail = response.data.get("detail") if isinstance(response.data, dict) else response.data
        response.data = {"detail": str(detail), "errors": {}}
    if response.status_code == status.HTTP_401_UNAUTHORIZED:
        response.data["detail"] = response.data["detail"] or "Sign in or send 'Authorization: Token <key>'."
    return response


class ErrorSerializer(serializers.Serializer):
    """The shape of every error answer, as the OpenAPI schema shows it."""

    detail = serializers.CharField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


ERRORS = {400: ErrorSerializer, 403: ErrorSerializer, 404: ErrorSerializer}
# A list answers 400 for a bad filter, ordering or page size, and 404 for a page past the last.
LIST_ERRORS = {400: ErrorSerializer, 404: ErrorSerializer}


# The longest path and query string the API reads. gunicorn refuses a request line over 4094 bytes
# itself (--limit-request-line; at most 8190) with its own 414 page before Slipway sees the request:
# this bound answers in the API's shape whatever serves it, as long as the server lets it through.
MAX_API_ADDRESS = 4096


def _json_error(request: HttpRequest, detail: str, status_code: int) -> JsonResponse:
    response = JsonResponse({"detail": detail, "errors": {}}, status=status_code)
    response["X-Request-ID"] = request_id_of(request)  # may be answered before AuditContextMiddleware
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    """Django's handler500: JSON under /api/ (with the request id to quote), the styled page elsewhere."""
    if not request.path.startswith("/api/"):
        return page_server_error(request)
    return _json_error(request, f"Server error: the request failed on Slipway's side and was logged (request id "
                                f"{request_id_of(request)}). Nothing was half-saved; try again, or report the id.", 500)


class ApiAddressLengthMiddleware:
    """An /api/ address (path and query string) over MAX_API_ADDRESS characters is a JSON 414, read no further."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path
        if path.startswith("/api/") and len(path) + len(request.META.get("QUERY_STRING", "")) > MAX_API_ADDRESS:
            return _json_error(request, f"URI too long: an API address (path and query string) is at most "
                                        f"{MAX_API_ADDRESS} characters; send fewer or shorter query parameters.", 414)
        return self.get_response(request)
