"""Reading CTDC-coded data: shares computed through the reader equal a plain count of the CSV."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from waystation.interop.ctdc import CtdcError, read_condensed

DATA = Path(__file__).parent / "data"
EXCERPT = DATA / "ctdc_vpsynthetic_condensed_excerpt.csv"
# The full file beside the repository (../shared/data/ctdc/), used when present, never required.
FULL = Path(__file__).resolve().parents[3] / "shared" / "data" / "ctdc" / "CTDC_VPsynthetic_condensed.csv"


def plain_counts(path: Path) -> tuple[int, int, int, int]:
    """Female, gender recorded, sexual exploitation, rows: counted with the csv module alone."""
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    female = sum(row["gender"] == "Female" for row in rows)
    known = sum(row["gender"] in {"Female", "Male"} for row in rows)
    sexual = sum(row["isSexualExploit"] == "1" for row in rows)
    return female, known, sexual, len(rows)


@pytest.mark.parametrize(
    "path",
    [EXCERPT, pytest.param(FULL, marks=pytest.mark.skipif(not FULL.exists(), reason="shared data not present"))],
)
def test_female_and_sexual_exploitation_shares_match_a_plain_count(path: Path) -> None:
    female, known, sexual, rows = plain_counts(path)
    analysis = read_condensed(path)

    assert len(analysis) == rows
    assert (analysis.female_share().numerator, analysis.female_share().denominator) == (female, known)
    assert analysis.female_share().value == pytest.approx(female / known)
    assert analysis.sexual_exploitation_share().numerator == sexual
    assert analysis.sexual_exploitation_share().value == pytest.approx(sexual / rows)
    # Not a vacuous equality: the excerpt holds both sexes and both kinds of exploitation.
    assert 0 < female < known and 0 < sexual < rows


def test_the_excerpt_is_a_faithful_sample_of_the_full_file() -> None:
    if not FULL.exists():
        pytest.skip("shared data not present")
    full = read_condensed(FULL)
    excerpt = read_condensed(EXCERPT)
    assert len(full) == 21195
    assert excerpt.female_share().value == pytest.approx(full.female_share().value, abs=0.03)


def test_records_are_coded_in_htcds_terms() -> None:
    analysis = read_condensed(EXCERPT)
    assert {r.gender for r in analysis.records} <= {"Feminine", "Masculine", ""}
    assert set().union(*(r.exploitation for r in analysis.records)) <= {"SexualExploitation", "ForcedLabour"}


def test_a_file_that_is_not_ctdc_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.csv"
    other.write_text("name,age\nA,3\n", encoding="utf-8")
    with pytest.raises(CtdcError, match="not a CTDC condensed CSV"):
        read_condensed(other)
    with pytest.raises(CtdcError, match="Cannot read"):
        read_condensed(tmp_path / "missing.csv")
