"""Each person's place on the route, kept on her row by the database itself.

``cases_person.place_id`` is the ``to_station_id`` of her latest ``network_movement`` with the status ``arrived``
(latest by ``arrived_at``, then ``id``), or NULL when there is none: the rule of
``network.selectors.current_station_id``. Triggers keep it, as migration 0006 keeps ``statistics_consent``, so that
every writer keeps it right (the movement services, sync, import, the generator's bulk inserts, a restore, raw SQL):

- after an INSERT, UPDATE or DELETE of a movement, its person's place (both persons', when an UPDATE moves it) is
  computed again;
- whenever a person row is inserted or its ``place_id`` is written (an ORM ``save`` of a person loaded before her
  arrival writes back the old value), the database puts the computed value back: the column cannot be set to
  anything else.

The migration fills the column for the rows already there.

SQLite caution: a later migration that alters ``network_movement`` or ``cases_person`` so that Django rebuilds the
table drops that table's triggers; such a migration must create them again (``install`` below, and 0006's).
tests/network/test_place.py fails when they are gone.

``install`` and ``drop`` have the shape of 0006's on purpose rather than sharing code with it: a migration is a
snapshot, and neither may change when the other, or a helper they shared, is edited later.
"""

from importlib import import_module

import django.db.models.deletion
from django.db import migrations, models

# SQLite rebuilds ``cases_person`` to remove the column when this migration is undone, which drops 0006's
# statistics-consent triggers on it: they are dropped before and made again after (as 0006 and 0009 do).
statistics_triggers = import_module("waystation.cases.migrations.0006_person_statistics_consent")

# The place of the person whose id is {person}, as an SQL expression (the same text on both databases; each orders
# a missing arrival time as its own ``ORDER BY arrived_at DESC`` does, which is what the selectors ask too).
LATEST = """(SELECT m.to_station_id FROM network_movement m
    WHERE m.person_id = {person} AND m.status = 'arrived'
    ORDER BY m.arrived_at DESC, m.id DESC LIMIT 1)"""


def _recompute(person: str) -> str:
    """Set the person's place again, only when it differs (no needless row writes)."""
    latest = LATEST.format(person=person)
    return (  # constant SQL: ``person`` is NEW.person_id and the like, written in this file
        f"UPDATE cases_person SET place_id = {latest} "  # noqa: S608
        f"WHERE id = {person} AND place_id IS NOT {latest}"
    )


SQLITE = [
    f"""CREATE TRIGGER network_movement_place_insert AFTER INSERT ON network_movement
        WHEN NEW.status = 'arrived'
        BEGIN {_recompute("NEW.person_id")}; END""",
    f"""CREATE TRIGGER network_movement_place_update AFTER UPDATE ON network_movement
        BEGIN {_recompute("OLD.person_id")}; {_recompute("NEW.person_id")}; END""",
    f"""CREATE TRIGGER network_movement_place_delete AFTER DELETE ON network_movement
        WHEN OLD.status = 'arrived'
        BEGIN {_recompute("OLD.person_id")}; END""",
    # SQLite cannot change NEW in a BEFORE trigger: the row is corrected right after it is written, when it is not
    # already right (the usual case: a new person has no movement yet, and the movement triggers write the right
    # value), which the WHEN asks with one lookup instead of the body's two.
    f"""CREATE TRIGGER cases_person_place_insert AFTER INSERT ON cases_person
        WHEN NEW.place_id IS NOT {LATEST.format(person="NEW.id")}
        BEGIN {_recompute("NEW.id")}; END""",
    f"""CREATE TRIGGER cases_person_place_update AFTER UPDATE OF place_id ON cases_person
        WHEN NEW.place_id IS NOT {LATEST.format(person="NEW.id")}
        BEGIN {_recompute("NEW.id")}; END""",
]
SQLITE_TRIGGERS = (
    "network_movement_place_insert",
    "network_movement_place_update",
    "network_movement_place_delete",
    "cases_person_place_insert",
    "cases_person_place_update",
)

POSTGRESQL = [
    f"""CREATE OR REPLACE FUNCTION network_place_of(person uuid) RETURNS bigint
        LANGUAGE sql VOLATILE AS $$ SELECT {LATEST.format(person="person")} $$""",
    # The person's row is written whenever an arrival changes, never skipped because it "looks right": with
    # writers at once, a skip decided on this transaction's snapshot could keep another's uncommitted value (she
    # arrives at S2 in one transaction, at S later in another that cannot see the first: the second sees S
    # stored, skips, and S2 stays once the first commits). The write waits for the other's row lock, and the
    # person's BEFORE trigger then computes her place with a snapshot taken after it (a VOLATILE function's
    # queries each take a fresh one): the NULL written here is never what stays.
    """CREATE OR REPLACE FUNCTION network_movement_place() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status = 'arrived' THEN
                UPDATE cases_person SET place_id = NULL WHERE id = OLD.person_id;
            END IF;
            IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status = 'arrived'
                    AND NOT (TG_OP = 'UPDATE' AND OLD.status = 'arrived' AND OLD.person_id = NEW.person_id) THEN
                UPDATE cases_person SET place_id = NULL WHERE id = NEW.person_id;
            END IF;
            RETURN NULL;
        END $$""",
    """CREATE OR REPLACE FUNCTION cases_person_place() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            NEW.place_id := network_place_of(NEW.id);
            RETURN NEW;
        END $$""",
    """CREATE TRIGGER network_movement_place AFTER INSERT OR UPDATE OR DELETE ON network_movement
        FOR EACH ROW EXECUTE FUNCTION network_movement_place()""",
    """CREATE TRIGGER cases_person_place BEFORE INSERT OR UPDATE OF place_id ON cases_person
        FOR EACH ROW EXECUTE FUNCTION cases_person_place()""",
]


def install(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor not in ("sqlite", "postgresql"):
        raise NotImplementedError(f"no place triggers for the {vendor} database")
    for sql in SQLITE if vendor == "sqlite" else POSTGRESQL:
        schema_editor.execute(sql)
    # The rows already there (the person trigger corrects whatever is written, so any write computes it).
    fill = f"UPDATE cases_person SET place_id = {LATEST.format(person='cases_person.id')}"  # noqa: S608
    schema_editor.execute(fill)


def drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        for name in SQLITE_TRIGGERS:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")
    elif vendor == "postgresql":
        schema_editor.execute("DROP TRIGGER IF EXISTS network_movement_place ON network_movement")
        schema_editor.execute("DROP TRIGGER IF EXISTS cases_person_place ON cases_person")
        for function in ("network_movement_place()", "cases_person_place()", "network_place_of(uuid)"):
            schema_editor.execute(f"DROP FUNCTION IF EXISTS {function}")


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0009_uids_for_sync"),
        ("network", "0006_movement_uid_unique"),
    ]

    operations = [
        migrations.RunPython(statistics_triggers.drop, statistics_triggers.install),
        migrations.AddField(
            model_name="person",
            name="place",
            field=models.ForeignKey(
                db_constraint=False,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="network.station",
                verbose_name="current station",
            ),
        ),
        migrations.RunPython(statistics_triggers.install, statistics_triggers.drop),
        migrations.RunPython(install, drop),
    ]
