"""Teams: the list, a team's page, and what its leads edit (details, members and their roles)."""

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View

from services.access.permissions import (
    can_change_team_structure,
    can_edit_team,
    can_manage_members,
)
from services.catalog import people, reads, writes
from services.catalog.search import TeamFilter
from services.errors import CatalogError, NotFound
from services.models import (
    Membership,
    Team,
)
from services.web.base import LoginRequiredMixin, add_errors, page_number
from services.web.catalog import HISTORY_ON_SERVICE_PAGE, PAGE_SIZE
from services.web.forms.catalog import (
    MemberForm,
    TeamForm,
)

# ---------------------------------------------------------------------------------------------
# Teams.


class TeamListView(LoginRequiredMixin, View):
    """Every team, with its parent and how many members and services it has; searchable, paginated."""

    def get(self, request: HttpRequest) -> HttpResponse:
        filterset = TeamFilter({"q": request.GET.get("q", "")[:200]}, queryset=reads.team_rows())
        queryset = filterset.qs.order_by("slug") if filterset.is_valid() else Team.objects.none()
        page = Paginator(queryset, PAGE_SIZE).get_page(page_number(request))
        return render(request, "teams/team_list.html",
                      {"page": page, "teams": page.object_list, "query": request.GET.get("q", ""), "nav": "teams"})


class TeamDetailView(LoginRequiredMixin, View):
    """A team: contacts, members with roles, parent and child teams, the services it owns."""

    def get(self, request: HttpRequest, slug: str) -> HttpResponse:
        try:
            team = reads.team_page(slug)
        except NotFound as error:
            raise Http404(error.detail) from None
        return render(request, "teams/team_detail.html", _team_context(request, team))


def _team_context(request: HttpRequest, team: Team) -> dict[str, Any]:
    """What the team page shows (`team` from catalog.team_page), and what the viewer may change there."""
    history = list(reads.team_history(team)[: HISTORY_ON_SERVICE_PAGE + 1])
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
                people.team_update(actor=request.user, team=self.team, data=form.changed_values())
            except CatalogError as error:
                add_errors(form, error)
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
                user = writes.resolve_user(username, field="username")
                if request.POST.get("remove"):
                    people.membership_remove(actor=request.user, team=team, user=user)
                    messages.success(request, f"{user.get_username()} is no longer in {team.name}.")
                else:
                    people.membership_set(actor=request.user, team=team, user=user, role=form.cleaned_data["role"])
                    messages.success(request, f"{user.get_username()} is a {form.cleaned_data['role']} of {team.name}.")
            except CatalogError as error:
                add_errors(form, error)
        if form.errors:
            team = reads.team_page(team.slug)
            return render(request, "teams/team_detail.html",
                          {**_team_context(request, team), "member_form": form}, status=400)
        return redirect(reverse("services:team_detail", kwargs={"slug": team.slug}) + "#members-title")
