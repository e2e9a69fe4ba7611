"""Web page routes (the new-service wizard and the run pages are in services/wizard_urls.py)."""

from django.urls import path

from services import views

app_name = "services"

urlpatterns = [
    path("", views.home, name="home"),
    path("search/", views.SearchView.as_view(), name="search"),
    path("services/", views.ServiceListView.as_view(), name="service_list"),
    path("services/<str:slug>/", views.ServiceDetailView.as_view(), name="service_detail"),
    path("services/<str:slug>/edit/", views.ServiceUpdateView.as_view(), name="service_update"),
    path("services/<str:slug>/history/", views.ServiceHistoryView.as_view(), name="service_history"),
    path("services/<str:slug>/new-runbook/", views.RunbookCreateView.as_view(), name="runbook_create"),
    path("services/<str:slug>/runbook-preview/", views.RunbookPreviewView.as_view(), name="runbook_preview"),
    path("services/<str:slug>/runbooks/", views.runbook_list_redirect, name="runbook_list"),
    path("services/<str:slug>/runbooks/<str:runbook_slug>/", views.RunbookDetailView.as_view(),
         name="runbook_detail"),
    path("services/<str:slug>/runbooks/<str:runbook_slug>/edit/", views.RunbookUpdateView.as_view(),
         name="runbook_update"),
    path("services/<str:slug>/runbooks/<str:runbook_slug>/history/", views.RunbookHistoryView.as_view(),
         name="runbook_history"),
    path("teams/", views.TeamListView.as_view(), name="team_list"),
    path("teams/<str:slug>/", views.TeamDetailView.as_view(), name="team_detail"),
    path("teams/<str:slug>/edit/", views.TeamUpdateView.as_view(), name="team_update"),
    path("teams/<str:slug>/members/", views.TeamMembersView.as_view(), name="team_members"),
    path("ownership/", views.OwnershipView.as_view(), name="ownership"),
    path("tokens/", views.ApiTokenListView.as_view(), name="token_list"),
]
