from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The JSON API at /api/v1/: tokens with scopes tied to roles, over the same access functions and audit."""

    name = "waystation.api"
    label = "api"
