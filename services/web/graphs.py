"""Dependency graphs as pages: a service's neighbourhood (depth 1 to 4) and a team's services."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.safestring import mark_safe
from django.views import View

from services.catalog import graph
from services.models import Service, Team
from services.web.base import LoginRequiredMixin


def _page(request: HttpRequest, drawn: graph.Graph, *, title: str, context: dict) -> HttpResponse:
    # render_svg escapes every label and key: what it returns is markup of ours only.
    svg = mark_safe(graph.render_svg(drawn, title=title))  # noqa: S308
    return render(request, "services/graph.html", {
        "svg": svg, "graph": drawn, "title": title, "max_nodes": graph.MAX_NODES, **context})


class ServiceGraphView(LoginRequiredMixin, View):
    """What a service depends on and what depends on it, to ?depth= steps (default 2)."""

    def get(self, request: HttpRequest, slug: str) -> HttpResponse:
        service = Service.objects.filter(slug=str(slug).lower()).only("pk", "slug", "name").first()
        if service is None:
            raise Http404("No such service.")
        try:
            depth = int(request.GET.get("depth", 2))
        except ValueError:
            depth = 2
        depth = max(1, min(graph.MAX_DEPTH, depth))
        drawn = graph.service_graph(service, depth=depth)
        return _page(request, drawn, title=f"Dependencies of {service.name}, {depth} step{'s' * (depth > 1)} each way",
                     context={"service": service, "depth": depth, "depths": range(1, graph.MAX_DEPTH + 1),
                              "nav": "catalog"})


class TeamGraphView(LoginRequiredMixin, View):
    """Every service a team owns, with what each depends on and what depends on each."""

    def get(self, request: HttpRequest, slug: str) -> HttpResponse:
        team = Team.objects.filter(slug=str(slug).lower()).first()
        if team is None:
            raise Http404("No such team.")
        drawn = graph.team_graph(team)
        return _page(request, drawn, title=f"Services of {team.name} and their dependencies",
                     context={"team": team, "nav": "teams"})
