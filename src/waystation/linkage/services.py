"""The review of duplicates: storing candidate pairs, and a coordinator's decisions on them.

Each function is one transaction with its audit event (ids, score and counts only). A merge deletes nothing and
decrypts nothing: it points the absorbed record at the kept one (``Person.merged_into``), and so the records that
had been merged into the absorbed one; :func:`undo_merge` puts every pointer, and the pair's decision, back as it
was. Keys need no change: both records keep their own data keys, held as before by those entitled to each.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from waystation.accounts.models import User
from waystation.audit.services import audit_record
from waystation.cases.models import Person
from waystation.lib.errors import ServiceError
from waystation.linkage.access import can_review
from waystation.linkage.models import Candidate, CandidateStatus, Merge
from waystation.vault.shred import is_shredded

if TYPE_CHECKING:  # the matcher loads Splink: only when the queue is refreshed
    from waystation.linkage.matching import CandidatePair, MatchSettings


def _check_actor(actor: User) -> None:
    if not can_review(actor):
        raise ServiceError(_("Only a coordinator can review duplicates."))


def _reasons(pair: CandidatePair) -> list[list[Any]]:
    return [[reason.code, round(reason.weight, 2)] for reason in pair.reasons]


def candidates_refresh(*, actor: User, settings: MatchSettings | None = None) -> dict[str, int]:
    """Run the matcher over the live records and store what it finds: new pairs open, open pairs with their new
    score, decided pairs left as decided. An open pair it no longer finds (between two unmerged records: a merged
    record is not matched) leaves the queue. Returns the counts."""
    from waystation.linkage.live import live_candidates

    _check_actor(actor)
    # Matching reads only and may take a while: outside the write transaction, which on SQLite locks out writers.
    found = live_candidates(settings, actor=actor)
    with transaction.atomic():
        codes = {code for pair in found.pairs for code in (pair.id_a, pair.id_b)}
        ids = dict(Person.objects.filter(case_code__in=codes).values_list("case_code", "id"))  # codes never change
        existing = {(c.person_a_id, c.person_b_id): c for c in Candidate.objects.all()}
        now = timezone.now()
        counts = {"persons": found.persons, "pairs": len(found.pairs), "new": 0, "updated": 0, "dropped": 0}
        seen: set[tuple[uuid.UUID, uuid.UUID]] = set()
        new: list[Candidate] = []
        for pair in found.pairs:
            key = (ids[pair.id_a], ids[pair.id_b])
            seen.add(key)
            candidate = existing.get(key)
            if candidate is None:
                new.append(
                    Candidate(
                        person_a_id=key[0], person_b_id=key[1], score=pair.score, reasons=_reasons(pair), found_at=now
                    )
                )
            elif candidate.status == CandidateStatus.OPEN and (
                candidate.score != pair.score or candidate.reasons != _reasons(pair)
            ):
                candidate.score, candidate.reasons = pair.score, _reasons(pair)
                candidate.save(update_fields=["score", "reasons"])
                counts["updated"] += 1
        # A pair stored meanwhile by another coordinator's refresh is left as it is.
        Candidate.objects.bulk_create(new, batch_size=1000, ignore_conflicts=True)
        counts["new"] = len(new)
        gone = [c.pk for key, c in existing.items() if key not in seen and c.status == CandidateStatus.OPEN]
        stale = Candidate.objects.filter(  # kept: a pair with a merged record, a pair a merge (undone) refers to
            pk__in=gone, person_a__merged_into__isnull=True, person_b__merged_into__isnull=True, merges__isnull=True
        )
        counts["dropped"] = stale.delete()[0]
        audit_record(actor=actor, action="linkage.candidates_refresh", details=counts)
    return counts


def _pair_of(kept: Person, absorbed: Person) -> Q:
    return Q(person_a=kept, person_b=absorbed) | Q(person_a=absorbed, person_b=kept)


def _check_mergeable(kept: Person, absorbed: Person) -> None:
    if kept.pk == absorbed.pk:
        raise ServiceError(_("A record cannot be merged into itself."))
    for person in (kept, absorbed):
        if person.merged_into_id is not None:
            raise ServiceError(
                _("Case %(code)s was already merged into another record: undo that merge first.")
                % {"code": person.case_code}
            )
        if is_shredded(person.pk):
            raise ServiceError(
                _("Case %(code)s was shredded: a shredded case cannot be merged.") % {"code": person.case_code}
            )


def _point(person_ids: Sequence[uuid.UUID | str], *, to: uuid.UUID | str | None) -> None:
    """Set ``merged_into`` of these persons, one save each with that field alone: the change log (``sync.changes``,
    on save) records it, so that a merge or its undoing travels to the hub and the stations; ``updated_at`` is
    left as it was (a merge is not an edit of her record)."""
    for person in Person.objects.filter(pk__in=list(person_ids)).order_by("pk"):
        person.merged_into_id = to
        person.save(update_fields=["merged_into"])


def merge(*, actor: User, kept: Person, absorbed: Person) -> Merge:
    """``absorbed`` is the same woman as ``kept``: from now on she is counted and listed once, as ``kept``, and
    both histories stay. The records merged into ``absorbed`` before follow it into ``kept`` (no chains)."""
    _check_actor(actor)
    with transaction.atomic():
        kept, absorbed = (Person.objects.select_for_update().get(pk=p.pk) for p in (kept, absorbed))
        _check_mergeable(kept, absorbed)
        now = timezone.now()
        repointed = [str(pk) for pk in absorbed.merged_records.order_by("pk").values_list("pk", flat=True)]
        candidate = Candidate.objects.select_for_update().filter(_pair_of(kept, absorbed)).first()
        record = Merge.objects.create(
            kept=kept,
            absorbed=absorbed,
            candidate=candidate,
            candidate_before=_decision(candidate),
            repointed=repointed,
            by=actor,
            at=now,
        )
        _point([*repointed, absorbed.pk], to=kept.pk)
        if candidate is not None:
            Candidate.objects.filter(pk=candidate.pk).update(
                status=CandidateStatus.MERGED, decided_by=actor, decided_at=now
            )
        audit_record(
            actor=actor,
            action="linkage.merge",
            target=record,
            case_id=kept.pk,
            details={"absorbed": str(absorbed.pk), "repointed": repointed},
        )
    absorbed.merged_into = kept
    return record


def _decision(candidate: Candidate | None) -> dict[str, Any]:
    if candidate is None:
        return {}
    return {
        "status": candidate.status,
        "decided_by": candidate.decided_by_id,
        "decided_at": candidate.decided_at.isoformat() if candidate.decided_at else None,
    }


def undo_merge(*, actor: User, merge: Merge) -> Merge:
    """Put back what ``merge`` changed: the absorbed record and those re-pointed with it point where they pointed
    before, and the pair's decision is what it was. Refused when a later merge moved any of them on (undo that
    one first): an undo never touches a pointer it did not set."""
    _check_actor(actor)
    with transaction.atomic():
        record = Merge.objects.select_for_update().get(pk=merge.pk)
        if record.undone_at is not None:
            raise ServiceError(_("This merge was undone already."))
        moved = [record.absorbed_id, *(uuid.UUID(pk) for pk in record.repointed)]
        still = Person.objects.select_for_update().filter(pk__in=moved, merged_into=record.kept_id).count()
        if still != len(moved):
            raise ServiceError(_("A later merge changed these records: undo that merge first."))
        _point([record.absorbed_id], to=None)
        _point(record.repointed, to=record.absorbed_id)
        before = record.candidate_before
        if record.candidate_id is not None and before:
            Candidate.objects.filter(pk=record.candidate_id).update(
                status=before["status"],
                decided_by_id=before["decided_by"],
                decided_at=parse_datetime(before["decided_at"]) if before["decided_at"] else None,
            )
        record.undone_by, record.undone_at = actor, timezone.now()
        record.save(update_fields=["undone_by", "undone_at"])
        audit_record(
            actor=actor,
            action="linkage.merge_undo",
            target=record,
            case_id=record.kept_id,
            details={"absorbed": str(record.absorbed_id), "repointed": list(record.repointed)},
        )
    return record


def mark_not_same(*, actor: User, candidate: Candidate) -> Candidate:
    """Two different women: the pair leaves the queue and stays out of it when the matcher finds it again."""
    _check_actor(actor)
    with transaction.atomic():
        candidate = Candidate.objects.select_for_update().get(pk=candidate.pk)
        if candidate.status != CandidateStatus.OPEN:
            raise ServiceError(_("This pair was decided already."))
        candidate.status, candidate.decided_by, candidate.decided_at = CandidateStatus.NOT_SAME, actor, timezone.now()
        candidate.save(update_fields=["status", "decided_by", "decided_at"])
        audit_record(
            actor=actor,
            action="linkage.not_same",
            target=candidate,
            case_id=candidate.person_a_id,
            details={"other": str(candidate.person_b_id)},
        )
    return candidate
