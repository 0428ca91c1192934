from django.apps import AppConfig, apps


class WebConfig(AppConfig):
    name = "waystation.web"
    label = "web"

    def ready(self) -> None:
        from waystation.lib.choices import install_fast_displays

        install_fast_displays(m for m in apps.get_models() if m.__module__.startswith("waystation."))
