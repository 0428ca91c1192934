"""Duplicate candidates over the live records, without reading a name.

Each person's names are encrypted; what the matcher needs of them is only whether two persons share a name key,
and the blind index holds every key's digest (``vault.blind``, kinds h, p and s, written wherever names are
indexed). So the features here come from plaintext coded columns (birth year, sex, province of origin, month
left North Korea) and from those digests: no key is unwrapped, no field decrypted, no keyring needed.

Persons without any digest (shredded cases) are left out: there is nothing left of them to match.
Records merged into another one (``Person.merged_into``, ``linkage.services.merge``) are left out too: she is
matched once, as the record she was merged into.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from waystation.accounts.models import User
from waystation.audit.services import audit_record
from waystation.cases.models import Person
from waystation.vault.models import NameIndex

from .keys import HANGUL, PHONETIC, SURNAME
from .matching import CandidatePair, MatchSettings, PersonFeatures, find_pairs, month_number
from .reasons import REASON_LABELS

__all__ = ["REASON_LABELS", "LiveCandidates", "candidates_json", "live_candidates", "live_features"]

UNKNOWN_SEX = "U"
UNKNOWN_PROVINCE = "unknown"


@dataclass(frozen=True)
class LiveCandidates:
    """The candidate pairs (ids are case codes) and how many persons were compared."""

    pairs: list[CandidatePair]
    persons: int


def live_features() -> list[PersonFeatures]:
    """Every indexed person's features, her case code as id."""
    keys: dict[object, dict[str, set[str]]] = defaultdict(lambda: {HANGUL: set(), PHONETIC: set(), SURNAME: set()})
    indexed: set[object] = set()
    for person_id, kind, digest in NameIndex.objects.values_list("person_id", "kind", "digest").iterator(10_000):
        indexed.add(person_id)
        if kind in (HANGUL, PHONETIC, SURNAME):
            keys[person_id][kind].add(digest)
    rows = (
        Person.objects.filter(merged_into__isnull=True)
        .order_by("case_code")
        .values_list("id", "case_code", "birth_year", "sex", "origin_province", "left_nk_month")
    )
    people: list[PersonFeatures] = []
    for person_id, code, birth_year, sex, province, left in rows.iterator(10_000):
        if person_id not in indexed:
            continue
        found = keys.get(person_id, {})
        people.append(
            PersonFeatures(
                id=code,
                hangul_keys=frozenset(found.get(HANGUL, ())),
                phonetic_keys=frozenset(found.get(PHONETIC, ())),
                surname_keys=frozenset(found.get(SURNAME, ())),
                birth_year=birth_year,
                sex=None if sex in ("", UNKNOWN_SEX) else sex,
                province=None if province in ("", UNKNOWN_PROVINCE) else province,
                left_month=month_number(left.year, left.month) if left else None,
            )
        )
    return people


def live_candidates(settings: MatchSettings | None = None, *, actor: User | None = None) -> LiveCandidates:
    """The pairs of live records whose match probability reaches the threshold, best first. Audited
    (``linkage.dedup``, with the counts): a list of who may be one person is itself sensitive."""
    settings = settings or MatchSettings()
    people = live_features()
    pairs = find_pairs(people, settings)
    details = {"persons": len(people), "pairs": len(pairs), "threshold": f"{settings.threshold:g}"}
    audit_record(actor=actor, action="linkage.dedup", details=details)
    return LiveCandidates(pairs, len(people))


def candidates_json(found: LiveCandidates, settings: MatchSettings) -> dict[str, object]:
    """What ``waystation dedup --json`` prints: case codes, scores and reasons; never a name."""
    return {
        "persons": found.persons,
        "threshold": settings.threshold,
        "pairs": [
            {
                "case_a": pair.id_a,
                "case_b": pair.id_b,
                "score": round(pair.score, 4),
                "agreed": [reason.code for reason in pair.agreed],
                "reasons": [
                    {"comparison": r.comparison, "level": r.level, "weight": round(r.weight, 2)} for r in pair.reasons
                ],
            }
            for pair in found.pairs
        ],
    }
