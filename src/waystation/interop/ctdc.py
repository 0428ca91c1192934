"""Reading CTDC-coded data into a scratch analysis: in memory, never into the case tables.

CTDC (the Counter-Trafficking Data Collaborative, IOM) publishes victim records with its own variable names; the
reader here takes its condensed victim-perpetrator synthetic CSV (columns ``gender``, ``majorityStatus``,
``isForcedLabour``, ``isSexualExploit``, ``yearRegister``, ``UN_COO_Region``, ...) and turns each row into a record
coded in HTCDS 2.0 terms (``prs_Gender`` Feminine/Masculine, ``vic_TypeOfExploitation`` codes), so that shares are
computed the same way as for Waystation's own records. CTDC's flags are ``1`` when set and empty otherwise; an empty
``gender`` means not recorded, and such rows are left out of the denominator of the female share.
"""

from __future__ import annotations

import csv
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

REQUIRED_COLUMNS: Final = ("gender", "majorityStatus", "isForcedLabour", "isSexualExploit", "yearRegister")
GENDER_TO_HTCDS: Final[dict[str, str]] = {"Female": "Feminine", "Male": "Masculine"}


class CtdcError(Exception):
    """The file is not a CTDC condensed CSV."""


@dataclass(frozen=True)
class CtdcRecord:
    gender: str  # HTCDS prs_Gender code, or "" when CTDC records none
    minor: bool | None  # None: not recorded
    exploitation: frozenset[str]  # HTCDS vic_TypeOfExploitation codes
    year_register: str  # CTDC's period as published ("2014-2018", "2019", ...), "" when not recorded
    region_of_origin: str  # UN region, "" when not recorded


@dataclass(frozen=True)
class Share:
    numerator: int
    denominator: int

    @property
    def value(self) -> float:
        return self.numerator / self.denominator if self.denominator else 0.0


class CtdcAnalysis:
    """A scratch set of CTDC records and the shares computed from them."""

    def __init__(self, records: Iterable[CtdcRecord]) -> None:
        self.records = list(records)

    def __len__(self) -> int:
        return len(self.records)

    def female_share(self) -> Share:
        """Records coded Feminine among those whose gender is recorded."""
        known = [r for r in self.records if r.gender]
        return Share(sum(r.gender == "Feminine" for r in known), len(known))

    def exploitation_share(self, code: str) -> Share:
        """Records with exploitation type ``code`` among all records (CTDC leaves an unset flag empty)."""
        return Share(sum(code in r.exploitation for r in self.records), len(self.records))

    def sexual_exploitation_share(self) -> Share:
        return self.exploitation_share("SexualExploitation")

    def by_gender(self) -> Counter[str]:
        return Counter(r.gender or "Unknown" for r in self.records)


def _record(row: dict[str, str | None]) -> CtdcRecord:
    def cell(column: str) -> str:
        return (row.get(column) or "").strip()  # a short row leaves its last cells None

    exploitation = set()
    if cell("isSexualExploit") == "1":
        exploitation.add("SexualExploitation")
    if cell("isForcedLabour") == "1":
        exploitation.add("ForcedLabour")
    majority = cell("majorityStatus")
    return CtdcRecord(
        gender=GENDER_TO_HTCDS.get(cell("gender"), ""),
        minor=None if not majority else majority == "Minor",
        exploitation=frozenset(exploitation),
        year_register=cell("yearRegister"),
        region_of_origin=cell("UN_COO_Region"),
    )


def read_condensed(path: str | os.PathLike[str]) -> CtdcAnalysis:
    """Read CTDC's condensed synthetic CSV into an in-memory analysis."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            missing = [column for column in REQUIRED_COLUMNS if column not in (reader.fieldnames or [])]
            if missing:
                raise CtdcError(f"{path} is not a CTDC condensed CSV: no column {', '.join(missing)}.")
            return CtdcAnalysis(_record(row) for row in reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CtdcError(f"Cannot read {path}: {exc}.") from exc
