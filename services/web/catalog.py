"""Home and search as you type, the catalog with its filters and sorts, and a service's page, history
and in-place edit. Pages that htmx updates in part answer a fragment (templates/services/partials/)
when htmx asks, and a whole page otherwise: every page also works without JavaScript."""

from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views import View

from services.access.permissions import (
    can_edit_service,
    can_own,
    remember_role_among,
)
from services.catalog import interfaces, reads, search, writes
from services.catalog.search import ServiceFilter
from services.errors import CatalogError
from services.http import page_cache
from services.http.paging import DeferredJoinPaginator
from services.models import (
    WELL_KNOWN_LIFECYCLES,
    WELL_KNOWN_TYPES,
    ProvisioningRun,
    Service,
    System,
    Team,
)
from services.web.base import LoginRequiredMixin, add_errors, page_number, service_or_404
from services.web.forms.catalog import (
    ServiceForm,
)

PAGE_SIZE = 50
HISTORY_ON_SERVICE_PAGE = 15
SUGGESTIONS = 4  # of each kind, as one types
SEARCH_RESULTS = 10  # of each kind on the results page
SEARCH_MORE = 50  # of the one kind asked for (?kind=)
# ?sort= values of the catalog page and the ordering each means (slug breaks ties: stable pages;
# empty values last on every database).
SERVICE_SORTS: dict[str, tuple[Any, ...]] = {
    "slug": ("slug",), "name": ("name", "slug"),
    "owner": (F("owner_team__slug").asc(nulls_last=True), "owner_user__username", "slug"),
    "lifecycle": ("lifecycle", "slug"), "type": ("type", "slug"),
    "tier": (F("tier").asc(nulls_last=True), "slug"),
    "updated": ("-updated_at", "slug"),
}


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
            my_services=list(reads.services_of_person(request.user).order_by("slug")[:10]),
            recent_runs=list(ProvisioningRun.objects.select_related("owner", "requested_by")
                             .order_by("-created_at")[:5]),
        )
    return render(request, "services/home.html", context)


class SearchView(LoginRequiredMixin, View):
    """Everything matching the words typed (services.catalog.search.search_everything), grouped by kind
    with counts: a results page, or (for htmx, as the person types on the home page) the suggestions
    alone. `?kind=` shows more of one kind. A `q` that cannot be searched (too long, control characters)
    is a 400 saying why."""

    def get(self, request: HttpRequest) -> HttpResponse:
        query = request.GET.get("q", "")
        fragment = request.htmx and request.GET.get("fragment") == "suggestions"
        context: dict[str, Any] = {"query": query.strip(), "nav": "home", "kind": "", "groups": [], "found": False}
        status = 200
        try:
            kinds = search.search_kinds(request.GET.get("kind")) if not fragment else None
            if request.GET.get("kind") and kinds and len(kinds) == 1:
                context["kind"] = kinds[0]
            limit = SUGGESTIONS if fragment else SEARCH_MORE if context["kind"] else SEARCH_RESULTS
            answer = search.search_everything(query, kinds=kinds, limit=limit)
            context.update(groups=answer.groups(), found=bool(answer.results), similar=answer.similar)
        except CatalogError as error:
            context["error"] = "; ".join(message for messages in error.errors.values() for message in messages)
            status = 400
        template = "services/partials/_search_results.html" if fragment else "services/search.html"
        return render(request, template, context, status=status)


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
    """The catalog: services filtered (services.catalog.search.ServiceFilter, as the API), sorted, paginated.

    Costs a fixed number of queries whatever the page size: the teams and systems offered by the
    filters, the count, the page of rows (owner and system joined)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        # The content is the same for every reader: kept per catalog generation (services.http.page_cache).
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
        filterset = ServiceFilter(request.GET, queryset=reads.catalog_rows())
        errors = {} if filterset.is_valid() else dict(filterset.errors)
        sort = request.GET.get("sort", "slug")
        if sort not in SERVICE_SORTS:
            errors["sort"] = [f"Sort by one of: {', '.join(SERVICE_SORTS)}."]
            sort = "slug"
        valid = not errors
        queryset = filterset.qs.order_by(*SERVICE_SORTS[sort]) if valid else Service.objects.none()
        page = DeferredJoinPaginator(queryset, PAGE_SIZE).get_page(page_number(request))
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
    history = list(reads.service_history(service)[: HISTORY_ON_SERVICE_PAGE + 1])
    return {
        "service": service,
        "can_edit": can_edit_service(request.user, service),
        "members": list(service.owner_team.memberships.all()) if service.owner_team_id else [],
        "history": history[:HISTORY_ON_SERVICE_PAGE],
        "more_history": len(history) > HISTORY_ON_SERVICE_PAGE,
        "conflicts": reads.entry_conflicts("Component", service.slug),
        "interfaces": interfaces.service_interfaces(service),
        "nav": "catalog",
    }


class ServiceDetailView(LoginRequiredMixin, View):
    """A service: owner and how to reach them, repository, environments, runbooks, dependencies,
    links, tags, origin template and audit history; its owners edit it in place."""

    def get(self, request: HttpRequest, slug: str) -> HttpResponse:
        if request.htmx and request.GET.get("fragment") == "summary":
            service = service_or_404(slug)
            return render(request, "services/partials/_service_summary.html", _service_context(request, service))
        # The content depends on the catalog and on whether the reader may edit the service, not on who
        # reads it: it is kept per catalog generation, once for editors and once for the others, with
        # the owner it was rendered for so that whether this reader may edit is known without the row.
        key = page_cache.page_key("service", str(slug).lower())
        page = page_cache.get(key)
        service = None
        if page is None:
            service = service_or_404(slug)
            if service.owner_team_id:  # its members came with it: whether this reader is one is known
                remember_role_among(request.user, service.owner_team, service.owner_team.memberships.all())
            page = {"name": service.name, "owner_team_id": service.owner_team_id,
                    "owner_user_id": service.owner_user_id, "content": {}}
        editor = can_own(request.user,
                         team=Team(pk=page["owner_team_id"]) if page["owner_team_id"] else None,
                         person=get_user_model()(pk=page["owner_user_id"]) if page["owner_user_id"] else None)
        content = page["content"].get(editor)
        if content is None:
            service = service or service_or_404(slug)
            context = _service_context(request, service)
            content = render_to_string("services/partials/_service_page.html", context, request)
            page["content"][context["can_edit"]] = content
            page_cache.put(key, page)
        return render(request, "services/service_detail.html",
                      {"content": mark_safe(content), "title": page["name"], "nav": "catalog"})  # noqa: S308 - our own render


class ServiceHistoryView(LoginRequiredMixin, View):
    """The whole audit history of a service, its runbooks and environments, paginated."""

    def get(self, request: HttpRequest, slug: str) -> HttpResponse:
        service = service_or_404(slug)
        page = Paginator(reads.service_history(service), PAGE_SIZE).get_page(page_number(request))
        return render(request, "services/service_history.html",
                      {"service": service, "page": page, "history": page.object_list, "nav": "catalog"})


class ServiceUpdateView(LoginRequiredMixin, View):
    """Edit a service's description, lifecycle, type, tier, language, tags and links (its owners only).

    With htmx the form replaces the summary on the service page and a save swaps the summary (and the
    history) back; without JavaScript it is a page of its own."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.service = service_or_404(kwargs["slug"])
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
                writes.service_update(actor=request.user, service=self.service, data=form.changed_values())
            except CatalogError as error:
                add_errors(form, error)
        if form.errors:
            return self._form_response(request, form, status=400)
        if request.htmx:
            context = {**_service_context(request, self.service), "saved": True, "history_oob": True}
            return render(request, "services/partials/_service_saved.html", context)
        messages.success(request, "Saved.")
        return redirect("services:service_detail", slug=self.service.slug)
