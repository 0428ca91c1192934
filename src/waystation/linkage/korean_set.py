"""A generated evaluation set of Korean-name records with ground truth: who is recorded twice, and who is not.

Clearly fictional: names are random combinations of the synthetic name parts (:mod:`waystation.synth_names`), coded
fields are drawn at random. The spellings are built from those parts' own tables (customary South Korean,
McCune-Reischauer, North Korean, Chinese characters, pinyin), not from :mod:`waystation.linkage`'s romanizer, so
the set does not test the name keys against themselves.

Each person has one record; ``duplicate_share`` of them have a second one, written as another station would write
it: another romanization system (Lee/Yi/Ri, Park/Pak), Hangul against Latin letters, only her Chinese alias, the
given name joined, hyphenated or split, the North Korean Hangul (리, 림), a typo, her birth year off by one, the
month she left off by a month or two, fields left blank. Among the persons who are not recorded twice, many share
a surname (a quarter of Korean women are Kims), and some are hard cases on purpose: the same surname, birth year,
sex and province but another given name (sisters, neighbours), or the same name with another birth year and
journey (a namesake).

Records use the file format of ``waystation dedup --input``: ``id,name,other_names,birth_year,sex,
origin_province,left_month`` (other names separated by ``|``, the month as ``YYYY-MM``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from waystation.synth_names import FEMALE_SYLLABLES, MALE_SYLLABLES, REFUSED, SURNAME_WEIGHTS, SURNAMES, Surname
from waystation.synth_names import Syllable as NameSyllable

PROVINCES = {  # rough shares among those who leave: most come from the border provinces
    "north_hamgyong": 0.45,
    "ryanggang": 0.2,
    "south_hamgyong": 0.08,
    "chagang": 0.04,
    "north_pyongan": 0.05,
    "south_pyongan": 0.05,
    "pyongyang": 0.04,
    "kangwon": 0.03,
    "south_hwanghae": 0.02,
    "north_hwanghae": 0.02,
    "rason": 0.01,
    "nampho": 0.005,
    "kaesong": 0.005,
}
# How the second record of a person differs from the first (shares of the second records), and how often a field
# is left blank in any record. Both are guesses at what intake by several stations gives; the benchmark's F1 moves
# with them (typos that no key survives and blanks on both sides are most of what is missed).
VARIANTS = {
    "system": 0.25,  # another romanization system (Lee / Yi / Ri, Park / Pak)
    "script": 0.2,  # Hangul against Latin letters
    "chinese": 0.15,  # her Chinese alias only
    "western": 0.1,  # given name first, surname in capitals
    "spaced": 0.2,  # Hangul with a space (김 영희), North Korean Hangul (리, 림) as drawn
    "typo": 0.1,  # a letter of the given name dropped, doubled or swapped
}
MISSING = {"birth_year": 0.06, "origin_province": 0.1, "left_month": 0.1, "sex": 0.02}
COLUMNS = ("id", "name", "other_names", "birth_year", "sex", "origin_province", "left_month")


@dataclass(frozen=True)
class Record:
    id: str
    name: str
    other_names: tuple[str, ...]
    birth_year: int | None
    sex: str
    origin_province: str
    left_month: str  # "YYYY-MM" or ""

    def row(self) -> dict[str, str]:
        return {
            "id": self.id,
            "name": self.name,
            "other_names": "|".join(self.other_names),
            "birth_year": "" if self.birth_year is None else str(self.birth_year),
            "sex": self.sex,
            "origin_province": self.origin_province,
            "left_month": self.left_month,
        }


@dataclass(frozen=True)
class KoreanSet:
    records: list[Record]
    true_pairs: frozenset[tuple[str, str]]  # (id_a, id_b) with id_a < id_b


@dataclass(frozen=True)
class _Person:
    surname: Surname
    given: tuple[NameSyllable, ...]
    north_hangul: bool
    birth_year: int
    sex: str
    province: str
    left: tuple[int, int]


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _plain(mr: str) -> str:
    return mr.replace("ŏ", "o").replace("ŭ", "u").replace("'", "")


def spellings(person: _Person, rng: random.Random) -> dict[str, str]:
    """Every way this set writes the person's name, by kind."""
    s, given = person.surname, person.given
    style = rng.choice(["joined", "hyphen", "split"])

    def given_text(parts: list[str]) -> str:
        if style == "joined":
            return _cap("".join(parts))
        if style == "hyphen":
            return _cap("-".join(parts))
        return " ".join(_cap(p) for p in parts)

    hangul_surname = s.nk_hangul if person.north_hangul else s.hangul
    given_hangul = "".join(g.hangul for g in given)
    return {
        "hangul": hangul_surname + given_hangul,
        "hangul_spaced": f"{hangul_surname} {given_hangul}",
        "rr": f"{s.usual} {given_text([g.rr for g in given])}",
        "rr_western": f"{given_text([g.rr for g in given])} {s.usual.upper()}",
        "mr": f"{s.mr} {given_text([g.mr for g in given])}",
        "nk": f"{s.nk} {' '.join(_cap(_plain(g.mr)) for g in given)}",
        "chinese": s.hanzi + "".join(g.hanzi for g in given),
    }


def _typo(text: str, rng: random.Random) -> str:
    """One letter of the given name dropped, doubled or swapped with the next (never the surname)."""
    head, _, tail = text.partition(" ")
    if len(tail) < 3:
        return text
    i = rng.randrange(1, len(tail) - 1)
    kind = rng.choice(["drop", "double", "swap"])
    if kind == "drop":
        tail = tail[:i] + tail[i + 1 :]
    elif kind == "double":
        tail = tail[:i] + tail[i] + tail[i:]
    else:
        tail = tail[:i] + tail[i + 1] + tail[i] + tail[i + 2 :]
    return f"{head} {tail}"


def _person(rng: random.Random, *, like: _Person | None = None) -> _Person:
    """A new person; ``like`` gives one who shares surname, sex, birth year and province with another."""
    while True:
        female = like.sex == "F" if like else rng.random() < 0.85
        pool = FEMALE_SYLLABLES if female else MALE_SYLLABLES
        surname = like.surname if like else rng.choices(SURNAMES, SURNAME_WEIGHTS)[0]
        given = tuple(rng.sample(pool, 1 if rng.random() < 0.05 else 2))
        if like and given == like.given:
            continue
        if surname.hangul + "".join(g.hangul for g in given) in REFUSED:
            continue
        return _Person(
            surname=surname,
            given=given,
            north_hangul=rng.random() < 0.35,
            birth_year=like.birth_year if like else rng.randint(1955, 2008),
            sex="F" if female else "M",
            province=like.province if like else rng.choices(list(PROVINCES), list(PROVINCES.values()))[0],
            left=(rng.randint(1997, 2024), rng.randint(1, 12)),
        )


def _record(rid: str, person: _Person, rng: random.Random, *, second: bool) -> Record:
    forms = spellings(person, rng)
    if not second:
        main = rng.choices(["hangul", "rr", "mr", "nk"], [0.5, 0.3, 0.1, 0.1])[0]
        name = forms[main]
        others = []
        if rng.random() < 0.3:
            others.append(forms["chinese"])
        if main == "hangul" and rng.random() < 0.3:
            others.append(forms["rr"])
        birth_year: int | None = person.birth_year
        year, month = person.left
    else:
        variant = rng.choices(list(VARIANTS), list(VARIANTS.values()))[0]
        if variant == "system":
            name = forms[rng.choice(["rr", "mr", "nk"])]
            others = []
        elif variant == "script":
            name = forms[rng.choice(["hangul", "rr", "nk"])]
            others = [forms["chinese"]] if rng.random() < 0.2 else []
        elif variant == "chinese":  # registered in China under her Chinese name only
            name, others = forms["chinese"], []
        elif variant == "western":
            name, others = forms["rr_western"], []
        elif variant == "typo":
            name = _typo(forms[rng.choice(["rr", "nk", "mr"])], rng)
            others = [forms["hangul"]] if rng.random() < 0.3 else []
        else:
            name, others = forms["hangul_spaced"], []
        birth_year = person.birth_year + (rng.choice([-1, 1]) if rng.random() < 0.3 else 0)
        year, month = person.left
        if rng.random() < 0.2:
            shift = rng.choice([-2, -1, 1, 2])
            index = year * 12 + month - 1 + shift
            year, month = divmod(index, 12)
            month += 1
    if rng.random() < MISSING["birth_year"]:
        birth_year = None
    province = person.province if rng.random() >= MISSING["origin_province"] else "unknown"
    left = f"{year:04d}-{month:02d}" if rng.random() >= MISSING["left_month"] else ""
    sex = person.sex if rng.random() >= MISSING["sex"] else ""
    return Record(rid, name, tuple(others), birth_year, sex, province, left)


def generate(persons: int, *, seed: int, duplicate_share: float = 0.3, hard_share: float = 0.15) -> KoreanSet:
    """``persons`` fictional persons and their records (more records than persons: the duplicates), shuffled.

    ``hard_share`` of the persons are hard non-duplicates: like another person in everything but the given name
    (half of them), or with the same name but another birth year and journey (a namesake, the other half).
    """
    rng = random.Random(seed)  # noqa: S311 - synthetic test data, not secrets
    people: list[_Person] = []
    for _ in range(persons):
        if people and rng.random() < hard_share:
            other = rng.choice(people)
            if rng.random() < 0.5:
                people.append(_person(rng, like=other))
            else:
                stranger = _person(rng)
                namesake = _Person(
                    other.surname,
                    other.given,
                    rng.random() < 0.35,
                    other.birth_year + rng.choice([-9, -6, -4, 4, 6, 9]),
                    other.sex,
                    stranger.province,
                    stranger.left,
                )
                people.append(namesake)
        else:
            people.append(_person(rng))
    records: list[Record] = []
    pairs: set[tuple[str, str]] = set()
    ids = rng.sample(range(10 * persons + 10), 2 * persons + 2)  # ids that say nothing about who is whom
    for index, person in enumerate(people):
        first = f"R{ids[2 * index]:07d}"
        records.append(_record(first, person, rng, second=False))
        if rng.random() < duplicate_share:
            second = f"R{ids[2 * index + 1]:07d}"
            records.append(_record(second, person, rng, second=True))
            pairs.add((min(first, second), max(first, second)))
    rng.shuffle(records)
    return KoreanSet(records, frozenset(pairs))
