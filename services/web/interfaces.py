"""Pages for APIs and resources: who owns them, who provides and consumes an API (its definition
shown, OpenAPI in the Swagger UI the API docs already serve), what depends on a resource."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views import View

from services.catalog import interfaces
from services.catalog.search import MAX_SEARCH
from services.errors import NotFound
from services.models import Api, Resource
from services.web.base import LoginRequiredMixin, page_number

PAGE_SIZE = 50


def _listed(request: HttpRequest, model: type[Api] | type[Resource]) -> dict[str, object]:
    """A page of APIs or resources, narrowed by the words typed (name, title, type)."""
    query = request.GET.get("q", "").strip()[:MAX_SEARCH]
    rows = model.objects.select_related("owner_team", "owner_user", "system").order_by("namespace", "slug")
    for word in query.split()[:8]:
        rows = rows.filter(Q(slug__icontains=word) | Q(title__icontains=word) | Q(type__icontains=word))
    page = Paginator(rows, PAGE_SIZE).get_page(page_number(request))
    return {"page": page, "rows": page.object_list, "query": query, "nav": "catalog"}


class ApiListView(LoginRequiredMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, "services/api_list.html", _listed(request, Api))


class ResourceListView(LoginRequiredMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, "services/resource_list.html", _listed(request, Resource))


def _api(namespace: str, name: str) -> Api:
    try:
        return interfaces.api_or_404(namespace, name)
    except NotFound as error:
        raise Http404(error.detail) from None


class ApiDetailView(LoginRequiredMixin, View):
    """An API: owner, system, lifecycle, its definition (or why it is not there), providers and consumers."""

    def get(self, request: HttpRequest, namespace: str, name: str) -> HttpResponse:
        api = _api(namespace, name)
        return render(request, "services/api_detail.html", {
            "api": api, **interfaces.api_relations(api), "nav": "catalog",
            "swagger": api.type.lower() == "openapi" and bool(api.definition)})


class ApiDefinitionView(LoginRequiredMixin, View):
    """The definition as plain text (what the Swagger UI loads): never rendered as a page of ours."""

    def get(self, request: HttpRequest, namespace: str, name: str) -> HttpResponse:
        api = _api(namespace, name)
        if not api.definition:
            raise Http404("This API has no definition (yet).")
        response = HttpResponse(api.definition, content_type="text/plain; charset=utf-8")
        response["Content-Disposition"] = f'inline; filename="{api.slug}-definition.txt"'
        return response


class ApiSwaggerView(LoginRequiredMixin, View):
    """An OpenAPI definition in the Swagger UI (drf-spectacular's copy, served from our own static files)."""

    def get(self, request: HttpRequest, namespace: str, name: str) -> HttpResponse:
        api = _api(namespace, name)
        if api.type.lower() != "openapi" or not api.definition:
            raise Http404("Only an OpenAPI definition is shown in the Swagger UI.")
        return render(request, "services/api_swagger.html", {"api": api, "nav": "catalog"})


class ResourceDetailView(LoginRequiredMixin, View):
    """A resource: owner, system, what it depends on, and the services and resources that depend on it."""

    def get(self, request: HttpRequest, namespace: str, name: str) -> HttpResponse:
        try:
            resource = interfaces.resource_or_404(namespace, name)
        except NotFound as error:
            raise Http404(error.detail) from None
        return render(request, "services/resource_detail.html", {
            "resource": resource, **interfaces.resource_relations(resource), "nav": "catalog"})
