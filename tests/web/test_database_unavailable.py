"""While the database cannot be reached, every page is a clean 503 made without
the database, in the user's language, and the next request after it is back works in the same session.

The outage is simulated here (every query of this thread fails as a dropped connection does); the real thing, a
PostgreSQL restarted under the production server with requests in flight, is ``tests/ops/test_pg_restart.py``.
"""

from __future__ import annotations

from typing import Any
from unittest import mock

from django.contrib.sessions.models import Session
from django.db.utils import OperationalError

from waystation.accounts.models import User
from waystation.accounts.sessions import RENEWED_AT
from waystation.cases.models import Person
from waystation.testing.db import database_down

LEAKS = ("Traceback", "OperationalError", "Connection refused", 'File "')


def test_a_page_is_a_503_in_the_users_language_and_the_session_works_again_after(
    coordinator: User, person_at_a: Person, client_for: Any
) -> None:
    client = client_for(coordinator)
    client.raise_request_exception = False
    with database_down():  # fails already in the middleware: the session and the user are read first
        response = client.get(f"/cases/{person_at_a.case_code}/", headers={"accept-language": "ko"})

    assert response.status_code == 503
    assert response["Retry-After"] == "30" and response["Cache-Control"] == "no-store"
    # The usual headers, although SessionMiddleware fails on the way out too (it reads the session) and answers again:
    assert response["Content-Security-Policy"].startswith("default-src 'self'")
    page = response.content.decode()
    assert "잠시 이용할 수 없습니다" in page and "데이터베이스" in page
    assert 'id="quick-exit"' in page  # the quick exit is on this page too
    assert not any(leak in page for leak in LEAKS)

    again = client.get(f"/cases/{person_at_a.case_code}/")
    assert again.status_code == 200  # still signed in: the outage ended nobody's session


def test_the_database_going_away_as_the_session_is_saved_is_a_503_not_a_400(
    coordinator: User, person_at_a: Person, client_for: Any
) -> None:
    """Django turns a session it cannot save at the end of a request into SessionInterrupted (400, "the request
    could not be understood"): the user is told the truth instead."""
    client = client_for(coordinator)
    client.raise_request_exception = False
    session = client.session
    session[RENEWED_AT] = 0  # its idle timeout is due for renewal: this request saves it
    session.save()
    gone = OperationalError("server closed the connection unexpectedly (fictional outage)")
    with mock.patch.object(Session, "save", side_effect=gone):  # the page is made, then its session save fails
        response = client.get(f"/cases/{person_at_a.case_code}/")
    assert response.status_code == 503
    page = response.content.decode()
    assert "Unavailable for a moment" in page and "could not be understood" not in page
    assert not any(leak in page for leak in LEAKS)
