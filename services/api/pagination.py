"""Page-number pagination with strict parameters: a bad `page` or `page_size` is a 400 naming it."""

from __future__ import annotations

from typing import Any

from django.core.paginator import InvalidPage
from rest_framework import pagination
from rest_framework.exceptions import NotFound, ValidationError

from services.http.paging import DeferredJoinPaginator

MAX_PAGE_SIZE = 200


class PageNumberPagination(pagination.PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE

    def get_page_size(self, request: Any) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            raise ValidationError({"page_size": ["must be a whole number"]}) from None
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise ValidationError({"page_size": [f"must be between 1 and {MAX_PAGE_SIZE}"]})
        return size

    def paginate_queryset(self, queryset: Any, request: Any, view: Any = None) -> list[Any] | None:
        raw = request.query_params.get(self.page_query_param, "1")
        if raw != "last":
            try:
                number = int(raw)
            except ValueError:
                raise ValidationError({"page": ["must be a whole number"]}) from None
            if number < 1:
                raise ValidationError({"page": ["must be 1 or more"]})
        try:
            return super().paginate_queryset(queryset, request, view)
        except NotFound:
            raise NotFound(f"Page {raw} is past the last page.") from None
        except InvalidPage:
            raise NotFound(f"Page {raw} does not exist.") from None


class DeferredJoinPagination(PageNumberPagination):
    """For wide joined lists (services): the page's keys first, then its rows (services.http.paging)."""

    django_paginator_class = DeferredJoinPaginator
