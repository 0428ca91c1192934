from django.apps import AppConfig


class SyncConfig(AppConfig):
    """Offline stations: installation identity, enrolment of peers, signed and encrypted change bundles."""

    name = "waystation.sync"
    label = "sync"
