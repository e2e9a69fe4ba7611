"""Server-rendered web pages (the full portal grows here; see issue "Self-service web portal")."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from services.models import Service, Team


def home(request: HttpRequest) -> HttpResponse:
    """The landing page: what Slipway holds and where to go next."""
    context = {
        "service_count": Service.objects.filter(archived=False).count(),
        "team_count": Team.objects.count(),
        "people_count": get_user_model().objects.count(),
        "recent_services": Service.objects.select_related("owner_team", "owner_user").order_by("-updated_at")[:10]
        if request.user.is_authenticated else [],
    }
    return render(request, "services/home.html", context)
