from django.apps import AppConfig


class IntakeConfig(AppConfig):
    """Bringing existing records in: spreadsheet imports (parsing and validation live in ``interop``)."""

    name = "waystation.intake"
    label = "intake"

    def ready(self) -> None:
        from waystation.intake import signals  # noqa: F401 - connects the receivers
