from django.apps import AppConfig
from django.db.models.signals import post_migrate


class FiguresConfig(AppConfig):
    name = "waystation.figures"
    label = "figures"

    def ready(self) -> None:
        from waystation.figures import per_person

        # After every migrate (and every flush of the tests): the triggers that keep ``PersonFigures``, made again
        # when their SQL changed or a rebuilt table lost them (``per_person.install``).
        post_migrate.connect(per_person.on_post_migrate, sender=self, dispatch_uid="figures.per_person")
