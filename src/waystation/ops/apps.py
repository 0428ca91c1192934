from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Operating a deployment: ``waystation doctor`` and the benchmark suite's runner."""

    name = "waystation.ops"
    label = "ops"
