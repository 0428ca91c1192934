from django.urls import path

from waystation.sync.changes import views

app_name = "sync_changes"
urlpatterns = [
    path("", views.conflict_list, name="list"),
    path("<int:conflict_id>/", views.conflict_detail, name="detail"),
    path("<int:conflict_id>/resolve/", views.conflict_resolve, name="resolve"),
]
