"""Reads of cases that several parts share."""

from __future__ import annotations

from django.db.models import OuterRef, QuerySet, Subquery

from waystation.cases.models import Consent, Person


def consenting(persons: QuerySet[Person], scope: str) -> QuerySet[Person]:
    """Those whose latest decision for ``scope`` (without a partner) is consent given."""
    latest = Consent.objects.filter(person=OuterRef("pk"), scope=scope, partner__isnull=True).order_by(
        "-recorded_at", "-id"
    )
    return persons.annotate(consent_now=Subquery(latest.values("given")[:1])).filter(consent_now=True)
