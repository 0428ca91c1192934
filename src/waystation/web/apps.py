from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "waystation.web"
    label = "web"
