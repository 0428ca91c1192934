from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "waystation.audit"
    label = "audit"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from waystation.audit import guard

        connection_created.connect(guard.register_function, dispatch_uid="waystation.audit.guard")
        guard.patch_sqlite_flush()
