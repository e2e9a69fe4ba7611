"""Runbooks: read (sanitized Markdown), create and edit with a live preview, revisions with diffs."""

import difflib
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View

from services.access.permissions import (
    can_edit_service,
)
from services.catalog import reads, writes
from services.catalog.markdown import render_markdown
from services.errors import CatalogError, NotFound
from services.models import (
    Runbook,
    Service,
)
from services.web.base import LoginRequiredMixin, add_errors, service_or_404
from services.web.catalog import REVISIONS_LISTED
from services.web.forms.catalog import (
    RunbookCreateForm,
    RunbookForm,
)

# ---------------------------------------------------------------------------------------------
# Runbooks.


def _runbook_or_404(slug: str, runbook_slug: str) -> Runbook:
    try:
        return reads.runbook_page(slug, runbook_slug)
    except NotFound as error:
        raise Http404(error.detail) from None


def _require_editor(request: HttpRequest, service: Service) -> None:
    if not can_edit_service(request.user, service):
        raise PermissionDenied(f"Only the owners of {service.slug} (or staff) may change its runbooks.")


class RunbookDetailView(LoginRequiredMixin, View):
    """A runbook, its Markdown rendered and sanitized, with when it was last reviewed."""

    def get(self, request: HttpRequest, slug: str, runbook_slug: str) -> HttpResponse:
        runbook = _runbook_or_404(slug, runbook_slug)
        return render(request, "runbooks/runbook_detail.html", {
            "runbook": runbook, "service": runbook.service, "html": render_markdown(runbook.body, title=runbook.title),
            "stale": reads.runbook_is_stale(runbook), "stale_after": reads.RUNBOOK_STALE_AFTER_DAYS,
            "can_edit": can_edit_service(request.user, runbook.service), "nav": "catalog",
            "revision_count": runbook.revisions.count(),
        })


class RunbookUpdateView(LoginRequiredMixin, View):
    """Edit a runbook with a live preview; each saved change of the text keeps a revision."""

    template_name = "runbooks/runbook_edit.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.runbook = _runbook_or_404(kwargs["slug"], kwargs["runbook_slug"])
        _require_editor(request, self.runbook.service)
        return super().dispatch(request, *args, **kwargs)

    def _page(self, request: HttpRequest, form: RunbookForm, status: int = 200, preview: str | None = None
              ) -> HttpResponse:
        return render(request, self.template_name, {
            "form": form, "runbook": self.runbook, "service": self.runbook.service, "preview": preview,
            "stale": reads.runbook_is_stale(self.runbook), "nav": "catalog",
        }, status=status)

    def get(self, request: HttpRequest, slug: str, runbook_slug: str) -> HttpResponse:
        return self._page(request, RunbookForm.for_runbook(self.runbook))

    def post(self, request: HttpRequest, slug: str, runbook_slug: str) -> HttpResponse:
        form = RunbookForm.for_runbook(self.runbook, data=request.POST)
        if not form.is_valid():
            return self._page(request, form, status=400)
        if request.POST.get("action") == "preview":  # the Preview button without JavaScript
            return self._page(request, form, preview=render_markdown(form.cleaned_data["body"]))
        try:
            writes.runbook_update(actor=request.user, runbook=self.runbook, data=form.changed_values())
        except CatalogError as error:
            add_errors(form, error)
            return self._page(request, form, status=400)
        messages.success(request, "Runbook saved.")
        return redirect("services:runbook_detail", slug=self.runbook.service.slug, runbook_slug=self.runbook.slug)


class RunbookCreateView(LoginRequiredMixin, View):
    """Write a new runbook for a service (its owners only)."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.service = service_or_404(kwargs["slug"])
        _require_editor(request, self.service)
        return super().dispatch(request, *args, **kwargs)

    def _page(self, request: HttpRequest, form: RunbookForm, status: int = 200, preview: str | None = None
              ) -> HttpResponse:
        return render(request, "runbooks/runbook_edit.html", {
            "form": form, "service": self.service, "creating": True, "preview": preview, "nav": "catalog",
        }, status=status)

    def get(self, request: HttpRequest, slug: str) -> HttpResponse:
        return self._page(request, RunbookCreateForm())

    def post(self, request: HttpRequest, slug: str) -> HttpResponse:
        form = RunbookCreateForm(request.POST)
        if not form.is_valid():
            return self._page(request, form, status=400)
        if request.POST.get("action") == "preview":
            return self._page(request, form, preview=render_markdown(form.cleaned_data["body"]))
        try:
            runbook = writes.runbook_create(actor=request.user, service=self.service, **form.changed_values())
        except CatalogError as error:
            if "slug" in error.errors and not form.cleaned_data.get("slug"):
                form.add_error("title", "A runbook with this title exists already; change the title or "
                                        "give another address.")
            else:
                add_errors(form, error)
            return self._page(request, form, status=400)
        messages.success(request, "Runbook created.")
        return redirect("services:runbook_detail", slug=self.service.slug, runbook_slug=runbook.slug)


class RunbookPreviewView(LoginRequiredMixin, View):
    """The Markdown of the runbook editor as it will be shown: rendered and sanitized (htmx POST)."""

    def post(self, request: HttpRequest, slug: str) -> HttpResponse:
        service = service_or_404(slug)
        _require_editor(request, service)
        body = request.POST.get("body", "")[:200_000]
        return render(request, "runbooks/partials/_preview.html", {"preview": render_markdown(body)})


def _diff(old: str, new: str, old_label: str, new_label: str) -> list[tuple[str, str]]:
    """A unified diff as (kind, line) pairs; the template escapes the lines."""
    lines: list[tuple[str, str]] = []
    for line in difflib.unified_diff(old.splitlines(), new.splitlines(), old_label, new_label, lineterm="", n=3):
        if line.startswith(("---", "+++")):
            kind = "file"
        elif line.startswith("@@"):
            kind = "hunk"
        elif line.startswith("+"):
            kind = "add"
        elif line.startswith("-"):
            kind = "del"
        else:
            kind = "context"
        lines.append((kind, line))
    return lines


class RunbookHistoryView(LoginRequiredMixin, View):
    """A runbook's revisions, and the difference between two of them (the last two by default)."""

    def get(self, request: HttpRequest, slug: str, runbook_slug: str) -> HttpResponse:
        runbook = _runbook_or_404(slug, runbook_slug)
        revisions = list(runbook.revisions.select_related("author__profile").order_by("-number")[:REVISIONS_LISTED])
        by_number = {revision.number: revision for revision in revisions}
        newest = revisions[0].number if revisions else 0
        to_number = _int(request.GET.get("to"), newest)
        from_number = _int(request.GET.get("from"), to_number - 1)
        old, new = by_number.get(from_number), by_number.get(to_number)
        diff: list[tuple[str, str]] = []
        if old is not None and new is not None:
            diff = _diff(old.body, new.body, f"revision {old.number}", f"revision {new.number}")
        return render(request, "runbooks/runbook_history.html", {
            "runbook": runbook, "service": runbook.service, "revisions": revisions, "old": old, "new": new,
            "diff": diff, "from_number": from_number, "to_number": to_number, "nav": "catalog",
        })


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value else default
    except ValueError:
        return default


def runbook_list_redirect(request: HttpRequest, slug: str) -> HttpResponse:
    """/services/<slug>/runbooks/ lists the runbooks on the service page."""
    return redirect(reverse("services:service_detail", kwargs={"slug": slug}) + "#runbooks")
