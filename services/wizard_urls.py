"""Web routes of the new-service wizard and the run pages."""

from django.urls import path

from services import wizard_views as views

app_name = "wizard"

urlpatterns = [
    path("create/", views.TemplateListView.as_view(), name="template_list"),
    path("create/<str:template>/", views.ServiceCreateView.as_view(), name="service_create"),
    path("create/<str:template>/switch/", views.TemplateSwitchView.as_view(), name="template_switch"),
    path("create/<str:template>/check-name/", views.ServiceNameCheckView.as_view(), name="service_name_check"),
    path("runs/", views.RunListView.as_view(), name="run_list"),
    path("runs/<uuid:pk>/", views.RunDetailView.as_view(), name="run_detail"),
    path("runs/<uuid:pk>/status/", views.RunStatusView.as_view(), name="run_status"),
    path("runs/<uuid:pk>/retry/", views.RunRetryView.as_view(), name="run_retry"),
    path("runs/<uuid:pk>/cancel/", views.RunCancelView.as_view(), name="run_cancel"),
]
