"""Imports keep no file, sheet or register name (a file named after a person names her): keyed digests instead.

The digests need the organisation's index key, which a migration never has (a cold server holds no key). So the
names and the plain SHA-256 digests of imports made before are erased, not converted: those runs keep their
counts, and their rows are no longer recognised as "already imported" (their old keys were made from the
register's name, which is gone). The external keys of their records stay, as unmatched keyed digests.
"""

from django.db import migrations, models


def erase_old_digests(apps, schema_editor):  # type: ignore[no-untyped-def]
    apps.get_model("intake", "ImportRun").objects.update(digest="")


class Migration(migrations.Migration):
    dependencies = [("intake", "0001_initial")]

    operations = [
        migrations.RemoveField(model_name="importrun", name="source_name"),
        migrations.RemoveField(model_name="importrun", name="source_key"),
        migrations.RemoveField(model_name="importrun", name="sheet"),
        migrations.AddField(
            model_name="importrun",
            name="register",
            field=models.CharField(blank=True, max_length=32, verbose_name="register"),
        ),
        migrations.RunPython(erase_old_digests, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="importrun",
            name="digest",
            field=models.CharField(blank=True, db_index=True, max_length=32, verbose_name="keyed digest of the file"),
        ),
        migrations.RemoveConstraint(model_name="importedrecord", name="imported_record_once"),
        migrations.RemoveField(model_name="importedrecord", name="source_key"),
        migrations.AddConstraint(
            model_name="importedrecord",
            constraint=models.UniqueConstraint(fields=("external_key",), name="imported_record_once_per_register"),
        ),
    ]
