"""Locations: where the catalog's entries come from. The list (with the register form and its dry run),
a plan page a worker fills, and a location's page (sources, conflicts, orphans; refresh, move, delete)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.views import View

from services.access.permissions import can_manage_location, can_move_entries, can_register_location
from services.catalog.sync import locations, plans
from services.errors import CatalogError
from services.models import Location, Service, Team
from services.web.base import LoginRequiredMixin

MOST_SOURCES_SHOWN = 200  # an organisation has thousands: the page shows the first ones and counts the rest


def _teams_for(user: Any) -> list[Team]:
    """The teams a person may register for: theirs (an admin: every team)."""
    teams = Team.objects.order_by("slug")
    return list(teams if user.is_staff else teams.filter(memberships__user=user))


def _team(slug: str) -> Team | None:
    return Team.objects.filter(slug=slug.lower()).first() if slug else None


class LocationListView(LoginRequiredMixin, View):
    """Every location with its state, and the form to register a repository (checked first, by a worker)."""

    def _page(self, request: HttpRequest, *, errors: dict | None = None, values: Any = None,
              status: int = 200) -> HttpResponse:
        rows = Location.objects.select_related("team").annotate(conflict_count=Count("conflicts")).order_by("id")
        return render(request, "locations/location_list.html", {
            "locations": rows, "teams": _teams_for(request.user), "errors": errors or {},
            "values": values or {}, "nav": "locations"}, status=status)

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._page(request)

    def post(self, request: HttpRequest) -> HttpResponse:
        url = request.POST.get("url", "")
        team = _team(request.POST.get("team", ""))
        if request.POST.get("team") and team is None:
            return self._page(request, errors={"team": ["no such team"]}, values=request.POST, status=400)
        if not can_register_location(request.user, team=team):
            return self._page(request, values=request.POST, status=403, errors={
                "team": ["choose one of your teams: members register for their teams, admins for anyone"]})
        try:
            if request.POST.get("action") == "register":
                location = locations.location_register(actor=request.user, url=url, team=team)
                messages.success(request, f"{location.label} is registered; a worker reads it now.")
                return redirect("services:location_detail", pk=location.pk)
            plan = plans.plan_start(url=url, team=team, actor=request.user)
        except CatalogError as error:
            return self._page(request, errors=error.errors or {"url": [error.detail]}, values=request.POST,
                              status=error.status)
        return redirect("services:location_plan", plan_id=plan["id"])


class LocationPlanView(LoginRequiredMixin, View):
    """The dry run of registering a repository: `checking` (the page polls), then what would happen."""

    def get(self, request: HttpRequest, plan_id: str) -> HttpResponse:
        plan = plans.plan_get(plan_id)
        if plan is None or (plan["requested_by"] != request.user.pk and not request.user.is_staff):
            raise Http404("No such plan (plans are kept for an hour).")
        template = "locations/partials/_plan.html" if request.htmx else "locations/location_plan.html"
        return render(request, template, {"plan": plan, "nav": "locations"})


class LocationDetailView(LoginRequiredMixin, View):
    """A location: its state, the files it read, its conflicts and orphans; refresh, move an entry, delete."""

    def _location(self, pk: int) -> Location:
        location = Location.objects.select_related("team", "registered_by").filter(pk=pk).first()
        if location is None:
            raise Http404("No such location.")
        return location

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        location = self._location(pk)
        sources = location.sources.order_by("path").only("path", "state", "entities", "error", "named_by", "read_at")
        return render(request, "locations/location_detail.html", {
            "location": location, "sources": sources[:MOST_SOURCES_SHOWN], "source_count": sources.count(),
            "conflicts": location.conflicts.all(),
            "orphans": Service.objects.filter(origin_location=location, orphaned_at__isnull=False).order_by("slug")[:200],
            "can_manage": can_manage_location(request.user, location), "can_move": can_move_entries(request.user),
            "nav": "locations"})

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        location = self._location(pk)
        action = request.POST.get("action")
        if action == "move":
            if not can_move_entries(request.user):
                return HttpResponseForbidden("Only platform admins move entries between origins.")
            try:
                locations.catalog_entry_move(actor=request.user, kind=request.POST.get("kind", ""),
                                             name=request.POST.get("name", ""), location=location)
            except CatalogError as error:
                messages.error(request, error.detail)
            else:
                messages.success(request, f"{request.POST.get('name')} now belongs to this location; it is read again.")
            return redirect("services:location_detail", pk=pk)
        if not can_manage_location(request.user, location):
            return HttpResponseForbidden("Only platform admins and members of the location's team may do that.")
        if action == "delete":
            orphaned = locations.location_delete(actor=request.user, location=location)
            messages.success(request, f"{location.label} is deleted; its {orphaned} entries stay, orphaned.")
            return redirect("services:location_list")
        locations.location_refresh_soon(location=location, actor=request.user)
        messages.success(request, "A worker refreshes it now.")
        return redirect("services:location_detail", pk=pk)
