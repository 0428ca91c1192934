from django.urls import path  # noqa: F401

app_name = "sync_changes"
urlpatterns: list = []
