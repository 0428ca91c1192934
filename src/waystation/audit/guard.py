"""The database refuses UPDATE and DELETE on the audit table.

PostgreSQL: BEFORE UPDATE / BEFORE DELETE row triggers raise ``restrict_violation``. TRUNCATE does not fire row
triggers: Django's ``flush`` (and so the test suite's reset between transactional tests) empties the table that way.
TRUNCATE needs the table owner's rights; a deployment that wants to rule it out runs the app as a role that does not
own the tables (see docs/threat-model.md).

SQLite: the same two triggers. The DELETE trigger lets a row go only when the connection-level SQL function
``waystation_audit_flush_allowed()`` returns 1, and it does so only while Django's ``flush`` (the test suite's reset
between transactional tests, or an operator's ``waystation flush``) runs its statements on that connection: an ORM
delete, a raw ``DELETE``, or the ``sqlite3`` shell (where the function does not exist at all) are refused.

SQLite caution: a later migration that alters ``audit_auditevent`` makes Django rebuild the table, which drops its
triggers; such a migration must call ``install`` again. ``waystation audit verify`` fails when the triggers are gone.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

TABLE = "audit_auditevent"
TRIGGERS = ("audit_auditevent_no_update", "audit_auditevent_no_delete")
FLUSH_FUNCTION = "waystation_audit_flush_allowed"
MESSAGE = "audit events are append-only"

_SQLITE = [
    f"""CREATE TRIGGER IF NOT EXISTS audit_auditevent_no_update BEFORE UPDATE ON {TABLE}
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}: UPDATE refused'); END""",
    f"""CREATE TRIGGER IF NOT EXISTS audit_auditevent_no_delete BEFORE DELETE ON {TABLE}
        WHEN {FLUSH_FUNCTION}() IS NOT 1
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}: DELETE refused'); END""",
]
_POSTGRESQL = [
    f"""CREATE OR REPLACE FUNCTION audit_auditevent_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION USING MESSAGE = '{MESSAGE}: ' || TG_OP || ' refused', ERRCODE = 'restrict_violation';
        END $$""",
    f"DROP TRIGGER IF EXISTS audit_auditevent_no_update ON {TABLE}",
    f"""CREATE TRIGGER audit_auditevent_no_update BEFORE UPDATE ON {TABLE}
        FOR EACH ROW EXECUTE FUNCTION audit_auditevent_refuse()""",
    f"DROP TRIGGER IF EXISTS audit_auditevent_no_delete ON {TABLE}",
    f"""CREATE TRIGGER audit_auditevent_no_delete BEFORE DELETE ON {TABLE}
        FOR EACH ROW EXECUTE FUNCTION audit_auditevent_refuse()""",
]


def install_statements(vendor: str) -> list[str]:
    if vendor == "sqlite":
        return list(_SQLITE)
    if vendor == "postgresql":
        return list(_POSTGRESQL)
    raise NotImplementedError(f"no append-only guard for the {vendor} database")


def drop_statements(vendor: str) -> list[str]:
    if vendor == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {name}" for name in TRIGGERS]
    return [f"DROP TRIGGER IF EXISTS {name} ON {TABLE}" for name in TRIGGERS] + [
        "DROP FUNCTION IF EXISTS audit_auditevent_refuse()"
    ]


def install(connection: Any) -> None:
    with connection.cursor() as cursor:
        for sql in install_statements(connection.vendor):
            cursor.execute(sql)


def installed(connection: Any) -> bool:
    """Both triggers are in place on the audit table."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s", [TABLE])
        elif connection.vendor == "postgresql":
            cursor.execute("SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal", [TABLE])
        else:
            return False
        names = {row[0] for row in cursor.fetchall()}
    return set(TRIGGERS) <= names


# --- SQLite: the flush permit ----------------------------------------------------------------------------------------

_state = threading.local()


def _flush_allowed() -> int:
    return 1 if getattr(_state, "flushing", 0) else 0


@contextmanager
def flushing() -> Iterator[None]:
    _state.flushing = getattr(_state, "flushing", 0) + 1
    try:
        yield
    finally:
        _state.flushing -= 1


def register_function(sender: Any, connection: Any, **kwargs: Any) -> None:
    """``connection_created`` receiver: give every SQLite connection the flush-permit function."""
    if connection.vendor == "sqlite":
        connection.connection.create_function(FLUSH_FUNCTION, 0, _flush_allowed)


def patch_sqlite_flush() -> None:
    """Let Django's ``flush`` (and only it) empty the audit table on SQLite: its statements run under the permit."""
    from django.db.backends.sqlite3.base import DatabaseWrapper  # imports its operations module without a cycle

    DatabaseOperations = DatabaseWrapper.ops_class  # noqa: N806
    original = DatabaseOperations.execute_sql_flush
    if getattr(original, "_waystation_audit", False):
        return

    def execute_sql_flush(self: Any, sql_list: Iterable[str]) -> None:
        with flushing():
            original(self, sql_list)

    execute_sql_flush._waystation_audit = True  # type: ignore[attr-defined]
    DatabaseOperations.execute_sql_flush = execute_sql_flush  # type: ignore[method-assign]
