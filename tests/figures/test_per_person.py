"""What the figures need of each person's records, kept beside her by the database (``figures.per_person``):
whatever writes her records, and however, her ``PersonFigures`` row says what they say (the check after every test
compares it with the indicators' own expressions over the records; these tests name what each writer changes)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from types import SimpleNamespace

import pytest
from django.db import connection
from django.utils import timezone

from waystation.accounts.models import User
from waystation.cases.care_services import service_record
from waystation.cases.choices import ServiceKind
from waystation.cases.models import ExploitationEpisode, Person, ServiceRecord
from waystation.figures import per_person
from waystation.figures.models import PersonFigures
from waystation.network.models import Country, Movement, MovementStatus, Station
from waystation.testing.db import two_writers_at_once

TODAY = dt.date(2026, 1, 15)


def kept(person: Person) -> tuple[int, int, dt.datetime | None]:
    row = PersonFigures.objects.get(pk=person.pk)
    return row.episodes, row.services, row.first_arrival_kr


def services(person: Person) -> tuple[int, set[str]]:
    """(records, kinds) as her kept row packs them."""
    packed = kept(person)[1]
    kinds = {kind for i, kind in enumerate(ServiceKind.values) if packed & (1 << i)}
    return packed // per_person.KINDS_UNIT, kinds


def sold(person: Person) -> int:
    return kept(person)[0] // per_person.SOLD_UNIT


@pytest.fixture
def population(synthetic: Callable[[int, int], SimpleNamespace]) -> SimpleNamespace:
    return synthetic(40, 11)


def with_sales(n: int) -> list[Person]:
    return [p for p in Person.objects.order_by("id") if p.episodes.filter(was_sold=True).count() == n]


def test_a_new_person_has_a_row_of_nothing(person_at_a: Person) -> None:
    assert kept(person_at_a) == (0, 0, None)


def test_services_recorded_and_removed(coordinator: User, person_at_a: Person) -> None:
    service_record(actor=coordinator, person=person_at_a, kind=ServiceKind.MEDICAL, delivered_on=TODAY)
    service_record(actor=coordinator, person=person_at_a, kind=ServiceKind.MEDICAL, delivered_on=TODAY)
    service_record(actor=coordinator, person=person_at_a, kind=ServiceKind.LEGAL, delivered_on=TODAY)
    assert services(person_at_a) == (3, {ServiceKind.MEDICAL, ServiceKind.LEGAL})
    ServiceRecord.objects.filter(person=person_at_a, kind=ServiceKind.LEGAL).update(kind=ServiceKind.EDUCATION)
    assert services(person_at_a) == (3, {ServiceKind.MEDICAL, ServiceKind.EDUCATION})
    with connection.cursor() as cursor:  # raw SQL
        cursor.execute(
            "DELETE FROM cases_servicerecord WHERE person_id = %s AND kind = %s",
            [person_at_a.pk.hex if connection.vendor == "sqlite" else person_at_a.pk, ServiceKind.MEDICAL],
        )
    assert services(person_at_a) == (1, {ServiceKind.EDUCATION})


def test_episodes_moved_to_another_woman_and_merges(population: SimpleNamespace) -> None:
    once_a, once_b = with_sales(1)[:2]
    twice = with_sales(2)[0]
    assert (sold(once_a), sold(once_b), sold(twice)) == (1, 1, 2)

    episode = once_a.episodes.get(was_sold=True)
    ExploitationEpisode.objects.filter(pk=episode.pk).update(person=once_b)  # recorded for the wrong woman
    assert (sold(once_a), sold(once_b)) == (0, 2)

    Person.objects.filter(pk=twice.pk).update(merged_into=once_b)  # one woman recorded twice, merged
    assert sold(once_b) == 4 and sold(twice) == 2  # the merged record keeps her own row; the release skips it
    ExploitationEpisode.objects.filter(pk=episode.pk).delete()  # a record of the merged-into woman's own
    assert sold(once_b) == 3
    twice.episodes.filter(was_sold=True).first().delete()  # a record of the merged record counts in both rows
    assert (sold(once_b), sold(twice)) == (2, 1)
    Person.objects.filter(pk=twice.pk).update(merged_into=None)  # the merge undone
    assert (sold(once_b), sold(twice)) == (1, 1)


def test_arrivals_in_south_korea_and_a_station_that_changes_country(
    coordinator: User, person_at_a: Person, station_a: Station, station_c: Station
) -> None:
    when = timezone.now().replace(microsecond=0)
    Movement.objects.create(
        person=person_at_a, from_station=station_a, to_station=station_c, status=MovementStatus.ARRIVED,
        planned_at=when, arrived_at=when, recorded_by=coordinator,
    )  # fmt: skip
    assert kept(person_at_a)[2] is None  # station C is in Laos
    Station.objects.filter(pk=station_c.pk).update(country=Country.SOUTH_KOREA)
    assert kept(person_at_a)[2] == when
    Movement.objects.filter(person=person_at_a, to_station=station_c).update(status=MovementStatus.FAILED)
    assert kept(person_at_a)[2] is None
    earlier = when - dt.timedelta(days=3)
    planned = Movement.objects.create(
        person=person_at_a, from_station=station_a, to_station=station_c, status=MovementStatus.PLANNED,
        planned_at=earlier, recorded_by=coordinator,
    )  # fmt: skip
    assert kept(person_at_a)[2] is None  # planned: not an arrival
    Movement.objects.filter(pk=planned.pk).update(status=MovementStatus.ARRIVED, arrived_at=earlier)
    assert kept(person_at_a)[2] == earlier


def test_a_person_deleted_takes_her_row_with_her(population: SimpleNamespace) -> None:
    person = with_sales(1)[0]
    Person.objects.filter(pk=person.pk).delete()
    assert not PersonFigures.objects.filter(pk=person.pk).exists()


def test_the_check_names_a_person_the_triggers_did_not_keep(population: SimpleNamespace) -> None:
    """Without the triggers (dropped inside the test's transaction, which undoes it) a sale removed leaves her kept
    figures behind, and ``out_of_step`` (also run after every test) names her; installing again mends it."""
    person = with_sales(1)[0]
    per_person.drop(connection)
    assert per_person.install(connection) is True  # what is installed is not what it makes: made again
    per_person.drop(connection)
    person.episodes.filter(was_sold=True).update(was_sold=False)
    assert per_person.out_of_step() == [person.case_code]
    assert per_person.install(connection) is True
    assert per_person.out_of_step() == []
    assert per_person.install(connection) is False  # already these triggers: nothing made again


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has one writer at a time")
def test_two_writers_at_once_both_count(transactional_db: None, coordinator: User, person_at_a: Person) -> None:
    """Two services recorded for her at once, each in a transaction that cannot see the other's: both count (a
    row computed from the second's snapshot would miss the first)."""

    def record(kind: str) -> Callable[[], None]:
        def write() -> None:
            service_record(actor=coordinator, person=person_at_a, kind=kind, delivered_on=TODAY)

        return write

    two_writers_at_once(record(ServiceKind.MEDICAL), record(ServiceKind.LEGAL))
    assert services(person_at_a) == (2, {ServiceKind.MEDICAL, ServiceKind.LEGAL})


def seq_scans(tables: tuple[str, ...]) -> dict[str, int]:
    """Whole-table reads of ``tables`` so far in this transaction (PostgreSQL's statistics of it)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname, seq_scan FROM pg_stat_xact_user_tables WHERE relname = ANY(%s)", [list(tables)])
        return dict(cursor.fetchall())


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plans")
def test_a_write_after_the_tables_grew_reads_only_her_records(coordinator: User, person_at_a: Person) -> None:
    """The triggers' queries are planned for the tables as they are at each write. A plan kept from a session's
    first writes, made on small tables that were never analysed, read every record at each write once they had
    grown (the PostgreSQL test pass took four times as long): ``CUSTOM_PLAN`` in the module's docstring."""
    for kind in [*ServiceKind.values, *ServiceKind.values]:  # the first writes, while the tables are small
        service_record(actor=coordinator, person=person_at_a, kind=kind, delivered_on=TODAY)
    others = Person.objects.bulk_create(
        Person(case_code=f"Z{i:05d}", sex="F", first_contact_month=TODAY.replace(day=1)) for i in range(3000)
    )
    ServiceRecord.objects.bulk_create(
        ServiceRecord(person=p, kind=ServiceKind.MEDICAL, delivered_on=TODAY, provider=coordinator) for p in others
    )
    read = ("cases_person", "cases_servicerecord", "cases_exploitationepisode", "network_movement", per_person.TABLE)
    before = seq_scans(read)
    assert set(before) == set(read)  # every table named is there to be watched

    service_record(actor=coordinator, person=person_at_a, kind=ServiceKind.LEGAL, delivered_on=TODAY)

    assert seq_scans(read) == before
    assert services(person_at_a) == (2 * len(ServiceKind.values) + 1, set(ServiceKind.values))
