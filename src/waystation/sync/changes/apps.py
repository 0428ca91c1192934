from django.apps import AppConfig


class ChangesConfig(AppConfig):
    """The change log that bundles carry: every change to replicated data, with its origin and a hybrid logical
    clock; applying changes from peers, and the conflicts a coordinator resolves."""

    name = "waystation.sync.changes"
    label = "sync_changes"

    def ready(self) -> None:
        from waystation.sync.changes import capture

        capture.connect()
