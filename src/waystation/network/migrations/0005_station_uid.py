import uuid

from django.db import migrations, models


def give_each_station_its_own(apps, schema_editor):
    Station = apps.get_model("network", "Station")
    for station in Station.objects.all():
        station.uid = uuid.uuid4()
        station.save(update_fields=["uid"])


class Migration(migrations.Migration):
    dependencies = [
        ("network", "0004_movement_person_arrivals"),
    ]

    # Added empty first, then one distinct value per existing station (a callable default would give every existing
    # row the same one), then made unique.
    operations = [
        migrations.AddField(model_name="station", name="uid", field=models.UUIDField(null=True, editable=False)),
        migrations.RunPython(give_each_station_its_own, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="station",
            name="uid",
            field=models.UUIDField(default=uuid.uuid4, unique=True, editable=False),
        ),
    ]
