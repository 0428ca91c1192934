"""Each person's current decision on anonymous statistics, kept on her row by the database itself.

``cases_person.statistics_consent`` is the ``given`` of her latest ``cases_consent`` row for the scope
``statistics`` without a partner (latest by ``recorded_at``, then ``id``), or NULL when there is none: the rule of
``cases.selectors.consenting``. Triggers keep it, so that every writer keeps it right (the services, the generator's
bulk inserts, a restore, raw SQL, the coming sync and import), not only code that remembers to:

- after an INSERT, UPDATE or DELETE of a consent, its person's value (both persons', when an UPDATE moves it) is
  computed again;
- whenever a person row is inserted or its ``statistics_consent`` is written (an ORM ``save`` of a person loaded
  before a consent was recorded writes back the old value), the database puts the computed value back: the column
  cannot be set to anything else.

The migration fills the column for the rows already there, before the figures' index that holds it is made.

SQLite caution: a later migration that alters ``cases_consent`` or ``cases_person`` so that Django rebuilds the table
drops that table's triggers; such a migration must create them again (``install`` below).
tests/cases/test_statistics_consent.py fails when they are gone.
"""

from django.db import migrations, models

# The latest decision of the person whose id is {person}, as an SQL expression (the same text on both databases).
LATEST = """(SELECT c.given FROM cases_consent c
    WHERE c.person_id = {person} AND c.scope = 'statistics' AND c.partner_id IS NULL
    ORDER BY c.recorded_at DESC, c.id DESC LIMIT 1)"""


def _recompute(person: str) -> str:
    """Set the person's value again, only when it differs (no needless row writes)."""
    latest = LATEST.format(person=person)
    return (  # constant SQL: ``person`` is NEW.person_id and the like, written in this file
        f"UPDATE cases_person SET statistics_consent = {latest} "  # noqa: S608
        f"WHERE id = {person} AND statistics_consent IS NOT {latest}"
    )


SQLITE = [
    f"""CREATE TRIGGER cases_consent_statistics_insert AFTER INSERT ON cases_consent
        WHEN NEW.scope = 'statistics' AND NEW.partner_id IS NULL
        BEGIN {_recompute("NEW.person_id")}; END""",
    f"""CREATE TRIGGER cases_consent_statistics_update AFTER UPDATE ON cases_consent
        BEGIN {_recompute("OLD.person_id")}; {_recompute("NEW.person_id")}; END""",
    f"""CREATE TRIGGER cases_consent_statistics_delete AFTER DELETE ON cases_consent
        WHEN OLD.scope = 'statistics' AND OLD.partner_id IS NULL
        BEGIN {_recompute("OLD.person_id")}; END""",
    # SQLite cannot change NEW in a BEFORE trigger: the row is corrected right after it is written.
    f"""CREATE TRIGGER cases_person_statistics_insert AFTER INSERT ON cases_person
        BEGIN {_recompute("NEW.id")}; END""",
    f"""CREATE TRIGGER cases_person_statistics_update AFTER UPDATE OF statistics_consent ON cases_person
        BEGIN {_recompute("NEW.id")}; END""",
]
SQLITE_TRIGGERS = (
    "cases_consent_statistics_insert",
    "cases_consent_statistics_update",
    "cases_consent_statistics_delete",
    "cases_person_statistics_insert",
    "cases_person_statistics_update",
)

POSTGRESQL = [
    f"""CREATE OR REPLACE FUNCTION cases_statistics_consent_of(person uuid) RETURNS boolean
        LANGUAGE sql VOLATILE AS $$ SELECT {LATEST.format(person="person")} $$""",
    """CREATE OR REPLACE FUNCTION cases_consent_statistics() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP IN ('UPDATE', 'DELETE') THEN
                UPDATE cases_person SET statistics_consent = cases_statistics_consent_of(OLD.person_id)
                    WHERE id = OLD.person_id
                    AND statistics_consent IS DISTINCT FROM cases_statistics_consent_of(OLD.person_id);
            END IF;
            IF TG_OP IN ('INSERT', 'UPDATE') THEN
                UPDATE cases_person SET statistics_consent = cases_statistics_consent_of(NEW.person_id)
                    WHERE id = NEW.person_id
                    AND statistics_consent IS DISTINCT FROM cases_statistics_consent_of(NEW.person_id);
            END IF;
            RETURN NULL;
        END $$""",
    """CREATE OR REPLACE FUNCTION cases_person_statistics() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            NEW.statistics_consent := cases_statistics_consent_of(NEW.id);
            RETURN NEW;
        END $$""",
    """CREATE TRIGGER cases_consent_statistics AFTER INSERT OR UPDATE OR DELETE ON cases_consent
        FOR EACH ROW EXECUTE FUNCTION cases_consent_statistics()""",
    """CREATE TRIGGER cases_person_statistics BEFORE INSERT OR UPDATE OF statistics_consent ON cases_person
        FOR EACH ROW EXECUTE FUNCTION cases_person_statistics()""",
]


def install(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor not in ("sqlite", "postgresql"):
        raise NotImplementedError(f"no statistics-consent triggers for the {vendor} database")
    for sql in SQLITE if vendor == "sqlite" else POSTGRESQL:
        schema_editor.execute(sql)
    # The rows already there (the person trigger corrects whatever is written, so any write computes it).
    fill = f"UPDATE cases_person SET statistics_consent = {LATEST.format(person='cases_person.id')}"  # noqa: S608
    schema_editor.execute(fill)


def drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        for name in SQLITE_TRIGGERS:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")
    elif vendor == "postgresql":
        schema_editor.execute("DROP TRIGGER IF EXISTS cases_consent_statistics ON cases_consent")
        schema_editor.execute("DROP TRIGGER IF EXISTS cases_person_statistics ON cases_person")
        for function in (
            "cases_consent_statistics()",
            "cases_person_statistics()",
            "cases_statistics_consent_of(uuid)",
        ):
            schema_editor.execute(f"DROP FUNCTION IF EXISTS {function}")


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0005_figures_indexes"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="person",
            name="person_figures",
        ),
        migrations.AddField(
            model_name="person",
            name="statistics_consent",
            field=models.BooleanField(editable=False, null=True, verbose_name="consents to anonymous statistics"),
        ),
        migrations.RunPython(install, drop),
        migrations.AddIndex(
            model_name="person",
            index=models.Index(
                fields=[
                    "sex",
                    "statistics_consent",
                    "id",
                    "status",
                    "origin_province",
                    "first_contact_month",
                    "left_nk_month",
                ],
                name="person_figures",
            ),
        ),
    ]
