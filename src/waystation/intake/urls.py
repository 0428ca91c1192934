from django.urls import path

from waystation.intake import views

app_name = "intake"
urlpatterns = [
    path("", views.upload, name="upload"),
    path("mapping/", views.mapping, name="mapping"),
    path("preview/", views.preview, name="preview"),
    path("start/", views.start, name="start"),
    path("cancel/", views.cancel, name="cancel"),
    path("progress/", views.progress, name="progress"),
    path("status/", views.status, name="status"),
    path("result/", views.result, name="result"),
]
