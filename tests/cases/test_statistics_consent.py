"""``Person.statistics_consent`` is kept by the database: whatever is done to the consents (or to the column itself),
it equals the person's latest decision on anonymous statistics without a partner, computed the slow way.

The figures count, and the export exports, only persons whose column says True (``cases.selectors.consenting``): a
column that lagged behind a withdrawal would publish a person who said no. Run on SQLite and, with DATABASE_URL,
on PostgreSQL (each has its own triggers).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from waystation.accounts.models import User
from waystation.cases.choices import ConsentScope
from waystation.cases.models import Consent, Partner, Person
from waystation.cases.selectors import consenting
from waystation.cases.services import consent_record
from waystation.testing.db import two_writers_at_once

SCOPES = (ConsentScope.STATISTICS, ConsentScope.STATISTICS, ConsentScope.PHOTOS)  # statistics more often
TIMES = [dt.datetime(2025, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=d) for d in range(3)]  # few: ties happen


def slow_rule(person: Person) -> bool | None:
    """The latest decision on statistics without a partner, by time then id, read record by record in Python."""
    decisions = [c for c in Consent.objects.filter(person=person) if c.scope == ConsentScope.STATISTICS]
    decisions = [c for c in decisions if c.partner_id is None]
    if not decisions:
        return None
    return max(decisions, key=lambda c: (c.recorded_at, c.id)).given


operations = st.lists(
    st.one_of(
        # a decision recorded: whose, which scope, with a partner or not, given or not, at which time
        st.tuples(
            st.just("insert"),
            st.integers(0, 2),
            st.sampled_from(SCOPES),
            st.booleans(),
            st.booleans(),
            st.sampled_from(TIMES),
        ),
        # several decisions in one bulk insert, as the generator and a restore write them (same time: ties by id)
        st.tuples(st.just("bulk"), st.lists(st.tuples(st.integers(0, 2), st.booleans()), min_size=1, max_size=4)),
        # an existing decision changed: its answer, its time, its person, its partner, or deleted
        st.tuples(st.just("flip"), st.integers(0, 30)),
        st.tuples(st.just("retime"), st.integers(0, 30), st.sampled_from(TIMES)),
        st.tuples(st.just("move"), st.integers(0, 30), st.integers(0, 2)),
        st.tuples(st.just("partner"), st.integers(0, 30)),
        st.tuples(st.just("delete"), st.integers(0, 30)),
        # the column written directly: by a stale ORM save, or by an UPDATE that sets it
        st.tuples(st.just("stale_save"), st.integers(0, 2)),
        st.tuples(st.just("force"), st.integers(0, 2), st.sampled_from([True, False, None])),
    ),
    min_size=1,
    max_size=12,
)


def apply(op: tuple[Any, ...], persons: list[Person], partner: Partner, actor: User) -> None:
    kind, *args = op
    existing = list(Consent.objects.filter(person__in=persons).order_by("id"))
    if kind == "insert":
        who, scope, with_partner, given_, when = args
        consent = Consent.objects.create(
            person=persons[who],
            scope=scope,
            partner=partner if with_partner else None,
            given=given_,
            recorded_by=actor,
        )
        Consent.objects.filter(pk=consent.pk).update(recorded_at=when)
    elif kind == "bulk":
        Consent.objects.bulk_create(
            Consent(person=persons[who], scope=ConsentScope.STATISTICS, given=given_, recorded_by=actor)
            for who, given_ in args[0]
        )
    elif kind == "stale_save":
        stale = Person.objects.get(pk=persons[args[0]].pk)
        Consent.objects.create(
            person=stale, scope=ConsentScope.STATISTICS, given=not stale.statistics_consent, recorded_by=actor
        )
        stale.save()  # writes back the value it was loaded with, from before the decision just recorded
    elif kind == "force":
        Person.objects.filter(pk=persons[args[0]].pk).update(statistics_consent=args[1])
    elif existing:
        consent = existing[args[0] % len(existing)]
        changes: dict[str, Any] = {
            "flip": lambda: {"given": not consent.given},
            "retime": lambda: {"recorded_at": args[1]},
            "move": lambda: {"person": persons[args[1]]},
            "partner": lambda: {"partner": None if consent.partner_id else partner},
        }.get(kind, dict)()
        if kind == "delete":
            Consent.objects.filter(pk=consent.pk).delete()
        else:
            Consent.objects.filter(pk=consent.pk).update(**changes)


@pytest.mark.django_db
@given(ops=operations)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_column_is_always_the_latest_decision(
    ops: list[tuple[Any, ...]],
    person_at_a: Person,
    person_at_b: Person,
    person_heading_to_a: Person,
    partner: Partner,
    coordinator: User,
) -> None:
    persons = [person_at_a, person_at_b, person_heading_to_a]
    Consent.objects.filter(person__in=persons).delete()  # each example starts from persons never asked
    assert (
        list(Person.objects.filter(pk__in=[p.pk for p in persons]).values_list("statistics_consent", flat=True))
        == [None] * 3
    )
    for op in ops:
        apply(op, persons, partner, coordinator)
        for person in persons:
            stored = Person.objects.values_list("statistics_consent", flat=True).get(pk=person.pk)
            assert stored == slow_rule(person), (op, person)
        counted = set(consenting(Person.objects.filter(pk__in=[p.pk for p in persons]), ConsentScope.STATISTICS))
        assert counted == {p for p in persons if slow_rule(p) is True}


@pytest.mark.django_db
def test_a_withdrawal_through_the_service_stops_the_person_being_counted(
    person_at_a: Person, coordinator: User
) -> None:
    everyone = Person.objects.filter(pk=person_at_a.pk)
    consent_record(actor=coordinator, person=person_at_a, scope=ConsentScope.STATISTICS, given=True)
    assert list(consenting(everyone, ConsentScope.STATISTICS)) == [person_at_a]
    consent_record(actor=coordinator, person=person_at_a, scope=ConsentScope.STATISTICS, given=False)
    assert list(consenting(everyone, ConsentScope.STATISTICS)) == []
    # A decision on another scope is not the decision on anonymous statistics.
    consent_record(actor=coordinator, person=person_at_a, scope=ConsentScope.PHOTOS, given=True)
    assert list(consenting(everyone, ConsentScope.STATISTICS)) == []


@pytest.mark.django_db
def test_the_triggers_are_installed() -> None:
    """A later migration that makes Django rebuild cases_person or cases_consent on SQLite drops their triggers
    (see cases migration 0006): named here so that the failure says what to do."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        else:
            cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
        names = {row[0] for row in cursor.fetchall()}
    expected = (
        {"cases_consent_statistics", "cases_person_statistics"}
        if connection.vendor == "postgresql"
        else {
            "cases_consent_statistics_insert",
            "cases_consent_statistics_update",
            "cases_consent_statistics_delete",
            "cases_person_statistics_insert",
            "cases_person_statistics_update",
        }
    )
    assert expected <= names, "statistics-consent triggers missing: install them again (cases migration 0006)"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has one writer at a time")
def test_two_decisions_recorded_at_once_leave_her_latest(
    transactional_db: None, person_at_a: Person, coordinator: User
) -> None:
    """Her stored decision is "given". One transaction records a withdrawal and stays open; another, which cannot
    see it, records "given" again later and commits after it. Her decision is the later one, "given": the second's
    trigger waits for the first's lock and computes it after (migration 0011; 0006's trigger skipped her row,
    "given" looking stored, and the withdrawal stayed)."""
    consent_record(actor=coordinator, person=person_at_a, scope=ConsentScope.STATISTICS, given=True)

    def decide(given: bool) -> Callable[[], None]:
        return lambda: consent_record(actor=coordinator, person=person_at_a, scope=ConsentScope.STATISTICS, given=given)

    two_writers_at_once(decide(False), decide(True))
    assert Person.objects.values_list("statistics_consent", flat=True).get(pk=person_at_a.pk) is True
    assert slow_rule(person_at_a) is True
