from django.urls import path

from waystation.linkage import views

app_name = "linkage"
urlpatterns = [
    path("", views.queue, name="queue"),
    path("refresh/", views.refresh, name="refresh"),
    path("<int:candidate_id>/", views.pair, name="pair"),
    path("<int:candidate_id>/merge/", views.merge, name="merge"),
    path("<int:candidate_id>/not-same/", views.not_same, name="not_same"),
    path("merges/", views.merges, name="merges"),
    path("merges/<int:merge_id>/undo/", views.undo, name="undo"),
]
