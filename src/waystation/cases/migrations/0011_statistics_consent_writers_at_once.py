"""PostgreSQL: the consent trigger of 0006 writes the person's row whenever a statistics decision changes, instead of
skipping it when her stored decision "looks right".

The skip was decided on the writing transaction's snapshot: with two decisions recorded at once for one woman, the
later one (which cannot see the earlier, uncommitted) found its own value stored and skipped, and the earlier one's
value stayed once it committed, though the later decision is hers. Writing the row waits for the other writer's
lock, and the person's BEFORE trigger (0006's ``cases_person_statistics``) then computes her decision with a
snapshot taken after it (``cases_statistics_consent_of`` is VOLATILE: each of its queries takes a fresh one): the
NULL written here is never what stays. The same rule as migration 0010's place trigger. SQLite has one writer at a
time: its triggers stay as they are.
"""

from importlib import import_module

from django.db import migrations

ALWAYS_WRITE = """CREATE OR REPLACE FUNCTION cases_consent_statistics() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.scope = 'statistics' AND OLD.partner_id IS NULL THEN
            UPDATE cases_person SET statistics_consent = NULL WHERE id = OLD.person_id;
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.scope = 'statistics' AND NEW.partner_id IS NULL
                AND NOT (TG_OP = 'UPDATE' AND OLD.scope = 'statistics' AND OLD.partner_id IS NULL
                         AND OLD.person_id = NEW.person_id) THEN
            UPDATE cases_person SET statistics_consent = NULL WHERE id = NEW.person_id;
        END IF;
        RETURN NULL;
    END $$"""

# 0006's body, for undoing this migration: taken from 0006 itself.
statistics_triggers = import_module("waystation.cases.migrations.0006_person_statistics_consent")
SKIPPING = next(sql for sql in statistics_triggers.POSTGRESQL if "FUNCTION cases_consent_statistics()" in sql)


def always_write(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(ALWAYS_WRITE)


def skipping(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(SKIPPING)


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0010_person_place"),
    ]

    operations = [
        migrations.RunPython(always_write, skipping),
    ]
