"""The filter backends of every list endpoint: django-filter with the service layer's filter sets
(services/catalog/search.py, services/scaffolder/runs.py), and ordering that answers a bad field
with a 400 naming `ordering`."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter


class StrictOrderingFilter(OrderingFilter):
    """Ordering that answers 400 naming `ordering` for a field it cannot sort by."""

    def get_ordering(self, request: Any, queryset: QuerySet, view: Any) -> list[str] | None:
        params = request.query_params.get(self.ordering_param)
        if params:
            fields = [param.strip() for param in params.split(",") if param.strip()]
            allowed = {name for name, _ in self.get_valid_fields(queryset, view, {"request": request})}
            bad = [f for f in fields if f.lstrip("-") not in allowed]
            if bad:
                raise ValidationError({self.ordering_param: [
                    f"cannot order by {', '.join(bad)}; choose from {', '.join(sorted(allowed))}"
                ]})
        return super().get_ordering(request, queryset, view)


# The filter backends of every list endpoint.
FILTERS = [DjangoFilterBackend, StrictOrderingFilter]
