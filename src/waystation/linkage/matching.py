"""Finding one person recorded twice: a Fellegi-Sunter model (Splink on an in-memory DuckDB) over name keys and
coded fields.

Each person is reduced to :class:`PersonFeatures`: the sets of Hangul (``h:``), phonetic (``p:``) and surname
(``s:``) keys of every name and alias (:mod:`waystation.linkage.keys`), birth year, sex, province of origin and the
month she left North Korea. The matcher only ever tests two key sets for a shared element, so the keys may be
replaced by any one-to-one image of them: the live records give it their blind-index digests (HMAC of each key
under the index key, see :mod:`waystation.vault.blind`) and no name is ever decrypted to match.

The model compares five things; each comparison has levels, best first, and the weight of each level is learnt:

- ``name``: a shared Hangul key (same surname cluster and same given name in Hangul), else a shared phonetic key
  (same surname cluster, given names that sound alike across romanizations), else the same surname cluster only
  (a typo in the given name), else nothing in common;
- ``birth_year``: equal, one year apart (ages are estimated), else further;
- ``sex`` and ``province``: equal or not;
- ``left_month``: equal, within ``left_month_window`` months (default 3), within a year, else further.

A comparison where either side is unknown contributes nothing (Splink's null level).

Candidate pairs come from blocking rules (a pair that satisfies any of them is scored; other pairs are never
compared, which keeps the work near-linear): a shared phonetic key; or the same birth year, sex, province and month
of leaving (a name typed so badly that it gives no key, or no shared one). Blocks on a shared surname cluster and
the birth year or the month were measured too: they quadrupled the pairs at 100,000 persons and added no pair
judged the same person on the generated Korean set.

Training is unsupervised and deterministic for a given input and ``seed``: u probabilities (how often a level
occurs between two random people) from a seeded random sample of pairs; m probabilities (how often it occurs
between two records of one person) by expectation maximisation on three training blocks (see :func:`_train`).
The levels' priors in :func:`comparisons` are the starting values, and stay where a level is never seen; below
``MIN_TRAINING_RECORDS`` records they are used as they are. The expected share of people recorded twice
(``MatchSettings.duplicate_share``) gives the prior probability that two random records match; training may move
it, within ``PRIOR_RANGE`` times either way.

A pair is judged the same person when its match probability is at least ``MatchSettings.threshold``. The default,
0.5, judges a pair the same person when that is more likely than not: with a calibrated model, the threshold that
makes the fewest wrong judgements. Raise it where a wrong link costs more than a missed one (0.9 keeps about 99%
precision on the generated Korean set and loses recall, see bench/README.md); judged pairs are candidates for a
coordinator's review, never merged unseen.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

from .keys import HANGUL, PHONETIC, SURNAME, name_key_sets

DEFAULT_THRESHOLD = 0.5
DEFAULT_SEED = 20260501
MIN_PROBABILITY = 0.005  # the smallest m probability kept after training (see _adjusted)
# Fewer records than this are scored with the priors alone: a few dozen pairs teach EM nothing reliable.
MIN_TRAINING_RECORDS = 200
PRIOR_RANGE = 10.0
U_SAMPLE_PAIRS = 1_000_000  # pairs drawn at random to learn the u probabilities: a fixed cost, whatever the size

# One comparison: its name in the output, and its levels best first as (code, SQL condition, m prior, u prior).
# The null level (either side unknown) comes first and has no weight.
Level = tuple[str, str, float, float]


@dataclass(frozen=True)
class PersonFeatures:
    """What the matcher knows of one person. ``hangul_keys`` and ``phonetic_keys`` are name keys or their digests:
    only equality between them matters."""

    id: str
    hangul_keys: frozenset[str] = frozenset()
    phonetic_keys: frozenset[str] = frozenset()
    surname_keys: frozenset[str] = frozenset()
    birth_year: int | None = None
    sex: str | None = None  # "F" or "M"; None when unknown
    province: str | None = None  # None when unknown
    left_month: int | None = None  # months since year 0 (year * 12 + month - 1)


@dataclass(frozen=True)
class Reason:
    """Why a pair scored as it did, one per comparison: the level reached (``name.hangul``, ``birth_year.close``...)
    and its weight in bits (log2 of the Bayes factor: positive when it speaks for one person, negative against)."""

    comparison: str
    level: str
    weight: float

    @property
    def code(self) -> str:
        return f"{self.comparison}.{self.level}"

    @property
    def agrees(self) -> bool:
        return self.weight > 0


@dataclass(frozen=True)
class CandidatePair:
    """Two records that may be one person: ``id_a < id_b``, ``score`` the match probability, ``reasons`` every
    known comparison (unknown ones are left out), strongest evidence first."""

    id_a: str
    id_b: str
    score: float
    reasons: tuple[Reason, ...] = field(default=())

    @property
    def agreed(self) -> tuple[Reason, ...]:
        """The comparisons that spoke for one person: what the review queue shows as "why they matched"."""
        return tuple(r for r in self.reasons if r.agrees)


@dataclass(frozen=True)
class MatchSettings:
    threshold: float = DEFAULT_THRESHOLD
    seed: int = DEFAULT_SEED
    left_month_window: int = 3
    # The expected share of persons who have another record (the prior odds that two random records match).
    duplicate_share: float = 0.05

    def __post_init__(self) -> None:
        if not 0 < self.threshold < 1:
            raise ValueError("the threshold is a probability between 0 and 1 (exclusive)")
        if not 0 < self.duplicate_share < 1:
            raise ValueError("the duplicate share is between 0 and 1 (exclusive)")


# ---------------------------------------------------------------------------------------------------------------
# Features


def features_from_names(
    id: str,
    names: Iterable[str],
    *,
    birth_year: int | None = None,
    sex: str | None = None,
    province: str | None = None,
    left_month: int | None = None,
) -> PersonFeatures:
    """A person's features from plaintext names (the file mode; the live mode reads digests instead)."""
    keys = name_key_sets(names)
    return PersonFeatures(id, keys[HANGUL], keys[PHONETIC], keys[SURNAME], birth_year, sex, province, left_month)


def month_number(year: int, month: int) -> int:
    return year * 12 + month - 1


# ---------------------------------------------------------------------------------------------------------------
# The model


def comparisons(settings: MatchSettings) -> dict[str, list[Level]]:
    """The comparisons and their levels (after the null level), best first, with their priors."""
    window = int(settings.left_month_window)
    return {
        "name": [
            ("hangul", "len(list_intersect(hkeys_l, hkeys_r)) > 0", 0.80, 0.0005),
            ("phonetic", "len(list_intersect(pkeys_l, pkeys_r)) > 0", 0.10, 0.002),
            ("surname", "len(list_intersect(skeys_l, skeys_r)) > 0", 0.05, 0.08),
            ("different", "ELSE", 0.05, 0.9175),
        ],
        "birth_year": [
            ("same", "birth_year_l = birth_year_r", 0.75, 0.02),
            ("close", "abs(birth_year_l - birth_year_r) <= 1", 0.20, 0.04),
            ("different", "ELSE", 0.05, 0.94),
        ],
        "sex": [
            ("same", "sex_l = sex_r", 0.98, 0.5),
            ("different", "ELSE", 0.02, 0.5),
        ],
        "province": [
            ("same", "province_l = province_r", 0.90, 0.12),
            ("different", "ELSE", 0.10, 0.88),
        ],
        "left_month": [
            ("same", "left_month_l = left_month_r", 0.70, 0.005),
            ("close", f"abs(left_month_l - left_month_r) <= {window}", 0.20, 0.03),
            ("year", "abs(left_month_l - left_month_r) <= 12", 0.05, 0.08),
            ("different", "ELSE", 0.05, 0.885),
        ],
    }


NULL_CONDITIONS = {
    "name": "pkeys_l IS NULL OR pkeys_r IS NULL",
    "birth_year": "birth_year_l IS NULL OR birth_year_r IS NULL",
    "sex": "sex_l IS NULL OR sex_r IS NULL",
    "province": "province_l IS NULL OR province_r IS NULL",
    "left_month": "left_month_l IS NULL OR left_month_r IS NULL",
}


def _comparison(name: str, levels: list[Level]) -> dict[str, Any]:
    spec: list[dict[str, Any]] = [
        {"sql_condition": NULL_CONDITIONS[name], "label_for_charts": "unknown", "is_null_level": True}
    ]
    for code, sql, m, u in levels:
        level: dict[str, Any] = {"sql_condition": sql, "label_for_charts": code, "m_probability": m, "u_probability": u}
        spec.append(level)
    return {"output_column_name": name, "comparison_levels": spec}


def blocking_rules() -> list[Any]:
    """The pairs scored: those that satisfy any of these (see the module's docstring)."""
    return [
        block_on("pkeys", arrays_to_explode=["pkeys"]),
        block_on("birth_year", "sex", "province", "left_month"),
    ]


def _prior(count: int, duplicate_share: float) -> float:
    """The probability that two random records match, if ``duplicate_share`` of them have one other record."""
    pairs = max(1, count * (count - 1) // 2)
    return min(0.5, max(1e-9, duplicate_share * count / 2 / pairs))


def _settings(count: int, settings: MatchSettings) -> SettingsCreator:
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="id",
        probability_two_random_records_match=_prior(count, settings.duplicate_share),
        comparisons=[_comparison(name, levels) for name, levels in comparisons(settings).items()],
        blocking_rules_to_generate_predictions=blocking_rules(),
        retain_intermediate_calculation_columns=True,
        retain_matching_columns=True,  # gives the level reached (gamma_*) beside its weight (mw_*)
        max_iterations=25,
        em_convergence=0.0001,
    )


def _table(people: Sequence[PersonFeatures]) -> pa.Table:
    def keys(values: frozenset[str]) -> list[str] | None:
        return sorted(values) or None

    return pa.table(
        {
            "id": pa.array([p.id for p in people], pa.string()),
            "hkeys": pa.array([keys(p.hangul_keys) for p in people], pa.list_(pa.string())),
            "pkeys": pa.array([keys(p.phonetic_keys) for p in people], pa.list_(pa.string())),
            "skeys": pa.array([keys(p.surname_keys) for p in people], pa.list_(pa.string())),
            # Scalar keys for the training blocks (EM cannot block on an array): the first key of each set.
            "first_hkey": pa.array([min(p.hangul_keys) if p.hangul_keys else None for p in people], pa.string()),
            "first_pkey": pa.array([min(p.phonetic_keys) if p.phonetic_keys else None for p in people], pa.string()),
            "birth_year": pa.array([p.birth_year for p in people], pa.int32()),
            "sex": pa.array([p.sex or None for p in people], pa.string()),
            "province": pa.array([p.province or None for p in people], pa.string()),
            "left_month": pa.array([p.left_month for p in people], pa.int32()),
        }
    )


def find_pairs(people: Sequence[PersonFeatures], settings: MatchSettings | None = None) -> list[CandidatePair]:
    """The pairs of ``people`` whose match probability reaches ``settings.threshold``, best first.

    Raises ``ValueError`` when two people share an id.
    """
    settings = settings or MatchSettings()
    ids = [p.id for p in people]
    if len(set(ids)) != len(ids):
        raise ValueError("every person needs an id of her own")
    if len(people) < 2:
        return []
    levels = comparisons(settings)
    connection = duckdb.connect(":memory:")
    try:
        connection.execute("SET threads TO 4")
        db_api = DuckDBAPI(connection=connection)
        frame = db_api.register(_table(people))
        linker = Linker(frame, _settings(len(people), settings), log_level=logging.WARNING)
        if len(people) >= MIN_TRAINING_RECORDS:
            model = _adjusted(_train(linker, frame, settings), len(people), settings)
            linker = Linker(frame, model, log_level=logging.WARNING)
        predicted = linker.inference.predict(threshold_match_probability=settings.threshold)
        rows = predicted.as_record_list()
    finally:
        connection.close()
    pairs = [_pair(row, levels) for row in rows]
    return sorted(pairs, key=lambda p: (-p.score, p.id_a, p.id_b))


def _train(linker: Linker, frame: Any, settings: MatchSettings) -> dict[str, Any]:
    """Learn the u and m probabilities, and the prior, from the data itself (seeded: the same input gives the same
    model); returns the trained model. Each EM pass blocks on some fields and trains the others; each field is left
    out of at least one block. The first pass also gives the prior: the share of matches among its pairs, scaled
    back to all pairs by how often random pairs fall in its block. A pass that fails (a block without pairs, a
    level never seen) is undone: the model before it is kept."""
    quiet = logging.getLogger("splink")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        linker.training.estimate_u_using_random_sampling(max_pairs=U_SAMPLE_PAIRS, seed=settings.seed)
        passes = [
            (block_on("birth_year", "left_month"), True),  # trains name, sex, province; and the prior
            (block_on("first_pkey", "birth_year"), False),  # trains sex, province, month left
            (block_on("first_hkey", "left_month"), False),  # trains birth year
        ]
        model = linker.misc.save_model_to_json()
        for rule, prior in passes:
            try:
                linker.training.estimate_parameters_using_expectation_maximisation(
                    rule,
                    estimate_without_term_frequencies=True,
                    populate_probability_two_random_records_match_from_trained_values=prior,
                )
                model = linker.misc.save_model_to_json()
            except Exception as exc:  # noqa: BLE001 - Splink raises plain exceptions for a degenerate block
                logging.getLogger(__name__).info("training pass undone: %s", exc)
                linker = Linker(frame, copy.deepcopy(model), log_level=logging.WARNING)
        return model
    finally:
        quiet.setLevel(level)


def _adjusted(model: dict[str, Any], count: int, settings: MatchSettings) -> dict[str, Any]:
    """The trained model, made safe where small or clean data misleads EM.

    - Every m probability is at least ``MIN_PROBABILITY``: EM on clean blocks can learn that two records of one
      woman never differ in sex or province (m = 1e-30), and one slip of the pen would then outweigh every other
      agreement. The floor keeps any single disagreement finite (at most about 7 bits).
    - The learnt prior (the probability that two random records match) stays within ``PRIOR_RANGE`` times the
      prior from ``duplicate_share``: on a few hundred records, a training block can be nearly all matches and
      the learnt prior absurd (0.5).
    """
    for comparison in model["comparisons"]:
        for level in comparison["comparison_levels"]:
            if level.get("m_probability") is not None:
                level["m_probability"] = max(level["m_probability"], MIN_PROBABILITY)
    expected = _prior(count, settings.duplicate_share)
    learnt = float(model.get("probability_two_random_records_match") or expected)
    model["probability_two_random_records_match"] = min(max(learnt, expected / PRIOR_RANGE), expected * PRIOR_RANGE)
    return model


def _pair(row: dict[str, Any], levels: dict[str, list[Level]]) -> CandidatePair:
    reasons: list[Reason] = []
    for name, spec in levels.items():
        gamma = row.get(f"gamma_{name}")
        if gamma is None or gamma < 0:
            continue
        code = spec[len(spec) - 1 - int(gamma)][0]  # Splink numbers levels from the last (0) up to the first
        reasons.append(Reason(name, code, round(float(row.get(f"mw_{name}") or 0.0), 3)))
    reasons.sort(key=lambda r: -r.weight)
    a, b = str(row["id_l"]), str(row["id_r"])
    if b < a:
        a, b = b, a
    return CandidatePair(a, b, float(row["match_probability"]), tuple(reasons))
