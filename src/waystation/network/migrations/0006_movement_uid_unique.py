import uuid

from django.db import migrations, models


def refuse_shared_uids(apps, schema_editor):
    """A movement's uid is bound into its encrypted note: rows sharing one cannot be given new ones here."""
    Movement = apps.get_model("network", "Movement")
    if Movement.objects.values("uid").annotate(n=models.Count("id")).filter(n__gt=1).exists():
        raise RuntimeError(
            "network.movement: rows share one uid, which their encrypted notes are bound to; they cannot be given "
            "new ones. Restore them from a backup made by this version, or start from an empty data folder."
        )


class Migration(migrations.Migration):
    dependencies = [
        ("network", "0005_station_uid"),
    ]

    operations = [
        migrations.RunPython(refuse_shared_uids, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="movement", name="uid", field=models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
        ),
    ]
