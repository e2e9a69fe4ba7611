"""Top-level routes: web pages, the API and its docs, health, admin."""

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from services.http import apidocs, health, metrics, webhooks
from services.http.security import ThrottledLoginView, content_security_policy
from services.web.urls import wizard_urlpatterns

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("webhooks/github/", webhooks.github_webhook, name="github_webhook"),  # signed by GitHub, verified  # Prometheus; a bearer token or staff only
    path("admin/", admin.site.urls),
    path("accounts/login/", ThrottledLoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/v1/", include("services.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file: the Content-Security-Policy allows no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema", template_name="api/swagger_ui.html"),
         name="api-docs"),
    # ReDoc writes its styles into <style> elements at run time (styled-components) and runs its search
    # in a worker made from a blob: on this page only, inline styles and blob: workers; scripts stay 'self'.
    path("api/redoc/redoc.standalone.js", apidocs.redoc_bundle, name="api-redoc-bundle"),
    path("api/redoc/", content_security_policy(style_src=["'self'", "'unsafe-inline'"], worker_src=["'self'", "blob:"])(
        SpectacularRedocView.as_view(url_name="schema", template_name="api/redoc.html")), name="api-redoc"),
    path("", include((wizard_urlpatterns, "wizard"))),
    path("", include("services.web.urls")),
]

if settings.SLIPWAY_OIDC_ENABLED:
    urlpatterns.insert(0, path("oidc/", include("mozilla_django_oidc.urls")))

handler400 = "services.api.not_found.bad_request"  # JSON under /api/, the styled page elsewhere
handler404 = "services.api.not_found.not_found"
handler500 = "services.api.errors.server_error"  # JSON under /api/ with the request id, the page elsewhere
