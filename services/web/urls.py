"""Every page route: the catalog's pages (namespace `services`) and the new-service wizard and run
pages (namespace `wizard`), both mounted at the site's root by config/urls.py."""

from django.urls import path

from services.web import (
    catalog,
    graphs,
    groupings,
    interfaces,
    locations,
    ownership,
    runbooks,
    runs,
    teams,
    tokens,
    wizard,
)

app_name = "services"

urlpatterns = [
    path("", catalog.home, name="home"),
    path("search/", catalog.SearchView.as_view(), name="search"),
    path("services/", catalog.ServiceListView.as_view(), name="service_list"),
    path("services/<str:slug>/", catalog.ServiceDetailView.as_view(), name="service_detail"),
    path("services/<str:slug>/edit/", catalog.ServiceUpdateView.as_view(), name="service_update"),
    path("services/<str:slug>/history/", catalog.ServiceHistoryView.as_view(), name="service_history"),
    path("services/<str:slug>/dependencies/", graphs.ServiceGraphView.as_view(), name="service_graph"),
    path("services/<str:slug>/new-runbook/", runbooks.RunbookCreateView.as_view(), name="runbook_create"),
    path("services/<str:slug>/runbook-preview/", runbooks.RunbookPreviewView.as_view(), name="runbook_preview"),
    path("services/<str:slug>/runbooks/", runbooks.runbook_list_redirect, name="runbook_list"),
    path("services/<str:slug>/runbooks/<str:runbook_slug>/", runbooks.RunbookDetailView.as_view(),
         name="runbook_detail"),
    path("services/<str:slug>/runbooks/<str:runbook_slug>/edit/", runbooks.RunbookUpdateView.as_view(),
         name="runbook_update"),
    path("services/<str:slug>/runbooks/<str:runbook_slug>/history/", runbooks.RunbookHistoryView.as_view(),
         name="runbook_history"),
    path("teams/", teams.TeamListView.as_view(), name="team_list"),
    path("teams/<str:slug>/", teams.TeamDetailView.as_view(), name="team_detail"),
    path("teams/<str:slug>/edit/", teams.TeamUpdateView.as_view(), name="team_update"),
    path("teams/<str:slug>/members/", teams.TeamMembersView.as_view(), name="team_members"),
    path("teams/<str:slug>/dependencies/", graphs.TeamGraphView.as_view(), name="team_graph"),
    path("ownership/", ownership.OwnershipView.as_view(), name="ownership"),
    path("systems/", groupings.SystemListView.as_view(), name="system_list"),
    path("systems/<str:slug>/", groupings.SystemDetailView.as_view(), name="system_detail"),
    path("domains/<str:slug>/", groupings.DomainDetailView.as_view(), name="domain_detail"),
    path("apis/", interfaces.ApiListView.as_view(), name="api_list"),
    path("apis/<str:namespace>/<str:name>/", interfaces.ApiDetailView.as_view(), name="api_detail"),
    path("apis/<str:namespace>/<str:name>/definition/", interfaces.ApiDefinitionView.as_view(), name="api_definition"),
    path("apis/<str:namespace>/<str:name>/swagger/", interfaces.ApiSwaggerView.as_view(), name="api_swagger"),
    path("resources/", interfaces.ResourceListView.as_view(), name="resource_list"),
    path("resources/<str:namespace>/<str:name>/", interfaces.ResourceDetailView.as_view(), name="resource_detail"),
    path("people/<str:username>/", groupings.PersonDetailView.as_view(), name="person_detail"),
    path("tokens/", tokens.ApiTokenListView.as_view(), name="token_list"),
    path("locations/", locations.LocationListView.as_view(), name="location_list"),
    path("locations/<int:pk>/", locations.LocationDetailView.as_view(), name="location_detail"),
    path("locations/plans/<str:plan_id>/", locations.LocationPlanView.as_view(), name="location_plan"),
]

wizard_urlpatterns = [
    path("create/", wizard.TemplateListView.as_view(), name="template_list"),
    path("create/<str:template>/", wizard.ServiceCreateView.as_view(), name="service_create"),
    path("create/<str:template>/switch/", wizard.TemplateSwitchView.as_view(), name="template_switch"),
    path("create/<str:template>/check-name/", wizard.ServiceNameCheckView.as_view(), name="service_name_check"),
    path("runs/", runs.RunListView.as_view(), name="run_list"),
    path("runs/<uuid:pk>/", runs.RunDetailView.as_view(), name="run_detail"),
    path("runs/<uuid:pk>/status/", runs.RunStatusView.as_view(), name="run_status"),
    path("runs/<uuid:pk>/retry/", runs.RunRetryView.as_view(), name="run_retry"),
    path("runs/<uuid:pk>/cancel/", runs.RunCancelView.as_view(), name="run_cancel"),
]
