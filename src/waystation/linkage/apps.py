from django.apps import AppConfig


class LinkageConfig(AppConfig):
    """Finding one person recorded twice: name keys (pure, no Django), matching, and reviewed merges."""

    name = "waystation.linkage"
    label = "linkage"
