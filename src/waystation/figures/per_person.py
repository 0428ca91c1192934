"""What the figures need of each person's records, kept beside her by the database (``PersonFigures``).

A release counts every person by what her records say: her episodes of exploitation (how many began with a sale,
which groups of types), her services (which kinds, how many) and her first arrival in South Korea. Asked of the
records at release time, that is three correlated lookups a person, most of a release's time at 100,000 persons
(bench/figures.py). Instead, triggers keep those three values in ``figures_personfigures``, one narrow row a person,
so that a release reads them with one join. The values are the person's and her merged records' (a record merged
into hers: ``Person.merged_into``, one step, as ``indicators._hers``), packed as the indicators read them:

- ``episodes``: 0 without an episode; else ``sold * 32 + kinds * 2 + 1``, ``kinds`` bit ``i`` set when she has an
  episode of the ``i``-th group of ``indicators.EXPLOITATION_GROUPS``;
- ``services``: ``count * 64 + kinds``, ``kinds`` bit ``i`` set when she received the ``i``-th ``ServiceKind``;
- ``first_arrival_kr``: the earliest ``arrived_at`` of her arrived movements to a station in South Korea, or NULL.

The definition is the ORM's (``indicators.expected_per_person``: the indicators' own expressions over the
records); the triggers are the fast keeper of it, and ``out_of_step`` compares the two (tests/conftest.py runs it
after every test that used the database, as it does for the person's place). The SQL is made here from the same
constants the indicators use, and installed after every ``migrate`` (``install``, on ``post_migrate``): whenever
the groups or kinds change, the triggers and every row are made again.

SQLite caution: these triggers name ``cases_person``, ``network_movement``, ``network_station`` and the records'
tables in their bodies, so a later migration that makes Django rebuild one of those tables (drop, then rename the
copy) fails while they exist: such a migration must call ``drop`` first (``post_migrate`` makes them again after).

Every writer keeps it (services, sync, import, restore, the generator's bulk inserts, raw SQL):

- a person inserted gets her row, computed from whatever records are already there (an import writes movements
  before their persons); a person deleted loses it;
- an episode, a service or a movement inserted, changed or deleted recomputes the row of its person and of the
  record she is merged into; a merge or its undoing recomputes the rows of both records it joins or parts; a
  station whose country changes recomputes the rows of everyone who moved to it.

On PostgreSQL the writers only touch the row; a BEFORE trigger on it computes the values in a plpgsql function:
her id and those of the records merged into hers first, then each value by one lookup on the records' person
index. Its queries are planned at every call (``CUSTOM_PLAN``): a plan kept from a session's first calls, made
while the tables were small or never analysed (a new installation, the test database), read every record at each
write once they were not, and the PostgreSQL test pass took four times as long. Each query takes a fresh snapshot
once the row is locked, so that two writers at once cannot leave the earlier one's view (as ``cases`` migration
0010 does for the place). Two races are left, each until her next write (``out_of_step`` names her): a record
written for a person while, in another transaction, she is merged into another can miss the other's row; an
arrival recorded while, in another transaction, its station's country changes can keep the old country's answer.
"""

# Every SQL text here is made from this module's constants and the codes of choices (``_quote`` refuses anything
# else); nothing from a request, a record or a file reaches it.
# ruff: noqa: S608

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from django.db import connection as default_connection
from django.db.backends.base.base import BaseDatabaseWrapper

from waystation.cases.choices import ServiceKind
from waystation.network.models import Country, MovementStatus

TABLE = "figures_personfigures"
KINDS_UNIT = 64  # services: the count sits above the kinds' bits (six kinds)
SOLD_UNIT = 32  # episodes: sold sits above the groups' bits (four groups) and "any"


def _quote(value: str) -> str:
    if not value.replace("_", "").isalnum():  # codes of choices only: letters, digits, underscores
        raise ValueError(f"not a code: {value!r}")
    return f"'{value}'"


HERS_AND_MERGED = "ANY(ids)"  # ``ids`` of the PostgreSQL compute function: hers, then the records merged into hers


def _hers(table: str, columns: str, person: str, where: str = "TRUE") -> str:
    """``columns`` of the rows ``x`` of ``table`` (that ``where`` keeps) of the person ``person`` and of the records
    merged into hers, as a FROM source ``x``. ``person`` is an SQL expression of her id, or ``HERS_AND_MERGED`` (the
    PostgreSQL trigger's array of both: one lookup on the records' person index, whatever the planner knows). Else
    two lookups on that index, one a branch: an OR of the two makes SQLite look through every record."""
    if person == HERS_AND_MERGED:
        return f"(SELECT {columns} FROM {table} x WHERE x.person_id = {person} AND {where}) x"
    return (
        f"(SELECT {columns} FROM {table} x WHERE x.person_id = {person} AND {where} UNION ALL "
        f"SELECT {columns} FROM {table} x JOIN cases_person m ON x.person_id = m.id "
        f"WHERE m.merged_into_id = {person} AND {where}) x"
    )


def _episodes(person: str, groups: Sequence[Sequence[str]]) -> str:
    if 2 << len(groups) != SOLD_UNIT:
        raise ValueError("the episodes' packing has room for four groups")
    bits = " + ".join(
        f"MAX(CASE WHEN x.exploitation_type IN ({', '.join(_quote(c) for c in codes)}) THEN {1 << i} ELSE 0 END)"
        for i, codes in enumerate(groups)
    )
    records = _hers("cases_exploitationepisode", "x.exploitation_type, x.was_sold", person)
    sold = "SUM(CASE WHEN x.was_sold THEN 1 ELSE 0 END)"
    return f"(SELECT COALESCE({sold} * {SOLD_UNIT} + ({bits}) * 2 + 1, 0) FROM {records})"


def _services(person: str, kinds: Sequence[str]) -> str:
    if 1 << len(kinds) != KINDS_UNIT:
        raise ValueError("the services' packing has room for six kinds")
    power = " ".join(f"WHEN x.kind = {_quote(kind)} THEN {1 << i}" for i, kind in enumerate(kinds))
    records = _hers("cases_servicerecord", "x.kind", person)
    return f"(SELECT COALESCE(SUM(DISTINCT CASE {power} ELSE 0 END), 0) + COUNT(*) * {KINDS_UNIT} FROM {records})"


def _first_arrival(person: str) -> str:
    arrived = (
        f"x.status = {_quote(MovementStatus.ARRIVED)} AND x.to_station_id IN "
        f"(SELECT st.id FROM network_station st WHERE st.country = {_quote(Country.SOUTH_KOREA)})"
    )
    return f"(SELECT MIN(x.arrived_at) FROM {_hers('network_movement', 'x.arrived_at', person, arrived)})"


def _groups() -> list[tuple[str, ...]]:
    from waystation.figures.indicators import EXPLOITATION_GROUPS

    return [tuple(str(code) for code in codes) for codes in EXPLOITATION_GROUPS.values()]


def _values(person: str) -> tuple[str, str, str]:
    return _episodes(person, _groups()), _services(person, list(ServiceKind.values)), _first_arrival(person)


def _targets(person: str) -> str:
    """The rows a record of ``person`` counts in: hers, and the one of the record she is merged into."""
    return f"person_id IN ({person}, (SELECT p.merged_into_id FROM cases_person p WHERE p.id = {person}))"


# Everyone who moved to the station NEW (whose country changed), and the records they are merged into.
_MOVED_TO_STATION = (
    "person_id IN (SELECT mv.person_id FROM network_movement mv WHERE mv.to_station_id = NEW.id "
    "UNION SELECT p.merged_into_id FROM cases_person p JOIN network_movement mv ON mv.person_id = p.id "
    "WHERE mv.to_station_id = NEW.id)"
)
_RECORDS = ("cases_exploitationepisode", "cases_servicerecord", "network_movement")


def _sqlite() -> list[str]:
    episodes, services, arrival = _values(f"{TABLE}.person_id")

    def recompute(where: str) -> str:
        return (
            f"UPDATE {TABLE} SET episodes = {episodes}, services = {services}, "
            f"first_arrival_kr = {arrival} WHERE {where}"
        )

    new_e, new_s, new_a = _values("NEW.id")
    statements = []
    arrived = _quote(MovementStatus.ARRIVED)
    for table in _RECORDS:
        # A movement counts only as an arrival (before or after the write): the others are skipped.
        when = {"insert": "", "update": "", "delete": ""}
        if table == "network_movement":
            when = {
                "insert": f"WHEN NEW.status = {arrived} ",
                "update": f"WHEN OLD.status = {arrived} OR NEW.status = {arrived} ",
                "delete": f"WHEN OLD.status = {arrived} ",
            }
        statements += [
            f"CREATE TRIGGER figures_kept_{table}_insert AFTER INSERT ON {table} {when['insert']}"
            f"BEGIN {recompute(_targets('NEW.person_id'))}; END",
            f"CREATE TRIGGER figures_kept_{table}_update AFTER UPDATE ON {table} {when['update']}"
            f"BEGIN {recompute(_targets('OLD.person_id'))}; {recompute(_targets('NEW.person_id'))}; END",
            f"CREATE TRIGGER figures_kept_{table}_delete AFTER DELETE ON {table} {when['delete']}"
            f"BEGIN {recompute(_targets('OLD.person_id'))}; END",
        ]
    return [
        *statements,
        f"CREATE TRIGGER figures_kept_network_station AFTER UPDATE OF country ON network_station "
        f"WHEN OLD.country IS NOT NEW.country BEGIN {recompute(_MOVED_TO_STATION)}; END",
        f"CREATE TRIGGER figures_kept_cases_person_insert AFTER INSERT ON cases_person BEGIN "
        f"INSERT OR REPLACE INTO {TABLE} (person_id, episodes, services, first_arrival_kr) "
        f"VALUES (NEW.id, {new_e}, {new_s}, {new_a}); "
        f"{recompute('person_id = NEW.merged_into_id')}; END",
        f"CREATE TRIGGER figures_kept_cases_person_merge AFTER UPDATE OF merged_into_id ON cases_person "
        f"WHEN OLD.merged_into_id IS NOT NEW.merged_into_id BEGIN "
        f"{recompute('person_id IN (OLD.merged_into_id, NEW.merged_into_id)')}; END",
        f"CREATE TRIGGER figures_kept_cases_person_delete AFTER DELETE ON cases_person BEGIN "
        f"DELETE FROM {TABLE} WHERE person_id = OLD.id; {recompute('person_id = OLD.merged_into_id')}; END",
    ]


CUSTOM_PLAN = "SET plan_cache_mode = force_custom_plan"


def _postgresql() -> list[str]:
    episodes, services, arrival = _values(HERS_AND_MERGED)
    touch = f"UPDATE {TABLE} SET episodes = 0 WHERE"  # the BEFORE trigger computes every value
    statements = [
        # ``ids`` first, then each value by one index lookup, each query planned at every call: the module's
        # docstring says why.
        f"""CREATE FUNCTION figures_personfigures_compute() RETURNS trigger LANGUAGE plpgsql {CUSTOM_PLAN} AS $$
            DECLARE
                ids uuid[];
            BEGIN
                ids := NEW.person_id || ARRAY(SELECT m.id FROM cases_person m WHERE m.merged_into_id = NEW.person_id);
                NEW.episodes := {episodes};
                NEW.services := {services};
                NEW.first_arrival_kr := {arrival};
                RETURN NEW;
            END $$""",
        f"""CREATE FUNCTION figures_records_changed() RETURNS trigger LANGUAGE plpgsql {CUSTOM_PLAN} AS $$
            DECLARE
                arrival boolean := FALSE;
            BEGIN
                IF TG_TABLE_NAME = 'network_movement' THEN  -- a movement counts only as an arrival
                    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status = {_quote(MovementStatus.ARRIVED)} THEN
                        arrival := TRUE;
                    END IF;
                    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status = {_quote(MovementStatus.ARRIVED)} THEN
                        arrival := TRUE;
                    END IF;
                    IF NOT arrival THEN RETURN NULL; END IF;
                END IF;
                IF TG_OP IN ('UPDATE', 'DELETE') THEN {touch} {_targets("OLD.person_id")}; END IF;
                IF TG_OP IN ('INSERT', 'UPDATE') THEN {touch} {_targets("NEW.person_id")}; END IF;
                RETURN NULL;
            END $$""",
        f"""CREATE FUNCTION figures_station_changed() RETURNS trigger LANGUAGE plpgsql {CUSTOM_PLAN} AS $$
            BEGIN
                IF OLD.country IS DISTINCT FROM NEW.country THEN {touch} {_MOVED_TO_STATION}; END IF;
                RETURN NULL;
            END $$""",
        f"""CREATE FUNCTION figures_person_changed() RETURNS trigger LANGUAGE plpgsql {CUSTOM_PLAN} AS $$
            BEGIN
                IF TG_OP = 'INSERT' THEN
                    INSERT INTO {TABLE} (person_id, episodes, services) VALUES (NEW.id, 0, 0)
                        ON CONFLICT (person_id) DO UPDATE SET episodes = 0;
                    {touch} person_id = NEW.merged_into_id;
                ELSIF TG_OP = 'UPDATE' THEN
                    IF OLD.merged_into_id IS DISTINCT FROM NEW.merged_into_id THEN
                        {touch} person_id IN (OLD.merged_into_id, NEW.merged_into_id);
                    END IF;
                ELSE
                    DELETE FROM {TABLE} WHERE person_id = OLD.id;
                    {touch} person_id = OLD.merged_into_id;
                END IF;
                RETURN NULL;
            END $$""",
        f"""CREATE TRIGGER figures_kept_compute BEFORE INSERT OR UPDATE ON {TABLE}
            FOR EACH ROW EXECUTE FUNCTION figures_personfigures_compute()""",
        """CREATE TRIGGER figures_kept_network_station AFTER UPDATE OF country ON network_station
            FOR EACH ROW EXECUTE FUNCTION figures_station_changed()""",
        """CREATE TRIGGER figures_kept_cases_person AFTER INSERT OR UPDATE OF merged_into_id OR DELETE ON cases_person
            FOR EACH ROW EXECUTE FUNCTION figures_person_changed()""",
    ]
    statements += [
        f"""CREATE TRIGGER figures_kept_{table} AFTER INSERT OR UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION figures_records_changed()"""
        for table in _RECORDS
    ]
    return statements


_PG_FUNCTIONS = (
    "figures_personfigures_compute()",
    "figures_records_changed()",
    "figures_station_changed()",
    "figures_person_changed()",
)


def _statements(vendor: str) -> list[str]:
    if vendor == "sqlite":
        return _sqlite()
    if vendor == "postgresql":
        return _postgresql()
    raise NotImplementedError(f"no figures triggers for the {vendor} database")


def _digest(statements: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(statements).encode()).hexdigest()[:32]


def _installed(connection: BaseDatabaseWrapper) -> str | None:
    """The digest of the triggers installed now (None if none)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":  # the digest of what was made, while every trigger made is there
            cursor.execute(
                "SELECT obj_description(%s::regclass, 'pg_class'), "
                "(SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'figures_kept_%%' AND NOT tgisinternal)",
                [TABLE],
            )
            digest, triggers = cursor.fetchone()
            return digest if triggers == sum(s.startswith("CREATE TRIGGER") for s in _postgresql()) else None
        cursor.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE %s ORDER BY name", ["figures_kept_%"]
        )
        found = [row[0] for row in cursor.fetchall()]
    return _digest(sorted(_sqlite())) if sorted(found) == sorted(_sqlite()) else None


def drop(connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"DROP TRIGGER IF EXISTS figures_kept_compute ON {TABLE}")
            cursor.execute("DROP TRIGGER IF EXISTS figures_kept_network_station ON network_station")
            cursor.execute("DROP TRIGGER IF EXISTS figures_kept_cases_person ON cases_person")
            for table in _RECORDS:
                cursor.execute(f"DROP TRIGGER IF EXISTS figures_kept_{table} ON {table}")
            for function in _PG_FUNCTIONS:
                cursor.execute(f"DROP FUNCTION IF EXISTS {function}")
            cursor.execute(f"COMMENT ON TABLE {TABLE} IS NULL")
            return
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE %s", ["figures_kept_%"])
        for (name,) in cursor.fetchall():
            cursor.execute(f'DROP TRIGGER IF EXISTS "{name}"')


def install(connection: BaseDatabaseWrapper = default_connection, *, force: bool = False) -> bool:
    """Make the triggers and every person's row again, unless the triggers installed are these already. True when
    it did."""
    statements = _statements(connection.vendor)
    digest = _digest(sorted(statements)) if connection.vendor == "sqlite" else _digest(statements)
    if not force and _installed(connection) == digest:
        return False
    with connection.cursor() as cursor:
        drop(connection)
        for sql in statements:
            cursor.execute(sql)
        cursor.execute(f"DELETE FROM {TABLE}")
        episodes, services, arrival = _values("cases_person.id")
        if connection.vendor == "postgresql":  # the BEFORE trigger computes each row
            episodes, services, arrival = "0", "0", "NULL"
        cursor.execute(
            f"INSERT INTO {TABLE} (person_id, episodes, services, first_arrival_kr) "
            f"SELECT id, {episodes}, {services}, {arrival} FROM cases_person"
        )
        if connection.vendor == "postgresql":
            cursor.execute(f"COMMENT ON TABLE {TABLE} IS '{digest}'")
    return True


def on_post_migrate(sender: Any, using: str = "default", **kwargs: Any) -> None:
    from django.db import connections, transaction

    connection = connections[using]
    if TABLE not in connection.introspection.table_names():
        return  # migrated back below the table
    with transaction.atomic(using=using):
        install(connection)


def out_of_step() -> list[str]:
    """The persons whose stored row differs from ``expected`` (or is missing, or stands for no person), by case
    code or id: empty when the triggers kept up with every writer."""
    from waystation.cases.models import Person
    from waystation.figures.indicators import expected_per_person
    from waystation.figures.models import PersonFigures

    stored = {row.pk: (row.episodes, row.services, row.first_arrival_kr) for row in PersonFigures.objects.all()}
    wanted = expected_per_person()
    codes = dict(Person.objects.values_list("id", "case_code"))
    return sorted(
        codes.get(person, str(person))
        for person in stored.keys() | wanted.keys()
        if stored.get(person) != wanted.get(person)
    )
