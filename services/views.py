"""Server-rendered web pages: home and search, the catalog, service, team and who-owns pages, runbooks.

Views parse the request, call the service layer (services/catalog.py, services/ownership.py,
services/permissions.py) and render a template; they hold no rules of their own. Pages that htmx
updates in part answer a fragment (templates/services/partials/) when asked by htmx, and a whole page
otherwise, so every page also works without JavaScript.
"""

from __future__ import annotations

import difflib
from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.mixins import LoginRequiredMixin as DjangoLoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import F
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views import View
from django_htmx.http import HttpResponseClientRedirect

from services import catalog, ownership, page_cache, tokens
from services.api.filters import ServiceFilter, TeamFilter
from services.errors import CatalogError, InvalidInput, NotFound
from services.forms import (
    MemberForm,
    OwnershipQueryForm,
    RunbookCreateForm,
    RunbookForm,
    ServiceForm,
    TeamForm,
)
from services.markdown import render_markdown
from services.models import (
    WELL_KNOWN_LIFECYCLES,
    WELL_KNOWN_TYPES,
    Membership,
    ProvisioningRun,
    Runbook,
    Service,
    System,
    Team,
)
from services.paging import DeferredJoinPaginator
from services.permissions import (
    can_change_team_structure,
    can_edit_service,
    can_edit_team,
    can_manage_members,
    can_own,
    remember_role_among,
)

PAGE_SIZE = 50
HISTORY_ON_SERVICE_PAGE = 15
SUGGESTIONS = 6
SEARCH_RESULTS = 25
REVISIONS_LISTED = 100
# ?sort= values of the catalog page and the ordering each means (slug breaks ties: stable pages;
# empty values last on every database).
SERVICE_SORTS: dict[str, tuple[Any, ...]] = {
    "slug": ("slug",), "name": ("name", "slug"),
    "owner": (F("owner_team__slug").asc(nulls_last=True), "owner_user__username", "slug"),
    "lifecycle": ("lifecycle", "slug"), "type": ("type", "slug"),
    "tier": (F("tier").asc(nulls_last=True), "slug"),
    "updated": ("-updated_at", "slug"),
}


class LoginRequiredMixin(DjangoLoginRequiredMixin):
    """Send visitors to sign in; a partial update asked by htmx (say, after the session expired)
    turns into a redirect of the whole page, not a sign-in form inside a fragment."""

    def handle_no_permission(self) -> HttpResponse:
        response = super().handle_no_permission()
        if getattr(self.request, "htmx", False) and not self.request.user.is_authenticated:
            return HttpResponseClientRedirect(response["Location"])
        return response


def _page_number(request: HttpRequest, name: str = "page") -> str:
    return request.GET.get(name, "1")


def _service_or_404(slug: str) -> Service:
    try:
        return catalog.service_page(slug)
    except NotFound as error:
        raise Http404(error.detail) from None


def _add_errors(form: Any, error: CatalogError) -> None:
    """Show a service-layer refusal next to the field it names (or above the form)."""
    placed = False
    for field, reasons in (error.errors or {}).items():
        for reason in reasons:
            if field in form.fields:
                form.add_error(field, reason)
                placed = True
    if not placed:
        form.add_error(None, error.detail)


# ---------------------------------------------------------------------------------------------
# Home and search.


def home(request: HttpRequest) -> HttpResponse:
    """The landing page: search, my teams' services, recent runs; a sign-in prompt for visitors."""
    context: dict[str, Any] = {"nav": "home"}
    if request.user.is_authenticated:
        context.update(
            service_count=Service.objects.filter(archived=False).count(),
            team_count=Team.objects.count(),
            people_count=get_user_model().objects.filter(is_active=True).count(),
            my_services=list(catalog.services_of_person(request.user).order_by("slug")[:10]),
            recent_runs=list(ProvisioningRun.objects.select_related("owner", "requested_by")
                             .order_by("-created_at")[:5]),
        )
    return render(request, "services/home.html", context)


class SearchView(LoginRequiredMixin, View):
    """Services, teams and people matching the words typed: a results page, or (for htmx, as the
    person types on the home page) the list of suggestions alone."""

    def get(self, request: HttpRequest) -> HttpResponse:
        query = request.GET.get("q", "").strip()[:200]
        fragment = request.htmx and request.GET.get("fragment") == "suggestions"
        results = catalog.catalog_search(query, limit=SUGGESTIONS if fragment else SEARCH_RESULTS)
        context = {"query": query, "results": results,
                   "found": any(results.values()), "nav": "home"}
        if fragment:
            return render(request, "services/partials/_search_results.html", context)
        return render(request, "services/search.html", context)


# ---------------------------------------------------------------------------------------------
# The catalog and a service.


def _filter_choices() -> dict[str, list[tuple[str, str]]]:
    """The teams and systems the catalog's filters offer, read once per catalog generation (the same
    500 teams and 100 systems for every page of the catalog)."""
    return page_cache.remember(page_cache.page_key("catalog-filter-choices"), lambda: {
        "teams": list(Team.objects.order_by("slug").values_list("slug", "name")),
        "systems": list(System.objects.order_by("slug").values_list("slug", "name")),
    })


class ServiceListView(LoginRequiredMixin, View):
    """The catalog: services filtered (services.api.filters.ServiceFilter, as the API), sorted, paginated.

    Costs a fixed number of queries whatever the page size: the teams and systems offered by the
    filters, the count, the page of rows (owner and system joined)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        # The content is the same for every reader: kept per catalog generation (services.page_cache).
        key = page_cache.page_key("catalog", request.get_full_path())
        content = page_cache.get(key)
        status = 200
        if content is None:
            context, status = self._content_context(request)
            content = render_to_string("services/partials/_catalog_page.html", context, request)
            if status == 200:
                page_cache.put(key, content)
        return render(request, "services/service_list.html",
                      {"content": mark_safe(content), "query": request.GET.get("q", ""), "nav": "catalog"},  # noqa: S308 - our own render
                      status=status)

    def _content_context(self, request: HttpRequest) -> tuple[dict[str, Any], int]:
        filterset = ServiceFilter(request.GET, queryset=catalog.catalog_rows())
        errors = {} if filterset.is_valid() else dict(filterset.errors)
        sort = request.GET.get("sort", "slug")
        if sort not in SERVICE_SORTS:
            errors["sort"] = [f"Sort by one of: {', '.join(SERVICE_SORTS)}."]
            sort = "slug"
        valid = not errors
        queryset = filterset.qs.order_by(*SERVICE_SORTS[sort]) if valid else Service.objects.none()
        page = DeferredJoinPaginator(queryset, PAGE_SIZE).get_page(_page_number(request))
        context = {
            "filter_errors": errors,
            "params": request.GET,
            "page": page,
            "services": page.object_list,
            "sort": sort,
            "sorts": [("slug", "Slug"), ("name", "Name"), ("owner", "Owner"), ("lifecycle", "Lifecycle"),
                      ("type", "Type"), ("tier", "Tier"), ("updated", "Recently changed")],
            **_filter_choices(),
            "lifecycles": WELL_KNOWN_LIFECYCLES,
            "types": WELL_KNOWN_TYPES,
            "filtered": any(request.GET.get(key) for key in filterset.filters),
            # Row links are the list URL + slug: reversing two URLs per row was a tenth of the page's time.
            "service_url_prefix": reverse("services:service_list"),
            "team_url_prefix": reverse("services:team_list"),
        }
        return context, 200 if valid else 400


def _service_context(request: HttpRequest, service: Service) -> dict[str, Any]:
    history = list(catalog.service_history(service)[: HISTORY_ON_SERVICE_PAGE + 1])
    return {
        "service": service,
        "can_edit": can_edit_service(request.user, service),
        "members": list(service.owner_team.memberships.all()) if service.owner_team_id else [],
        "history": history[:HISTORY_ON_SERVICE_PAGE],
        "more_history": len(history) > HISTORY_ON_SERVICE_PAGE,
        "nav": "catalog",
    }


class ServiceDetailView(LoginRequiredMixin, View):
    """A service: owner and how to reach them, repository, environments, runbooks, dependencies,
    links, tags, origin template and audit history; its owners edit it in place."""

    def get(self, request: HttpRequest, slug: str) -> HttpResponse:
        if request.htmx and request.GET.get("fragment") == "summary":
            service = _service_or_404(slug)
            return render(request, "services/partials/_service_summary.html", _service_context(request, service))
        # The content depends on the catalog and on whether the reader may edit the service, not on who
        # reads it: it is kept per catalog generation, once for editors and once for the others, with
        # the owner it was rendered for so that whether this reader may edit is known without the row.
        key = page_cache.page_key("service", str(slug).lower())
        page = page_cache.get(key)
        service = None
        if page is None:
            service = _service_or_404(slug)
            if service.owner_team_id:  # its members came with it: whether this reader is one is known
                remember_role_among(request.user, service.owner_team, service.owner_team.memberships.all())
            page = {"name": service.name, "owner_team_id": service.owner_team_id,
                    "owner_user_id": service.owner_user_id, "content": {}}
        editor = can_own(request.user,
                         team=Team(pk=page["owner_team_id"]) if page["owner_team_id"] else None,
                         person=get_user_model()(pk=page["owner_user_id"]) if page["owner_user_id"] else None)
        content = page["content"].get(editor)
        if content is None:
            service = service or _service_or_404(slug)
            context = _service_context(request, service)
            content = render_to_string("services/partials/_service_page.html", context, request)
            page["content"][context["can_edit"]] = content
            page_cache.put(key, page)
        return render(request, "services/service_detail.html",
                      {"content": mark_safe(content), "title": page["name"], "nav": "catalog"})  # noqa: S308 - our own render


class ServiceHistoryView(LoginRequiredMixin, View):
    """The whole audit history of a service, its runbooks and environments, paginated."""

    def get(self, request: HttpRequest, slug: str) -> HttpResponse:
        service = _service_or_404(slug)
        page = Paginator(catalog.service_history(service), PAGE_SIZE).get_page(_page_number(request))
        return render(request, "services/service_history.html",
                      {"service": service, "page": page, "history": page.object_list, "nav": "catalog"})


class ServiceUpdateView(LoginRequiredMixin, View):
    """Edit a service's description, lifecycle, type, tier, language, tags and links (its owners only).

    With htmx the form replaces the summary on the service page and a save swaps the summary (and the
    history) back; without JavaScript it is a page of its own."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.service = _service_or_404(kwargs["slug"])
        if not can_edit_service(request.user, self.service):
            raise PermissionDenied(f"Only the owners of {self.service.slug} (or staff) may change it.")
        return super().dispatch(request, *args, **kwargs)

    def _form_response(self, request: HttpRequest, form: ServiceForm, status: int = 200) -> HttpResponse:
        # Focus the first field in error (or the first field): the form replaces what had the focus.
        first = next((name for name in form.fields if name in form.errors), "name")
        form.fields[first].widget.attrs["autofocus"] = True
        context = {**_service_context(request, self.service), "form": form}
        if request.htmx:
            # htmx swaps only 2xx answers: a refused form comes back as 200 with its errors.
            return render(request, "services/partials/_service_form.html", context)
        return render(request, "services/service_edit.html", context, status=status)

    def get(self, request: HttpRequest, slug: str) -> HttpResponse:
        return self._form_response(request, ServiceForm.for_service(self.service))

    def post(self, request: HttpRequest, slug: str) -> HttpResponse:
        form = ServiceForm.for_service(self.service, data=request.POST)
        if form.is_valid():
            try:
                catalog.service_update(actor=request.user, service=self.service, data=form.changed_values())
            except CatalogError as error:
                _add_errors(form, error)
        if form.errors:
            return self._form_response(request, form, status=400)
        if request.htmx:
            context = {**_service_context(request, self.service), "saved": True, "history_oob": True}
            return render(request, "services/partials/_service_saved.html", context)
        messages.success(request, "Saved.")
        return redirect("services:service_detail", slug=self.service.slug)


# ---------------------------------------------------------------------------------------------
# Teams.


class TeamListView(LoginRequiredMixin, View):
    """Every team, with its parent and how many members and services it has; searchable, paginated."""

    def get(self, request: HttpRequest) -> HttpResponse:
        filterset = TeamFilter({"q": request.GET.get("q", "")[:200]}, queryset=catalog.team_rows())
        queryset = filterset.qs.order_by("slug") if filterset.is_valid() else Team.objects.none()
        page = Paginator(queryset, PAGE_SIZE).get_page(_page_number(request))
        return render(request, "teams/team_list.html",
                      {"page": page, "teams": page.object_list, "query": request.GET.get("q", ""), "nav": "teams"})


class TeamDetailView(LoginRequiredMixin, View):
    """A team: contacts, members with roles, parent and child teams, the services it owns."""

    def get(self, request: HttpRequest, slug: str) -> HttpResponse:
        try:
            team = catalog.team_page(slug)
        except NotFound as error:
            raise Http404(error.detail) from None
        return render(request, "teams/team_detail.html", _team_context(request, team))


def _team_context(request: HttpRequest, team: Team) -> dict[str, Any]:
    """What the team page shows (`team` from catalog.team_page), and what the viewer may change there."""
    history = list(catalog.team_history(team)[: HISTORY_ON_SERVICE_PAGE + 1])
    return {
        "team": team, "members": list(team.memberships.all()), "children": list(team.children.all()),
        "services": team.listed_services, "more_services": team.service_count > len(team.listed_services),
        "team_history": history[:HISTORY_ON_SERVICE_PAGE], "more_team_history": len(history) > HISTORY_ON_SERVICE_PAGE,
        "nav": "teams", **_team_permissions(request, team),
    }


def _team_or_404(slug: str) -> Team:
    team = Team.objects.select_related("parent").filter(slug=str(slug).lower()).first()
    if team is None:
        raise Http404(f"No team '{slug}'.")
    return team


def _team_permissions(request: HttpRequest, team: Team) -> dict[str, Any]:
    can_members = can_manage_members(request.user, team)
    return {
        "can_edit_team": can_edit_team(request.user, team),
        "can_manage_members": can_members,
        "member_form": MemberForm() if can_members else None,
        "roles": Membership.Role.choices,
    }


class TeamUpdateView(LoginRequiredMixin, View):
    """Edit a team's name, description and contacts (its leads); platform admins also its parent and
    GitHub team."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.team = _team_or_404(kwargs["slug"])
        if not can_edit_team(request.user, self.team):
            raise PermissionDenied(f"Only the leads of {self.team.slug} (or platform admins) may change it.")
        self.structure = can_change_team_structure(request.user)
        return super().dispatch(request, *args, **kwargs)

    def _page(self, request: HttpRequest, form: TeamForm, status: int = 200) -> HttpResponse:
        return render(request, "teams/team_edit.html", {"team": self.team, "form": form, "nav": "teams"},
                      status=status)

    def get(self, request: HttpRequest, slug: str) -> HttpResponse:
        return self._page(request, TeamForm.for_team(self.team, structure=self.structure))

    def post(self, request: HttpRequest, slug: str) -> HttpResponse:
        form = TeamForm.for_team(self.team, structure=self.structure, data=request.POST)
        if form.is_valid():
            try:
                catalog.team_update(actor=request.user, team=self.team, data=form.changed_values())
            except CatalogError as error:
                _add_errors(form, error)
        if form.errors:
            return self._page(request, form, status=400)
        messages.success(request, "Saved.")
        return redirect("services:team_detail", slug=self.team.slug)


class TeamMembersView(LoginRequiredMixin, View):
    """Add a member or set a member's role (POST username, role), or take one out (POST username,
    remove=1): the team's leads and platform admins."""

    def post(self, request: HttpRequest, slug: str) -> HttpResponse:
        team = _team_or_404(slug)
        if not can_manage_members(request.user, team):
            raise PermissionDenied(f"Only the leads of {team.slug} (or platform admins) may change its members.")
        form = MemberForm(request.POST)
        if form.is_valid():
            username = form.cleaned_data["username"]
            try:
                user = catalog.resolve_user(username, field="username")
                if request.POST.get("remove"):
                    catalog.membership_remove(actor=request.user, team=team, user=user)
                    messages.success(request, f"{user.get_username()} is no longer in {team.name}.")
                else:
                    catalog.membership_set(actor=request.user, team=team, user=user, role=form.cleaned_data["role"])
                    messages.success(request, f"{user.get_username()} is a {form.cleaned_data['role']} of {team.name}.")
            except CatalogError as error:
                _add_errors(form, error)
        if form.errors:
            team = catalog.team_page(team.slug)
            return render(request, "teams/team_detail.html",
                          {**_team_context(request, team), "member_form": form}, status=400)
        return redirect(reverse("services:team_detail", kwargs={"slug": team.slug}) + "#members-title")


# ---------------------------------------------------------------------------------------------
# Who owns this?


def _ownership_candidates(text: str) -> list[tuple[str, str]]:
    """The lookups to try for what was pasted, most likely first.

    `user:jane`, `team:payments` (or `group:`) and `service:ledger` say what they are; otherwise the
    kind is guessed as the whoowns command does, and a bare word that is not a service may be a
    person or a team (or, with a dot, a repository on the default host)."""
    prefix, _, rest = text.partition(":")
    kinds = {"user": "user", "team": "team", "group": "team", "service": "service"}
    if prefix.lower() in kinds and rest.strip() and "/" not in rest:
        return [(kinds[prefix.lower()], rest.strip())]
    if ownership.guess_lookup_kind(text) == "repo":
        return [("repo", text)]
    candidates = [("service", text), ("user", text), ("team", text)]
    if "." in text:
        candidates.append(("repo", text))
    return candidates


class OwnershipView(LoginRequiredMixin, View):
    """Who owns this? One box for a service, a repository or any URL of it, a person or a team; the
    answer is the ownership API's, laid out for people."""

    def get(self, request: HttpRequest) -> HttpResponse:
        form = OwnershipQueryForm(request.GET or None)
        context: dict[str, Any] = {"form": form, "nav": "ownership"}
        if not request.GET:
            return render(request, "services/ownership.html", context)
        if not form.is_valid():
            return render(request, "services/ownership.html", context, status=400)
        text = form.cleaned_data["q"].strip()
        problem = ""
        for kind, value in _ownership_candidates(text):
            try:
                answer = ownership.ownership_answer(kind, value)
            except NotFound:
                continue
            except InvalidInput as error:
                problem = error.detail
                continue
            context.update(kind=kind, answer=answer)
            return render(request, "services/ownership.html", context)
        suggestions = catalog.catalog_search(text.replace("/", " ").replace(":", " "), limit=SUGGESTIONS)
        named = [s for s in suggestions["services"] if s.name.lower() == text.lower()]
        if len(named) == 1:
            # A service's display name rather than its slug.
            context.update(kind="service", answer=ownership.ownership_answer("service", named[0].slug))
            return render(request, "services/ownership.html", context)
        context.update(not_found=True, query=text, problem=problem, suggestions=suggestions,
                       has_suggestions=any(suggestions.values()))
        return render(request, "services/ownership.html", context, status=404)


# ---------------------------------------------------------------------------------------------
# Runbooks.


def _runbook_or_404(slug: str, runbook_slug: str) -> Runbook:
    try:
        return catalog.runbook_page(slug, runbook_slug)
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
            "stale": catalog.runbook_is_stale(runbook), "stale_after": catalog.RUNBOOK_STALE_AFTER_DAYS,
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
            "stale": catalog.runbook_is_stale(self.runbook), "nav": "catalog",
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
            catalog.runbook_update(actor=request.user, runbook=self.runbook, data=form.changed_values())
        except CatalogError as error:
            _add_errors(form, error)
            return self._page(request, form, status=400)
        messages.success(request, "Runbook saved.")
        return redirect("services:runbook_detail", slug=self.runbook.service.slug, runbook_slug=self.runbook.slug)


class RunbookCreateView(LoginRequiredMixin, View):
    """Write a new runbook for a service (its owners only)."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.service = _service_or_404(kwargs["slug"])
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
            runbook = catalog.runbook_create(actor=request.user, service=self.service, **form.changed_values())
        except CatalogError as error:
            if "slug" in error.errors and not form.cleaned_data.get("slug"):
                form.add_error("title", "A runbook with this title exists already; change the title or "
                                        "give another address.")
            else:
                _add_errors(form, error)
            return self._page(request, form, status=400)
        messages.success(request, "Runbook created.")
        return redirect("services:runbook_detail", slug=self.service.slug, runbook_slug=runbook.slug)


class RunbookPreviewView(LoginRequiredMixin, View):
    """The Markdown of the runbook editor as it will be shown: rendered and sanitized (htmx POST)."""

    def post(self, request: HttpRequest, slug: str) -> HttpResponse:
        service = _service_or_404(slug)
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


class ApiTokenListView(LoginRequiredMixin, View):
    """My API tokens: create one (its key shown once), see them all, revoke one."""

    def _page(self, request: HttpRequest, *, key: str = "", errors: dict | None = None, status: int = 200,
              values: dict | None = None) -> HttpResponse:
        context = {"tokens": tokens.token_list(request.user), "new_key": key, "errors": errors or {},
                   "values": values or {}, "nav": ""}
        return render(request, "tokens/token_list.html", context, status=status)

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._page(request)

    def post(self, request: HttpRequest) -> HttpResponse:
        if "revoke" in request.POST:
            try:
                token = tokens.token_of(request.user, request.POST["revoke"])
            except CatalogError:
                raise Http404("No such token.") from None
            tokens.token_revoke(actor=request.user, token=token)
            messages.success(request, f"Token “{token.name}” is revoked: it is refused from now on.")
            return redirect("services:token_list")
        name = request.POST.get("name", "")
        raw_days = request.POST.get("expires_in_days", "").strip()
        try:
            days = int(raw_days) if raw_days else None
        except ValueError:
            return self._page(request, errors={"expires_in_days": ["a whole number of days"]}, status=400,
                              values=request.POST)
        try:
            _, key = tokens.token_create(actor=request.user, user=request.user, name=name, expires_in_days=days)
        except CatalogError as error:
            return self._page(request, errors=error.errors, status=400, values=request.POST)
        return self._page(request, key=key)
