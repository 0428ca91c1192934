from django.urls import path

from waystation.sync import views

app_name = "sync"
urlpatterns = [
    path("", views.home, name="home"),
    path("enrol/", views.enrol, name="enrol"),
    path("revoke/", views.revoke, name="revoke"),
    path("process/", views.process, name="process"),
    path("push/", views.push, name="push"),
    path("pull/", views.pull, name="pull"),
]
