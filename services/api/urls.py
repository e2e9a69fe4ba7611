"""The REST API's routes, mounted at /api/v1/."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from services.api import audit, views

app_name = "api"

router = DefaultRouter(trailing_slash=True)
router.register("services", views.ServiceViewSet, basename="service")
router.register("teams", views.TeamViewSet, basename="team")
router.register("runbooks", views.RunbookViewSet, basename="runbook")
router.register("environments", views.EnvironmentViewSet, basename="environment")
router.register("systems", views.SystemViewSet, basename="system")
router.register("domains", views.DomainViewSet, basename="domain")
router.register("templates", views.TemplateViewSet, basename="template")
router.register("runs", views.RunViewSet, basename="run")
router.register("tokens", views.ApiTokenViewSet, basename="token")
router.register("audit", audit.AuditEventViewSet, basename="audit")

urlpatterns = [
    path("ownership/", views.OwnershipView.as_view(), name="ownership"),
    *router.urls,
]
