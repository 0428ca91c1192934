"""The database refuses UPDATE and DELETE on the privacy budget ledger (``figures_privacyspend``).

A ledger that could lose a row would hand out budget again, so unlike releases (0002, UPDATE only) DELETE is refused
too. Django's ``flush`` (the test suite's reset between transactional tests) must still empty the table:

- PostgreSQL: ``flush`` uses TRUNCATE, which does not fire row triggers.
- SQLite: the DELETE trigger lets a row go only while the audit app's flush permit is up: the connection-level
  function ``waystation_audit_flush_allowed()`` (registered on every connection by ``waystation.audit``, see
  ``audit/guard.py``) returns 1 only while ``flush`` runs. An ORM delete, a raw DELETE, or the ``sqlite3`` shell (where
  the function does not exist) are refused.

SQLite caution: a later migration that alters this table makes Django rebuild it, which drops its triggers; such a
migration must create them again.
"""

from django.db import migrations

TABLE = "figures_privacyspend"
MESSAGE = "privacy budget spends are immutable"
FLUSH_FUNCTION = "waystation_audit_flush_allowed"  # audit.guard.FLUSH_FUNCTION, frozen here as migrations are
SQLITE = [
    f"""CREATE TRIGGER IF NOT EXISTS figures_privacyspend_no_update BEFORE UPDATE ON {TABLE}
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}: UPDATE refused'); END""",
    f"""CREATE TRIGGER IF NOT EXISTS figures_privacyspend_no_delete BEFORE DELETE ON {TABLE}
        WHEN {FLUSH_FUNCTION}() IS NOT 1
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}: DELETE refused'); END""",
]
POSTGRESQL = [
    f"""CREATE OR REPLACE FUNCTION figures_privacyspend_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION USING MESSAGE = '{MESSAGE}: ' || TG_OP || ' refused', ERRCODE = 'restrict_violation';
        END $$""",
    f"""CREATE TRIGGER figures_privacyspend_no_update BEFORE UPDATE ON {TABLE}
        FOR EACH ROW EXECUTE FUNCTION figures_privacyspend_refuse()""",
    f"""CREATE TRIGGER figures_privacyspend_no_delete BEFORE DELETE ON {TABLE}
        FOR EACH ROW EXECUTE FUNCTION figures_privacyspend_refuse()""",
]
TRIGGERS = ("figures_privacyspend_no_update", "figures_privacyspend_no_delete")


def install(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for sql in SQLITE if vendor == "sqlite" else POSTGRESQL if vendor == "postgresql" else []:
        schema_editor.execute(sql)


def drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        for name in TRIGGERS:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")
    elif vendor == "postgresql":
        for name in TRIGGERS:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name} ON {TABLE}")
        schema_editor.execute("DROP FUNCTION IF EXISTS figures_privacyspend_refuse()")


class Migration(migrations.Migration):
    dependencies = [("figures", "0003_privacyspend")]

    operations = [migrations.RunPython(install, drop)]
