"""Pages for systems, domains and people: what they hold, who owns them, where they come from."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.safestring import mark_safe
from django.views import View

from services.catalog import graph, ownership
from services.catalog.writes import person_name
from services.errors import NotFound
from services.models import Domain, ProvisioningRun, Service, System
from services.web.base import LoginRequiredMixin

User = get_user_model()
MOST_RUNS_SHOWN = 20


class SystemListView(LoginRequiredMixin, View):
    """Every system with its domain, owner and number of services."""

    def get(self, request: HttpRequest) -> HttpResponse:
        systems = (System.objects.select_related("domain", "owner", "owner_user")
                   .annotate(service_count=Count("services", filter=Q(services__archived=False))).order_by("slug"))
        domains = Domain.objects.select_related("owner").annotate(system_count=Count("systems")).order_by("slug")
        return render(request, "services/system_list.html", {"systems": systems, "domains": domains,
                                                              "nav": "catalog"})


class SystemDetailView(LoginRequiredMixin, View):
    """A system: its domain and owner, its services and their dependencies drawn."""

    def get(self, request: HttpRequest, slug: str) -> HttpResponse:
        system = System.objects.select_related("domain", "owner", "owner_user", "origin_location").filter(
            slug=str(slug).lower()).first()
        if system is None:
            raise Http404("No such system.")
        drawn = graph.system_graph(system)
        services = Service.objects.filter(system=system).select_related("owner_team").order_by("slug")
        return render(request, "services/system_detail.html", {
            "system": system, "services": services, "graph": drawn, "nav": "catalog",
            # render_svg escapes every label and key: what it returns is markup of ours only.
            "svg": mark_safe(graph.render_svg(drawn, title=f"Services of {system.name}"))})  # noqa: S308


class DomainDetailView(LoginRequiredMixin, View):
    """A domain: its owner and its systems."""

    def get(self, request: HttpRequest, slug: str) -> HttpResponse:
        domain = Domain.objects.select_related("owner", "owner_user", "origin_location").filter(slug=str(slug).lower()).first()
        if domain is None:
            raise Http404("No such domain.")
        systems = domain.systems.select_related("owner").annotate(service_count=Count("services")).order_by("slug")
        return render(request, "services/domain_detail.html", {"domain": domain, "systems": systems,
                                                                "nav": "catalog"})


class PersonDetailView(LoginRequiredMixin, View):
    """A person: their teams and roles, what they own (directly and through their teams), their runs."""

    def get(self, request: HttpRequest, username: str) -> HttpResponse:
        try:
            answer = ownership.ownership_answer("user", username)
        except NotFound as error:
            raise Http404(error.detail) from None
        person = User.objects.filter(username__iexact=username).select_related("profile").order_by("pk").first()
        runs = (ProvisioningRun.objects.filter(requested_by=person).select_related("owner")
                .order_by("-created_at")[:MOST_RUNS_SHOWN])
        return render(request, "services/person_detail.html", {
            "answer": answer, "person": person, "name": person_name(person), "runs": runs, "nav": "teams"})
