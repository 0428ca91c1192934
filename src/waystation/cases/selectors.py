"""Reads of cases that several parts share."""

from __future__ import annotations

from django.db.models import OuterRef, QuerySet, Subquery

from waystation.cases.choices import ConsentScope
from waystation.cases.models import Consent, Person


def consenting(persons: QuerySet[Person], scope: str) -> QuerySet[Person]:
    """Those whose latest decision for ``scope`` (without a partner) is consent given.

    For anonymous statistics the database keeps that decision on the person row (``Person.statistics_consent``,
    maintained by triggers: see cases migration 0006), so the figures filter and group on a column of an index
    instead of looking up every person's latest consent; the other scopes are looked up here."""
    if scope == ConsentScope.STATISTICS:
        return persons.filter(statistics_consent=True)
    latest = Consent.objects.filter(person=OuterRef("pk"), scope=scope, partner__isnull=True).order_by(
        "-recorded_at", "-id"
    )
    return persons.annotate(consent_now=Subquery(latest.values("given")[:1])).filter(consent_now=True)


def unmerged(persons: QuerySet[Person]) -> QuerySet[Person]:
    """Leave out the records merged into another one (``linkage``): each woman once, under the record kept. A merged
    record and its history stay reachable from the kept record's page."""
    return persons.filter(merged_into__isnull=True)
