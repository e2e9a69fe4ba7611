"""Runbooks: read (the sanitized HTML kept when saved), create and edit with a live preview, revisions
with the change each made (diffed when saved). Reading a runbook or its history never renders Markdown
nor diffs text: both cost a fixed number of queries and no work that grows with the text."""

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.views import View

from services.access.permissions import (
    can_edit_service,
)
from services.catalog import reads, writes
from services.catalog.markdown import MAX_BODY_CHARS, render_markdown
from services.errors import CatalogError, NotFound
from services.models import (
    Runbook,
    Service,
)
from services.web.base import LoginRequiredMixin, add_errors, service_or_404
from services.web.forms.catalog import (
    RunbookCreateForm,
    RunbookForm,
)

REVISIONS_PER_PAGE = 50

# ---------------------------------------------------------------------------------------------
# Runbooks.


def _runbook_or_404(slug: str, runbook_slug: str, leave_out: tuple[str, ...] = ()) -> Runbook:
    try:
        return reads.runbook_page(slug, runbook_slug, leave_out=leave_out)
    except NotFound as error:
        raise Http404(error.detail) from None


def _require_editor(request: HttpRequest, service: Service) -> None:
    if not can_edit_service(request.user, service):
        raise PermissionDenied(f"Only the owners of {service.slug} (or staff) may change its runbooks.")


class RunbookDetailView(LoginRequiredMixin, View):
    """A runbook, its Markdown rendered and sanitized, with when it was last reviewed."""

    def get(self, request: HttpRequest, slug: str, runbook_slug: str) -> HttpResponse:
        runbook = _runbook_or_404(slug, runbook_slug, leave_out=("body",))
        return render(request, "runbooks/runbook_detail.html", {
            "runbook": runbook, "service": runbook.service,
            "html": mark_safe(runbook.html[runbook.html_title_end:]),  # noqa: S308 - sanitized when saved
            "stale": reads.runbook_is_stale(runbook), "stale_after": reads.RUNBOOK_STALE_AFTER_DAYS,
            "reviewed_days_ago": reads.runbook_review_age(runbook),
            "can_edit": can_edit_service(request.user, runbook.service), "nav": "catalog",
            "revision_count": runbook.revision_count,
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
            "form": form, "runbook": self.runbook, "service": self.runbook.service,
            "preview": _form_preview(form) if preview is None else preview,
            "stale": reads.runbook_is_stale(self.runbook), "nav": "catalog",
        }, status=status)

    def get(self, request: HttpRequest, slug: str, runbook_slug: str) -> HttpResponse:
        # The preview opens showing the text being edited: the HTML kept when it was saved.
        return self._page(request, RunbookForm.for_runbook(self.runbook), preview=self.runbook.html)

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
            "form": form, "service": self.service, "creating": True, "nav": "catalog",
            "preview": _form_preview(form) if preview is None else preview,
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
        body = request.POST.get("body", "")
        if len(body) > MAX_BODY_CHARS:
            return render(request, "runbooks/partials/_preview.html", {"too_long": len(body),
                                                                       "max_body_chars": MAX_BODY_CHARS})
        return render(request, "runbooks/partials/_preview.html", {"preview": render_markdown(body)})


def _form_preview(form: RunbookForm) -> str:
    """The preview of a form sent back (refused, or the Preview button): its body, if that was valid."""
    if not form.is_bound or "body" in form.errors:
        return ""
    return render_markdown(form.cleaned_data.get("body", ""))


def diff_html(diff: str) -> SafeString:
    """A stored unified diff as escaped lines, each in a span of its kind: file, hunk, add, del, context."""
    spans = []
    for index, line in enumerate(diff.splitlines()):
        # The first two lines are the header (a deleted line "-- x" starts with "---" too).
        kind = "file" if index < 2 else {"@": "hunk", "+": "add", "-": "del"}.get(line[:1], "context")
        spans.append(f'<span class="diff-{kind}">{escape(line)}</span>')
    return mark_safe("".join(spans))  # noqa: S308 - every line escaped above


class RunbookHistoryView(LoginRequiredMixin, View):
    """A runbook's revisions, newest first, a page at a time, and the change one of them made (the
    newest by default): the diff kept when it was saved."""

    def get(self, request: HttpRequest, slug: str, runbook_slug: str) -> HttpResponse:
        runbook = _runbook_or_404(slug, runbook_slug, leave_out=("body", "html"))
        newest = runbook.newest_revision
        pages = max(1, -(-newest // REVISIONS_PER_PAGE))
        page = min(max(_int(request.GET.get("page"), 1), 1), pages)
        top = newest - (page - 1) * REVISIONS_PER_PAGE
        bottom = top - REVISIONS_PER_PAGE + 1
        # `to` is the parameter of links made before each revision kept its own change.
        number = _int(request.GET.get("revision") or request.GET.get("to"), newest)
        rows = list(reads.runbook_revisions(runbook, newest=top, oldest=bottom, shown=number))
        shown = next((row for row in rows if row.number == number), None)
        return render(request, "runbooks/runbook_history.html", {
            "runbook": runbook, "service": runbook.service, "nav": "catalog",
            "revisions": [row for row in rows if bottom <= row.number <= top], "shown": shown,
            "diff": diff_html(shown.shown_diff) if shown else "", "page": page, "pages": pages,
            "newer_page": page - 1 if page > 1 else None, "older_page": page + 1 if page < pages else None,
        })


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value else default
    except ValueError:
        return default


def runbook_list_redirect(request: HttpRequest, slug: str) -> HttpResponse:
    """/services/<slug>/runbooks/ lists the runbooks on the service page."""
    return redirect(reverse("services:service_detail", kwargs={"slug": slug}) + "#runbooks")
