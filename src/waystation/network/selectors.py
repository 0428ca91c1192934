"""Reads of the route. A person's place is the station of her latest arrived movement: the movements say it
(``current_station_id``), and the database keeps it on her row (``Person.place``, triggers of migration cases 0010)
for the queries over many persons; ``places_out_of_step`` checks that the two agree."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.utils import timezone

from waystation.network.models import OPEN_MOVEMENT_STATUSES, Movement, MovementStatus, Station


def _arrivals_latest_first(person: Any) -> QuerySet[Movement]:
    """A person's arrived movements, her latest first: the first is her place on the route. ``person``: her id, or
    ``OuterRef("pk")`` in a query of persons."""
    return Movement.objects.filter(person=person, status=MovementStatus.ARRIVED).order_by("-arrived_at", "-id")


def places_out_of_step() -> list[uuid.UUID]:
    """The persons whose stored place (``Person.place``, kept by the database's triggers) is not the station of
    her latest arrival as her movements say: none, unless the triggers are gone or were bypassed."""
    from waystation.cases.models import Person

    derived = Subquery(_arrivals_latest_first(OuterRef("pk")).values("to_station")[:1])
    rows = Person.objects.annotate(derived=derived).values_list("pk", "place_id", "derived")
    return [pk for pk, stored, computed in rows if stored != computed]


def open_movement(person_id: uuid.UUID) -> Movement | None:
    return (
        Movement.objects.filter(person_id=person_id, status__in=OPEN_MOVEMENT_STATUSES)
        .select_related("from_station", "to_station")
        .first()
    )


def current_station_id(person_id: uuid.UUID) -> int | None:
    """Her place as her movements say it: the rule ``Person.place`` keeps (``places_out_of_step`` compares)."""
    return _arrivals_latest_first(person_id).values_list("to_station_id", flat=True).first()


# A person whose last arrival was at a station but who has since left the network's care there: repatriated,
# deceased, closed, detained, missing, or resettled. A keeper no longer sees them; they take no place.
GONE_STATUSES = ("repatriated", "deceased", "closed", "detained", "missing", "resettled")


def present_persons() -> QuerySet:
    """People staying at a station now: their place, not travelling, and their case still open there."""
    from waystation.cases.models import Person

    return Person.objects.exclude(status__in=(*GONE_STATUSES, "in_transit"))


def occupancy_by_station() -> dict[int, int]:
    rows = present_persons().values("place_id").annotate(n=Count("id")).values_list("place_id", "n")
    return {station_id: n for station_id, n in rows if station_id is not None}


def stations_with_occupancy(stations: QuerySet[Station]) -> list[Station]:
    """Stations, each with ``occupancy`` and ``is_full`` set, in one query for the counts."""
    counts = occupancy_by_station()
    result = list(stations)
    for station in result:
        station.occupancy = counts.get(station.pk, 0)  # type: ignore[attr-defined]
        station.is_full = bool(station.capacity) and station.occupancy >= station.capacity  # type: ignore[attr-defined]
    return result


def overdue_movements(persons: QuerySet | None = None) -> QuerySet[Movement]:
    movements = Movement.objects.filter(status=MovementStatus.UNDER_WAY, expected_arrival__lt=timezone.now())
    if persons is not None:
        movements = movements.filter(person__in=persons.values("id"))
    return movements.select_related("person", "from_station", "to_station").order_by("expected_arrival")


def open_movements_to(stations: QuerySet[Station]) -> QuerySet[Movement]:
    return (
        Movement.objects.filter(to_station__in=stations, status__in=OPEN_MOVEMENT_STATUSES)
        .select_related("person", "from_station", "to_station")
        .order_by("expected_arrival", "planned_at")
    )
