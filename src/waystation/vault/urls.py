from django.urls import path

from waystation.vault import views

app_name = "vault"
urlpatterns = [
    path("kill/", views.kill_switch, name="kill_switch"),
]
