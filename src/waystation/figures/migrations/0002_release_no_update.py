"""The database refuses UPDATE on stored releases (DELETE is refused by the ORM; a DELETE trigger would also stop
Django's ``flush``, which the test suite uses between transactional tests)."""

from django.db import migrations

MESSAGE = "figures releases are immutable: UPDATE refused"
SQLITE = f"""CREATE TRIGGER IF NOT EXISTS figures_release_no_update BEFORE UPDATE ON figures_release
    BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"""
POSTGRESQL = [
    f"""CREATE OR REPLACE FUNCTION figures_release_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION USING MESSAGE = '{MESSAGE}', ERRCODE = 'restrict_violation'; END $$""",
    """CREATE TRIGGER figures_release_no_update BEFORE UPDATE ON figures_release
        FOR EACH ROW EXECUTE FUNCTION figures_release_refuse()""",
]


def install(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for sql in [SQLITE] if vendor == "sqlite" else POSTGRESQL if vendor == "postgresql" else []:
        schema_editor.execute(sql)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute("DROP TRIGGER IF EXISTS figures_release_no_update")
    elif schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP TRIGGER IF EXISTS figures_release_no_update ON figures_release")


class Migration(migrations.Migration):
    dependencies = [("figures", "0001_initial")]

    operations = [migrations.RunPython(install, drop)]
