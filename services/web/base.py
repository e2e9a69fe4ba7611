"""What every page view shares: sign-in (htmx-aware), page numbers, a service or a 404, and
service-layer refusals shown next to the form field they name."""

from typing import Any

from django.contrib.auth.mixins import LoginRequiredMixin as DjangoLoginRequiredMixin
from django.http import Http404, HttpRequest, HttpResponse
from django_htmx.http import HttpResponseClientRedirect

from services.catalog import reads
from services.errors import CatalogError, NotFound
from services.models import (
    Service,
)


class LoginRequiredMixin(DjangoLoginRequiredMixin):
    """Send visitors to sign in; a partial update asked by htmx (say, after the session expired)
    turns into a redirect of the whole page, not a sign-in form inside a fragment."""

    def handle_no_permission(self) -> HttpResponse:
        response = super().handle_no_permission()
        if getattr(self.request, "htmx", False) and not self.request.user.is_authenticated:
            return HttpResponseClientRedirect(response["Location"])
        return response


def page_number(request: HttpRequest, name: str = "page") -> str:
    return request.GET.get(name, "1")


def service_or_404(slug: str) -> Service:
    try:
        return reads.service_page(slug)
    except NotFound as error:
        raise Http404(error.detail) from None


def add_errors(form: Any, error: CatalogError) -> None:
    """Show a service-layer refusal next to the field it names (or above the form)."""
    placed = False
    for field, reasons in (error.errors or {}).items():
        for reason in reasons:
            if field in form.fields:
                form.add_error(field, reason)
                placed = True
    if not placed:
        form.add_error(None, error.detail)
