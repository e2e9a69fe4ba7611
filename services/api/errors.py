"""Every API error as JSON: {"detail": "...", "errors": {field: [messages]}}."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

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
        return Response({"detail": exc.detail, "errors": exc.errors}, status=exc.status)
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
