from django.urls import path

from waystation.network import views

app_name = "network"
urlpatterns = [
    path("", views.station_list, name="stations"),
    path("new/", views.station_create, name="station_create"),
    path("<str:code_name>/", views.station_detail, name="station"),
    path("<str:code_name>/edit/", views.station_edit, name="station_edit"),
    path("<str:code_name>/status/", views.station_status, name="station_status"),
    path("<str:code_name>/legs/", views.leg_set, name="leg_set"),
]
