"""The REST API's routes, mounted at /api/v1/."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from services.api import audit, catalog, interfaces, locations, scaffolder, search, teams, tokens

app_name = "api"

router = DefaultRouter(trailing_slash=True)
router.register("services", catalog.ServiceViewSet, basename="service")
router.register("teams", teams.TeamViewSet, basename="team")
router.register("runbooks", catalog.RunbookViewSet, basename="runbook")
router.register("environments", catalog.EnvironmentViewSet, basename="environment")
router.register("systems", catalog.SystemViewSet, basename="system")
router.register("domains", catalog.DomainViewSet, basename="domain")
router.register("apis", interfaces.ApiViewSet, basename="api")
router.register("resources", interfaces.ResourceViewSet, basename="resource")
router.register("templates", scaffolder.TemplateViewSet, basename="template")
router.register("runs", scaffolder.RunViewSet, basename="run")
router.register("tokens", tokens.ApiTokenViewSet, basename="token")
router.register("audit", audit.AuditEventViewSet, basename="audit")
router.register("locations", locations.LocationViewSet, basename="location")

urlpatterns = [
    path("ownership/", catalog.OwnershipView.as_view(), name="ownership"),
    path("apis/<str:namespace>/<str:name>/", interfaces.ApiDetailView.as_view(), name="api-detail"),
    path("resources/<str:namespace>/<str:name>/", interfaces.ResourceDetailView.as_view(), name="resource-detail"),
    path("search/", search.SearchView.as_view(), name="search"),
    *router.urls,
]
