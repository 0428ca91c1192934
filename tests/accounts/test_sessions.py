"""Sessions: idle timeout kept, an absolute lifetime from the sign-in, sign-out everywhere, ending everyone's."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from waystation.accounts.models import User
from waystation.accounts.sessions import RENEWED_AT, SIGNED_IN_AT, renew_every_seconds
from waystation.audit.models import AuditEvent


def age_session(client: Any, seconds: int) -> None:
    session = client.session
    session[SIGNED_IN_AT] -= seconds
    session.save()


def test_the_idle_timeout_is_thirty_minutes_and_the_lifetime_twelve_hours() -> None:
    assert settings.SESSION_COOKIE_AGE == 30 * 60
    assert settings.SESSION_ABSOLUTE_SECONDS == 12 * 3600


def session_writes(client: Any, path: str) -> tuple[int, dt.datetime]:
    """GET ``path``: the queries that wrote the session table, and the session's expiry afterwards."""
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200
    writes = [q for q in queries if "django_session" in q["sql"] and not q["sql"].lstrip().startswith("SELECT")]
    return len(writes), Session.objects.get().expire_date


def test_requests_renew_the_idle_timeout_once_a_minute_and_write_nothing_between(
    keeper_a: User, client_for: Any
) -> None:
    client = client_for(keeper_a)
    client.get("/")
    written, expiry = session_writes(client, "/cases/")  # within the minute: the session is not written again
    assert written == 0 and expiry == Session.objects.get().expire_date

    session = client.session  # a minute later, and the session has been idle for 20 of its 30 minutes
    session[RENEWED_AT] -= renew_every_seconds()
    session.save()
    Session.objects.update(expire_date=timezone.now() + dt.timedelta(minutes=10))
    written, expiry = session_writes(client, "/cases/")
    idle = dt.timedelta(seconds=settings.SESSION_COOKIE_AGE)
    assert written == 1 and idle - dt.timedelta(seconds=5) <= expiry - timezone.now() <= idle  # 30 minutes again

    written, again = session_writes(client, "/")
    assert written == 0 and again == expiry


def test_no_request_makes_a_session_row_for_a_visitor_or_after_signing_out(keeper_a: User, client_for: Any) -> None:
    """Renewing the idle timeout never makes a session: not for an anonymous visitor, not for one signed out,
    not for a session ended elsewhere (whose renewal is due)."""
    assert client_for(None).get("/accounts/login/").status_code == 200
    assert not Session.objects.exists()

    client = client_for(keeper_a)
    client.submit("/accounts/logout/")
    client.get("/accounts/login/")
    assert not Session.objects.exists()

    client = client_for(keeper_a)
    session = client.session
    session[RENEWED_AT] = 0  # its renewal is due
    session.save()
    Session.objects.all().delete()  # ended elsewhere (sign out everywhere)
    assert client.get("/").status_code == 302
    assert not Session.objects.exists()


def test_signing_in_stores_the_sign_in_time(keeper_a: User, client_for: Any) -> None:
    client = client_for(keeper_a)
    started = client.session[SIGNED_IN_AT]
    assert abs(started - timezone.now().timestamp()) < 60


def test_an_active_session_still_ends_after_its_absolute_lifetime(keeper_a: User, client_for: Any) -> None:
    client = client_for(keeper_a)
    age_session(client, settings.SESSION_ABSOLUTE_SECONDS - 60)
    assert client.get("/").status_code == 200  # eleven hours and fifty-nine minutes: still in
    age_session(client, 120)
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert client.get("/").status_code == 302  # and stays out
    event = AuditEvent.objects.get(action="auth.session_expired")
    assert event.actor_id == keeper_a.pk


def test_a_session_without_a_sign_in_time_is_expired(keeper_a: User, client_for: Any) -> None:
    client = client_for(keeper_a)
    session = client.session
    del session[SIGNED_IN_AT]
    session.save()
    assert client.get("/").status_code == 302


def test_sign_out_everywhere_ends_every_session_of_this_user_only(
    keeper_a: User, keeper_b: User, client_for: Any
) -> None:
    phone, laptop, other = client_for(keeper_a), client_for(keeper_a), client_for(keeper_b)
    page = laptop.get("/accounts/security/").content.decode()
    assert "You are signed in on 2 devices or browsers." in page
    response = laptop.submit("/accounts/sessions/end/")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    assert phone.get("/").status_code == 302
    assert laptop.get("/").status_code == 302
    assert other.get("/").status_code == 200
    event = AuditEvent.objects.get(action="auth.sessions_ended")
    assert (event.actor_id, event.target_id, event.details) == (keeper_a.pk, str(keeper_a.pk), {"sessions": 2})


def test_sign_out_everywhere_needs_a_post_with_a_token(keeper_a: User, client_for: Any) -> None:
    client = client_for(keeper_a)
    assert client.get("/accounts/sessions/end/").status_code == 405
    assert client.post("/accounts/sessions/end/").status_code == 403
    assert client.get("/").status_code == 200


def test_an_administrator_ends_everybodys_sessions(
    keeper_a: User, coordinator: User, administrator: User, client_for: Any
) -> None:
    keeper, coord, admin = client_for(keeper_a), client_for(coordinator), client_for(administrator)
    assert "/accounts/sessions/end-all/" in admin.get("/accounts/users/").content.decode()
    assert admin.submit("/accounts/sessions/end-all/").status_code == 302
    assert [c.get("/").status_code for c in (keeper, coord, admin)] == [302, 302, 302]
    assert (
        not Session.objects.exclude(expire_date__lt=timezone.now() - dt.timedelta(days=1))
        .filter(session_key__in=[c.session.session_key for c in (keeper, coord)])
        .exists()
    )
    event = AuditEvent.objects.get(action="auth.sessions_ended_all")
    assert event.actor_id == administrator.pk and event.details["sessions"] >= 3


def test_only_an_administrator_ends_everybodys_sessions(keeper_a: User, coordinator: User, client_for: Any) -> None:
    keeper, coord = client_for(keeper_a), client_for(coordinator)
    assert coord.submit("/accounts/sessions/end-all/").status_code == 403
    assert keeper.get("/").status_code == 200
    assert not AuditEvent.objects.filter(action="auth.sessions_ended_all").exists()
