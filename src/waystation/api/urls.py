from django.urls import path

from waystation.api.main import api

urlpatterns = [path("", api.urls)]
