"""Which of ``.ci/run``'s two passes a test belongs to, when it would run the same in both.

``.ci/run`` runs the suite twice: on SQLite (the README's ``make test``), then with ``DATABASE_URL`` naming a
PostgreSQL database. Tests that drive installations of their own in child processes (fault tests, the sync tests
over several installations) give those installations SQLite files whatever ``DATABASE_URL`` says: running them in
the PostgreSQL pass repeats the very same test. The PostgreSQL restart test starts a PostgreSQL cluster of its own
whatever the pass, and copies its schema from the PostgreSQL pass's test database in a second (it would migrate it
otherwise): it belongs to that pass.
"""

from __future__ import annotations

import os

import pytest

IN_POSTGRESQL_PASS = bool(os.environ.get("DATABASE_URL"))

own_sqlite_installations = pytest.mark.skipif(
    IN_POSTGRESQL_PASS,
    reason="its installations are SQLite files whatever DATABASE_URL says: the SQLite pass runs the same test",
)

postgresql_pass_only = pytest.mark.skipif(
    not IN_POSTGRESQL_PASS,
    reason="starts a PostgreSQL cluster of its own: the PostgreSQL pass of .ci/run runs it (DATABASE_URL set)",
)


# Fixtures through which a test reaches the database (pytest-django's, and the live server built on them).
DATABASE_FIXTURES = frozenset({"db", "transactional_db", "django_db_reset_sequences", "django_db_serialized_rollback"})


def touches_the_database(item: pytest.Item) -> bool:
    """Whether ``item`` may reach the database of its pass: marked ``django_db``, or using (through any fixture) one
    of pytest-django's database fixtures. A test without them cannot: pytest-django blocks its queries."""
    if item.get_closest_marker("django_db") is not None:
        return True
    return bool(DATABASE_FIXTURES & set(getattr(item, "fixturenames", ())))


def leave_database_free_tests_to_the_sqlite_pass(items: list[pytest.Item]) -> None:
    """In the PostgreSQL pass, skip each test that touches no database (pure functions, parsers, property tests of
    the disclosure rules or the merge model, settings read in a child process): it runs the very same in the SQLite
    pass, and running it twice only costs ``.ci/run`` minutes."""
    if not IN_POSTGRESQL_PASS:
        return
    reason = "touches no database: the SQLite pass runs the same test"
    for item in items:
        if not touches_the_database(item):
            item.add_marker(pytest.mark.skip(reason=reason))
