from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "waystation.accounts"
    label = "accounts"

    def ready(self) -> None:
        from waystation.accounts import signals  # noqa: F401 - connects the audit receivers
