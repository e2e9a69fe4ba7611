"""Web routes of the new-service wizard and the run pages."""

from django.urls import path  # noqa: F401

app_name = "wizard"

urlpatterns: list = []
