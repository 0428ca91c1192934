from django.apps import AppConfig


class FiguresConfig(AppConfig):
    name = "waystation.figures"
    label = "figures"
