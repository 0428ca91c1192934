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
