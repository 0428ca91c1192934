from django.apps import AppConfig


class NetworkConfig(AppConfig):
    name = "waystation.network"
    label = "network"
