"""What a station's installation may hold: the cases of the people at or heading to its stations, by the rule that
entitles a keeper to a case's key (``vault.grants.holders``), and the records they were merged into (the same
woman). The hub holds everything."""

from __future__ import annotations

import uuid

from waystation.cases.models import Person
from waystation.network.models import OPEN_MOVEMENT_STATUSES, Movement, Station
from waystation.network.selectors import GONE_STATUSES


def persons_in_scope(station_uids: set[uuid.UUID]) -> set[uuid.UUID]:
    stations = list(Station.objects.filter(uid__in=station_uids).values_list("pk", flat=True))
    here = Person.objects.exclude(status__in=GONE_STATUSES).filter(place_id__in=stations)
    heading = Movement.objects.filter(to_station_id__in=stations, status__in=OPEN_MOVEMENT_STATUSES)
    found = set(here.values_list("id", flat=True)) | set(heading.values_list("person_id", flat=True))
    frontier = found
    while frontier:
        merged = Person.objects.filter(pk__in=frontier, merged_into__isnull=False)
        targets = {pk for pk in merged.values_list("merged_into", flat=True) if pk is not None}
        frontier = targets - found
        found |= frontier
    return found
