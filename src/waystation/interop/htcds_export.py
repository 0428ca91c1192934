"""``waystation export htcds``: anonymised person and victim-context records in HTCDS 2.0 fields, k-anonymised.

Built from coded plaintext fields only (sex, birth year, province of origin, month of first contact, status and the
HTCDS-coded exploitation episodes): nothing is decrypted, and no name, alias, date of birth, contact, narrative,
note, photo, case code or internal id leaves. Each row gets a random id made for this export alone, and rows are
shuffled, so that neither reveals registration order. Only persons whose latest decision on anonymous statistics
(``ConsentScope.STATISTICS``) is consent given are exported; ``SHARING`` is consent to share with one named partner,
identified, and does not cover an anonymised file for anyone.

The quasi-identifiers (sex, age band at first contact, citizenship, province of origin, year of first contact) are
k-anonymised as CTDC does (k = 11 by default): the least generalisation (age band 5 -> 10 years -> minor/adult ->
withheld; year -> 2-year -> 5-year period -> withheld; province -> region -> withheld) that leaves at most
``MAX_SUPPRESSED_SHARE`` of the records in groups smaller than k is chosen, and the records still in such groups are
suppressed. See docs/htcds-export.md.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import os
import secrets
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from django.db import transaction

from waystation.cases import htcds
from waystation.cases.choices import CaseStatus, ConsentScope, Province, Sex

DEFAULT_K: Final = 11  # CTDC's k for its Global Dataset
MAX_SUPPRESSED_SHARE: Final = 0.05  # generalise further rather than suppress more than this share of the records
MULTISELECT_SEPARATOR: Final = ";"  # HTCDS multiselect picklists (Salesforce) separate values with semicolons
WITHHELD: Final = "Withheld"  # a quasi-identifier generalised away entirely
UNKNOWN: Final = "Unknown"  # not recorded

# HTCDS 2.0 has no field for an age band, a year of first contact, a province of origin or a row id; these four
# columns are Waystation extensions (``ext_``), the first three shaped like CTDC's ageBroad and yearOfRegistration.
EXTENSION_COLUMNS: Final = ("ext_RowId", "ext_AgeBandAtFirstContact", "ext_YearOfFirstContact", "ext_OriginRegion")
HTCDS_COLUMNS: Final = (
    "prs_Gender",
    "prs_Citizenship",
    "cas_Status",
    "vic_TraffickingStatus",
    "vic_TypeOfExploitation",
    "vic_TypeOfSexExploitation",
    "vic_MethodsOfControl",
    "vic_MethodOfRecruitment",
    "vic_RelationshipToTrafficker",
    "per_RoleInProcess",
)
COLUMNS: Final = (
    "ext_RowId",
    "prs_Gender",
    "ext_AgeBandAtFirstContact",
    "prs_Citizenship",
    "ext_OriginRegion",
    "ext_YearOfFirstContact",
    *HTCDS_COLUMNS[2:],
)
QUASI_IDENTIFIERS: Final = (
    "prs_Gender",
    "ext_AgeBandAtFirstContact",
    "prs_Citizenship",
    "ext_OriginRegion",
    "ext_YearOfFirstContact",
)

SEX_TO_HTCDS: Final[dict[str, str]] = {
    Sex.FEMALE: "Feminine",
    Sex.MALE: "Masculine",
    Sex.UNKNOWN: "NonSpecifiedUnknown",
}
# Everyone in Waystation's care left the DPRK; Waystation records no other citizenship (ISO 3166-1 alpha-2).
CITIZENSHIP: Final = "KP"
ACTIVE_STATUSES: Final = {
    CaseStatus.CONTACTED,
    CaseStatus.SHELTERED,
    CaseStatus.IN_TRANSIT,
    CaseStatus.THIRD_COUNTRY,
    CaseStatus.ARRIVED_KR,
    CaseStatus.DETAINED,
    CaseStatus.MISSING,
}
STATUS_TO_HTCDS: Final[dict[str, str]] = {
    **dict.fromkeys(ACTIVE_STATUSES, "Active"),
    CaseStatus.RESETTLED: "FollowUp",
    CaseStatus.REPATRIATED: "Closed",
    CaseStatus.DECEASED: "Closed",
    CaseStatus.CLOSED: "Closed",
}
# Provinces of origin grouped into four regions, the first step of generalisation.
PROVINCE_REGION: Final[dict[str, str]] = {
    Province.NORTH_HAMGYONG: "NorthEast",
    Province.SOUTH_HAMGYONG: "NorthEast",
    Province.RYANGGANG: "NorthEast",
    Province.RASON: "NorthEast",
    Province.NORTH_PYONGAN: "NorthWest",
    Province.CHAGANG: "NorthWest",
    Province.PYONGYANG: "Central",
    Province.SOUTH_PYONGAN: "Central",
    Province.NAMPHO: "Central",
    Province.NORTH_HWANGHAE: "South",
    Province.SOUTH_HWANGHAE: "South",
    Province.KANGWON: "South",
    Province.KAESONG: "South",
}
AGE_LEVELS: Final = ("5-year band", "10-year band", "minor or adult", "withheld")
YEAR_LEVELS: Final = ("year", "2-year period", "5-year period", "withheld")
PROVINCE_LEVELS: Final = ("province", "region", "withheld")


class ExportError(Exception):
    """A refusal: a bad argument or an unwritable path. Nothing was written."""


@dataclass(frozen=True)
class Source:
    """One consenting person's coded values: the raw quasi-identifiers and the finished HTCDS attributes."""

    sex: str
    age: int | None  # at first contact, in years
    province: str
    year: int | None  # of first contact
    attributes: dict[str, str]


@dataclass
class Anonymised:
    rows: list[dict[str, str]]
    levels: dict[str, str]  # quasi-identifier -> the generalisation chosen
    suppressed: int
    k: int


@dataclass
class ExportReport:
    path: str
    k: int
    exported: int
    suppressed: int
    not_consenting: int
    levels: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "k": self.k,
            "exported": self.exported,
            "suppressed": self.suppressed,
            "not_consenting": self.not_consenting,
            "generalisation": self.levels,
        }


# --- generalisation --------------------------------------------------------------------------------------------------


def age_band(age: int | None, level: int) -> str:
    if level == len(AGE_LEVELS) - 1:
        return WITHHELD
    if age is None or age < 0:
        return UNKNOWN
    if level == 2:
        return "0-17" if age < 18 else "18+"
    width = 5 if level == 0 else 10
    low = age - age % width
    return f"{low}-{low + width - 1}"


def year_period(year: int | None, level: int) -> str:
    if level == len(YEAR_LEVELS) - 1:
        return WITHHELD
    if year is None:
        return UNKNOWN
    width = (1, 2, 5)[level]
    low = year - year % width
    return str(year) if width == 1 else f"{low}-{low + width - 1}"


def province_area(province: str, level: int) -> str:
    if level == len(PROVINCE_LEVELS) - 1:
        return WITHHELD
    if province not in PROVINCE_REGION:
        return UNKNOWN
    return province if level == 0 else PROVINCE_REGION[province]


def _quasi(source: Source, node: tuple[int, int, int]) -> tuple[str, str, str, str, str]:
    age_level, year_level, province_level = node
    return (
        SEX_TO_HTCDS.get(source.sex, "NonSpecifiedUnknown"),
        age_band(source.age, age_level),
        CITIZENSHIP,
        province_area(source.province, province_level),
        year_period(source.year, year_level),
    )


def _suppressed_at(sources: Sequence[Source], node: tuple[int, int, int], k: int) -> int:
    sizes = Counter(_quasi(source, node) for source in sources)
    return sum(size for size in sizes.values() if size < k)


def choose_generalisation(sources: Sequence[Source], k: int) -> tuple[int, int, int]:
    """The least generalised node (fewest steps, then fewest suppressed, then age before year before province)
    whose suppression stays within ``MAX_SUPPRESSED_SHARE``; if none does, the node suppressing fewest."""
    nodes = list(itertools.product(range(len(AGE_LEVELS)), range(len(YEAR_LEVELS)), range(len(PROVINCE_LEVELS))))
    suppressed = {node: _suppressed_at(sources, node, k) for node in nodes}
    allowed = int(MAX_SUPPRESSED_SHARE * len(sources))
    within = [node for node in nodes if suppressed[node] <= allowed]
    if within:
        return min(within, key=lambda node: (sum(node), suppressed[node], node))
    return min(nodes, key=lambda node: (suppressed[node], sum(node), node))


def anonymise(sources: Sequence[Source], k: int = DEFAULT_K) -> Anonymised:
    """Generalise, then suppress every record whose quasi-identifier combination occurs fewer than ``k`` times."""
    if k < 2:
        raise ExportError(f"k must be at least 2 (got {k}).")
    node = choose_generalisation(sources, k) if sources else (0, 0, 0)
    keyed = [(_quasi(source, node), source) for source in sources]
    sizes = Counter(key for key, _source in keyed)
    rows: list[dict[str, str]] = []
    for key, source in keyed:
        if sizes[key] < k:
            continue
        row = dict(zip(QUASI_IDENTIFIERS, key, strict=True)) | source.attributes
        row["ext_RowId"] = secrets.token_hex(8)
        rows.append({column: row.get(column, "") for column in COLUMNS})
    secrets.SystemRandom().shuffle(rows)
    levels = {
        "ext_AgeBandAtFirstContact": AGE_LEVELS[node[0]],
        "ext_YearOfFirstContact": YEAR_LEVELS[node[1]],
        "ext_OriginRegion": PROVINCE_LEVELS[node[2]],
    }
    return Anonymised(rows=rows, levels=levels, suppressed=len(sources) - len(rows), k=k)


# --- reading the coded records ---------------------------------------------------------------------------------------


def _joined(values: Iterable[str]) -> str:
    return MULTISELECT_SEPARATOR.join(sorted({value for value in values if value}))


def _victim_context(episodes: Sequence[dict[str, Any]]) -> dict[str, str]:
    """The vic_/per_ fields from a person's episodes: multiselects are the union over all episodes; the relation to
    the trafficker (a single picklist in HTCDS) is the earliest episode's that records one."""
    if not episodes:
        return {}
    types = [htcds.EXPLOITATION_TYPE_TO_HTCDS[e["exploitation_type"]] for e in episodes]
    relations = [e["trafficker_relation"] for e in episodes if e["trafficker_relation"]]
    return {
        "vic_TraffickingStatus": "ActualVictimOfTrafficking",
        "vic_TypeOfExploitation": _joined(main for main, _sub in types),
        "vic_TypeOfSexExploitation": _joined(sub or "" for _main, sub in types),
        "vic_MethodsOfControl": _joined(
            htcds.CONTROL_METHOD_TO_HTCDS[m] for e in episodes for m in e["control_methods"] or []
        ),
        "vic_MethodOfRecruitment": _joined(
            htcds.RECRUITMENT_METHOD_TO_HTCDS[e["recruitment_method"]] for e in episodes if e["recruitment_method"]
        ),
        "vic_RelationshipToTrafficker": htcds.TRAFFICKER_RELATION_TO_HTCDS[relations[0]] if relations else "",
        "per_RoleInProcess": _joined(
            htcds.PERPETRATOR_ROLE_TO_HTCDS[r] for e in episodes for r in e["perpetrator_roles"] or []
        ),
    }


def consenting_sources() -> tuple[list[Source], int]:
    """Coded values of every person who consented to anonymous statistics, and how many others were left out.
    Reads plaintext coded columns only (``values()``): no sensitive field is loaded, let alone decrypted."""
    from waystation.cases.models import ExploitationEpisode, Person
    from waystation.cases.selectors import consenting

    persons = consenting(Person.objects.all(), ConsentScope.STATISTICS)
    rows = list(persons.values("id", "sex", "birth_year", "origin_province", "first_contact_month", "status"))
    not_consenting = Person.objects.count() - len(rows)
    episodes: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for episode in (
        ExploitationEpisode.objects.filter(person__in=persons.values("id"))
        .order_by("start_month", "id")
        .values(
            "person_id",
            "exploitation_type",
            "control_methods",
            "recruitment_method",
            "trafficker_relation",
            "perpetrator_roles",
        )
    ):
        episodes[episode["person_id"]].append(dict(episode))
    sources = []
    for row in rows:
        contact = row["first_contact_month"]
        year = contact.year if contact else None
        attributes = {"cas_Status": STATUS_TO_HTCDS.get(row["status"], "Active")} | _victim_context(
            episodes.get(row["id"], [])
        )
        sources.append(
            Source(
                sex=row["sex"],
                age=year - row["birth_year"] if year and row["birth_year"] else None,
                province=row["origin_province"],
                year=year,
                attributes=attributes,
            )
        )
    return sources, not_consenting


# --- writing ---------------------------------------------------------------------------------------------------------


def check_target(out: str | os.PathLike[str]) -> Path:
    """Refuse a path the export cannot write, before anything is read or written."""
    target = Path(out)
    if not str(out).strip():
        raise ExportError("Give the path of the CSV file to write with --out.")
    if target.is_dir():
        raise ExportError(f"{target} is a folder: give the path of the CSV file to write.")
    folder = target.parent
    if not folder.is_dir():
        raise ExportError(f"The folder {folder} does not exist. Nothing was written.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ExportError(f"Cannot write in {folder}: permission denied. Nothing was written.")
    if target.exists() and not os.access(target, os.W_OK):
        raise ExportError(f"{target} exists and is not writable. Nothing was written.")
    return target


def write_atomically(target: Path, rows: Sequence[dict[str, str]]) -> None:
    """Write the CSV to a temporary file (mode 0600) in the same folder, then rename it over ``target``."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")  # 0600
    except OSError as exc:
        raise ExportError(f"Cannot write in {target.parent}: {exc.strerror}. Nothing was written.") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(buffer.getvalue())
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise ExportError(f"Cannot write {target}: {exc.strerror}. Nothing was written.") from exc
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def export_htcds(out: str | os.PathLike[str], *, k: int = DEFAULT_K) -> ExportReport:
    """Write the k-anonymised HTCDS export to ``out`` and record an ``export.htcds`` audit event (counts only)."""
    from waystation.audit.services import audit_record

    if k < 2:
        raise ExportError(f"--k must be at least 2 (got {k}): k = 1 is no anonymisation. Nothing was written.")
    target = check_target(out)
    sources, not_consenting = consenting_sources()
    result = anonymise(sources, k)
    # The audit event and the file stand or fall together: a failed write rolls the event back.
    with transaction.atomic():
        audit_record(
            actor=None,
            action="export.htcds",
            details={
                "k": k,
                "exported": len(result.rows),
                "suppressed": result.suppressed,
                "not_consenting": not_consenting,
                "htcds_version": htcds.HTCDS_VERSION,
            },
        )
        write_atomically(target, result.rows)
    return ExportReport(
        path=str(target),
        k=k,
        exported=len(result.rows),
        suppressed=result.suppressed,
        not_consenting=not_consenting,
        levels=result.levels,
    )
