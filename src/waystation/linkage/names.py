"""Korean-aware keys for finding one person recorded under several spellings of her name.

A name may arrive in Hangul (South or North Korean spelling: 이명희, 리명희), in any romanization with any
punctuation (``PARK Jiyeon``, ``Ji-yeon Park``, ``Pak Chi Yon``, ``Ri Myong Hui``, ``Yi Myŏng-hŭi``) or as a
Chinese alias (李明姬). :func:`name_keys` reads it as every plausible (surname, given name) pair and returns keys
that two spellings of the same name share:

- ``h:<surname>|<given>``: the surname cluster and the given name in Hangul (exact, for Hangul and Chinese input;
  the best few readings for a romanized given name);
- ``p:<surname>|<code>``: the surname cluster and a phonetic code of the given name in which the letters that
  romanizations confuse are merged (see :mod:`waystation.linkage.latin`), for blocking.

Surname clusters are named by the South Korean Hangul spelling after the initial-sound law (see
:func:`waystation.linkage.hangul.initial_sound_law`): 이 holds Lee, Yi, Rhee, Ri, I and the Northern 리; 임 holds
Lim, Im, Rim and 림; 노 holds Noh, Roh, Ro and 로; 나 holds Na, Ra and 라. 유 and 류 are one cluster, 유: their
spellings (Yu, Yoo, Ryu) cross between the two in both Koreas and in passports, so keeping them apart would split
people. The same law is applied to the first syllable of the given name (련희 and 연희 meet).

Everything here is pure and bounded: input beyond ``MAX_INPUT_CHARS`` is ignored, a romanized part longer than a
name is not segmented, and every candidate list has a fixed limit.
"""

from __future__ import annotations

import csv
import heapq
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from itertools import product
from typing import Literal

from .hangul import (
    SYSTEMS,
    System,
    fold_breves,
    initial_sound_law,
    is_hangul_syllable,
    romanize_word,
    syllables_romanized,
)
from .latin import hangul_code, hangul_readings, normalise_latin

MAX_INPUT_CHARS = 120
MAX_TOKENS = 6
MAX_GIVEN_SYLLABLES = 4  # Korean given names have one to three syllables, rarely four
MAX_GIVEN_READINGS = 24  # readings of a given name kept while combining its parts
MAX_CODES = 6  # phonetic keys per reading of the whole name
MAX_EXACT = 3  # exact (Hangul) keys per reading of a romanized given name
CODE_MARGIN = 3.0  # readings this much costlier than the best one do not give phonetic keys
EXACT_MARGIN = 0.75

# Syllables of native Korean given names (하늘, 슬기, 보람, ...) that no Chinese character reading supplies.
NATIVE_NAME_SYLLABLES = (
    "늘솜슬보람별빛솔샘봄결찬들새나래누리롱아름다온은비라겨울가을여하늬그루미르마음해달꽃잎송이옥분녀순자덕례말님"
)

GivenStyle = Literal["joined", "hyphen", "split"]

# The spellings names customarily take instead of the system's (passports, ALA-LC, North Korean usage).
_RR_CUSTOMARY_TEXT = """
    김:Kim 이:Lee 리:Lee 박:Park 최:Choi 정:Jung 강:Kang 조:Cho 윤:Yoon 장:Jang 임:Lim 림:Lim 한:Han 오:Oh 서:Seo
    신:Shin 권:Kwon 황:Hwang 안:Ahn 송:Song 류:Ryu 유:Yoo 전:Jeon 홍:Hong 고:Ko 문:Moon 양:Yang 손:Son 배:Bae 백:Baek
    허:Heo 노:Noh 로:Roh 남:Nam 심:Shim 하:Ha 곽:Kwak 성:Sung 차:Cha 주:Joo 우:Woo 구:Koo 민:Min
"""
RR_CUSTOMARY = dict(item.split(":") for item in _RR_CUSTOMARY_TEXT.split())
MR_CUSTOMARY = {"이": "Yi", "리": "Ri"}
# North Korea writes these surnames with their original initial ㄹ even when a record has the Southern Hangul.
NK_CUSTOMARY = {"이": "Ri", "리": "Ri", "임": "Rim", "림": "Rim", "노": "Ro", "로": "Ro", "나": "Ra", "라": "Ra"}


@dataclass(frozen=True)
class NameReading:
    """One way of reading a name: the surname cluster and the given name's Hangul readings, best first."""

    surname: str
    given: tuple[tuple[float, str], ...]  # (cost, Hangul with the initial-sound law applied), cheapest first


# ---------------------------------------------------------------------------------------------------------------
# Reference tables (read once from linkage/data/)


def _data_rows(name: str) -> list[dict[str, str]]:
    text = resources.files("waystation.linkage").joinpath("data", name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


def _loose(latin: str) -> str:
    """The form romanized surnames are looked up by: lower case, no breves, apostrophes, hyphens or spaces."""
    return re.sub(r"[^a-z]", "", fold_breves(normalise_latin(latin)))


@lru_cache(maxsize=1)
def _surname_table() -> tuple[dict[str, tuple[str, ...]], frozenset[str]]:
    """({loose romanized spelling: surname clusters, most common first}, {every Hangul surname spelling})."""
    spellings: dict[str, list[str]] = {}
    hangul_order: list[str] = []
    for row in _data_rows("name_variants_korean_surnames.csv"):
        hangul_order.append(row["hangul"])
        spellings.setdefault(row["hangul"], []).extend(row["romanization_forms_pipe_separated"].split("|"))
    for row in _data_rows("surnames_extra.csv"):
        if row["hangul"] not in spellings:
            hangul_order.append(row["hangul"])
        spellings.setdefault(row["hangul"], []).extend(row["romanization_forms_pipe_separated"].split("|"))
    index: dict[str, list[str]] = {}
    for hangul in hangul_order:
        forms = set(spellings[hangul])
        forms.update(romanize_word(hangul, system, ascii=ascii) for system in SYSTEMS for ascii in (False, True))
        cluster = surname_cluster_of_hangul(hangul)
        for form in forms:
            clusters = index.setdefault(_loose(form), [])
            if cluster not in clusters:
                clusters.append(cluster)
    return {k: tuple(v) for k, v in index.items()}, frozenset(hangul_order)


@lru_cache(maxsize=1)
def _hanja_table() -> dict[str, tuple[str, ...]]:
    """{Chinese character (traditional or simplified): its Korean readings}."""
    return {row["character"]: tuple(row["readings"].split("|")) for row in _data_rows("hanja_readings.csv")}


@lru_cache(maxsize=1)
def common_name_syllables() -> frozenset[str]:
    """Syllables that are common in Korean names: the readings of name characters, native name syllables and
    surnames. Candidate Hangul made of these ranks first."""
    syllables = set(NATIVE_NAME_SYLLABLES)
    for readings in _hanja_table().values():
        for reading in readings:
            syllables.update(reading)
            syllables.add(initial_sound_law(reading[0]))
    syllables.update(s for surname in _surname_table()[1] for s in surname)
    return frozenset(s for s in syllables if is_hangul_syllable(s))


# Chinese compound surnames, read as Korean two-syllable surnames.
_HAN_COMPOUND_TEXT = "南宮 南宫 皇甫 諸葛 诸葛 鮮于 鲜于 司空 獨孤 独孤 西門 西门 東方 东方 乙支"
HAN_COMPOUND_SURNAMES = frozenset(_HAN_COMPOUND_TEXT.split())


def surname_cluster_of_hangul(hangul: str) -> str:
    return initial_sound_law(hangul[0]) + hangul[1:] if hangul else hangul


# ---------------------------------------------------------------------------------------------------------------
# Public API


def surname_clusters(text: str) -> list[str]:
    """Every surname cluster a surname spelling may belong to, most common first ("So" → ["서", "소"]).

    Hangul of one or two syllables is taken as written (rare surnames are still surnames). A romanized spelling is
    looked up among the known spellings and, failing that, read by the romanization rules when that gives a known
    surname (Kwag → 곽).
    """
    text = unicodedata.normalize("NFKC", text.strip())[:MAX_INPUT_CHARS]
    if not text:
        return []
    if all(is_hangul_syllable(c) for c in text):
        return [surname_cluster_of_hangul(text)] if len(text) <= 2 else []
    if all(_is_han(c) for c in text):
        return _han_surname_clusters(text)
    index, known = _surname_table()
    listed = index.get(_loose(text))
    if listed:
        return list(listed)
    readings = hangul_readings(text, common_name_syllables(), MAX_GIVEN_READINGS) if len(text) <= 12 else []
    ruled = [surname_cluster_of_hangul(h) for _, h in readings if h in known]
    return list(dict.fromkeys(ruled))[:2]


def surname_cluster(text: str) -> str | None:
    """The surname cluster of one surname in any script: "Rhee" → "이", "Rim" → "임", "Ro" → "노", "Ryu" → "유",
    "李" → "이"; None when a romanized or Chinese spelling is not a known Korean surname."""
    clusters = surname_clusters(text)
    return clusters[0] if clusters else None


def hangul_candidates(latin: str, *, limit: int = 8) -> list[str]:
    """Candidate Hangul for a romanized name or name part, best first (at most ``limit``).

    Each space-separated part is segmented into syllables against all three systems; a first or last part that is
    a customary surname spelling (Lee, Rhee, Choi) also gives that surname. Nothing here applies the initial-sound
    law: "Ri" gives 리 and 이.
    """
    text = unicodedata.normalize("NFKC", latin)[:MAX_INPUT_CHARS]
    parts = normalise_latin(text).split()[:MAX_TOKENS]
    combined: list[tuple[float, str]] = [(0.0, "")]
    for position, part in enumerate(parts):
        readings = list(hangul_readings(part, common_name_syllables(), MAX_GIVEN_READINGS))
        if position in {0, len(parts) - 1}:  # where a surname stands: first as Koreans write, last as others do
            for rank, cluster in enumerate(_surname_table()[0].get(_loose(part), ())):
                readings.append(((0.0 if position == 0 else 1.5) + 0.5 * rank, cluster))
        if not readings:
            return []
        combined = heapq.nsmallest(
            MAX_GIVEN_READINGS, ((c1 + c2, h1 + h2) for c1, h1 in combined for c2, h2 in readings)
        )
    best: dict[str, float] = {}
    for cost, hangul in combined:
        if hangul and (hangul not in best or cost < best[hangul]):
            best[hangul] = cost
    return [h for h, _ in sorted(best.items(), key=lambda item: (item[1], item[0]))][: max(0, limit)]


def name_keys(text: str) -> set[str]:
    """Normalised keys of a full name in any script; two spellings of one name share at least one.

    Returns an empty set when nothing in ``text`` reads as a Korean name with both a surname and a given name.
    """
    keys: set[str] = set()
    for reading in name_readings(text):
        best = reading.given[0][0]
        codes: list[str] = []
        for cost, given in reading.given:
            if cost > best + CODE_MARGIN:
                break
            code = hangul_code(given)
            if code not in codes:
                codes.append(code)
        keys.update(f"p:{reading.surname}|{code}" for code in codes[:MAX_CODES])
        exact = [given for cost, given in reading.given if cost <= best + EXACT_MARGIN]
        keys.update(f"h:{reading.surname}|{given}" for given in exact[:MAX_EXACT])
    return keys


def name_readings(text: str) -> list[NameReading]:
    """Every plausible (surname cluster, given-name readings) reading of a full name, surname first or last."""
    tokens = _tokens(text)
    if not tokens:
        return []
    splits: list[tuple[list[str], list[str]]] = []
    if len(tokens) == 1:
        splits = _single_token_splits(tokens[0])
    else:
        splits = [(tokens[:1], tokens[1:]), (tokens[-1:], tokens[:-1])]
        if len(tokens) >= 3:
            splits.append((tokens[:2], tokens[2:]))
    readings: list[NameReading] = []
    seen: set[tuple[str, tuple[str, ...]]] = set()
    for surname_tokens, given_tokens in splits:
        surname_text = "".join(surname_tokens)
        given = _given_readings(given_tokens)
        if not given:
            continue
        for cluster in surname_clusters(surname_text)[:2]:
            key = (cluster, tuple(g for _, g in given))
            if key not in seen:
                seen.add(key)
                readings.append(NameReading(cluster, tuple(given)))
    return readings


def romanize_name(
    hangul: str,
    system: System = "rr",
    *,
    ascii: bool = False,
    given_style: GivenStyle | None = None,
    customary: bool = True,
) -> str:
    """A Hangul name romanized as names are written: surname first, capitalised, the given name apart.

    ``given_style`` is "joined" (RR's Jiyeon, ALA-LC's Myŏnghŭi), "hyphen" (Myŏng-hŭi) or "split" (the North
    Korean Myong Hui); by default RR and MR join and NK splits. ``customary`` uses the surnames' customary spellings
    (RR: Lee, Park, Choi; MR as in library catalogues: Yi; NK: Ri, Rim, Ro) instead of the system's rule.
    The surname is the first word when the name has a space (남궁 민); otherwise its first syllable, or its first
    two for a name of four syllables or more that starts with a two-syllable surname (남궁민수, 제갈공명).
    """
    if system not in SYSTEMS:
        raise ValueError(f"unknown romanization system {system!r}; expected one of {', '.join(SYSTEMS)}")
    hangul = hangul.strip()
    words = hangul.split()
    if len(words) >= 2:
        surname, given = words[0], "".join(words[1:])
    else:
        two = hangul[:2] in _surname_table()[1] and len(hangul[:2]) == 2 and len(hangul) >= 4
        surname, given = (hangul[:2], hangul[2:]) if two else (hangul[:1], hangul[1:])
    customs = {"rr": RR_CUSTOMARY, "mr": MR_CUSTOMARY, "nk": NK_CUSTOMARY}[system]
    surname_latin = customs.get(surname) if customary else None
    if surname_latin is None:
        surname_latin = romanize_word(surname, system).capitalize()
    style = given_style or ("split" if system == "nk" else "joined")
    syllables = syllables_romanized(given, system)
    if style == "joined":
        given_latin = "".join(syllables).capitalize()
    else:
        syllables = [s.lstrip("'") for s in syllables]
        given_latin = (
            "-".join(syllables).capitalize() if style == "hyphen" else " ".join(s.capitalize() for s in syllables)
        )
    text = f"{surname_latin} {given_latin}".strip()
    return fold_breves(text) if ascii else text


# ---------------------------------------------------------------------------------------------------------------
# Reading the parts of a name


def _is_han(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fff" or "\u3400" <= char <= "\u4dbf" or "\uf900" <= char <= "\ufaff"


def _script(char: str) -> str:
    if is_hangul_syllable(char):
        return "hangul"
    if _is_han(char):
        return "han"
    if char.isalpha() and unicodedata.name(char, "").startswith("LATIN"):
        return "latin"
    if char in "'’‘ʼ`´-‐–":
        return "mark"
    return "other"


def _tokens(text: str) -> list[str]:
    """Name tokens: split on anything that is not a letter, and where the script changes (김Jiyeon)."""
    text = unicodedata.normalize("NFKC", text)[:MAX_INPUT_CHARS]
    tokens: list[str] = []
    current, current_script = "", ""
    for char in text:
        script = _script(char)
        if script == "mark" and current_script == "latin":
            current += char
            continue
        if script != current_script or script == "other":
            if current and current_script in {"hangul", "han", "latin"}:
                tokens.append(current)
            current, current_script = ("", "") if script in {"other", "mark"} else (char, script)
            continue
        current += char
    if current and current_script in {"hangul", "han", "latin"}:
        tokens.append(current)
    tokens = [t.strip("'’‘ʼ`´-‐–") for t in tokens]
    return [t for t in tokens if t][:MAX_TOKENS]


def _single_token_splits(token: str) -> list[tuple[list[str], list[str]]]:
    """Where a name written as one token (김명희, 李明姬, KimMinsu) may divide into surname and given name."""
    if is_hangul_syllable(token[0]) or _is_han(token[0]):
        compound = token[:2] in _surname_table()[1] or token[:2] in HAN_COMPOUND_SURNAMES
        splits = [([token[:1]], [token[1:]])] if len(token) >= 2 else []
        if compound and len(token) >= 3:
            splits.insert(0 if len(token) >= 4 else 1, ([token[:2]], [token[2:]]))
        return splits
    loose = _loose(token)
    index = _surname_table()[0]
    return [([loose[:n]], [loose[n:]]) for n in range(min(len(loose) - 2, 9), 0, -1) if loose[:n] in index][:3]


def _han_surname_clusters(text: str) -> list[str]:
    readings = [_hanja_table().get(c, ()) for c in text]
    if not all(readings) or len(text) > 2:
        return []
    return list(dict.fromkeys(surname_cluster_of_hangul("".join(r)) for r in product(*readings)))


def _token_readings(token: str) -> list[tuple[float, str]]:
    if all(is_hangul_syllable(c) for c in token):
        return [(0.0, token)]
    if all(_is_han(c) for c in token):
        if len(token) > MAX_GIVEN_SYLLABLES:  # bounds the product of readings below
            return []
        readings = [_hanja_table().get(c, ()) for c in token]
        if not all(readings):
            return []
        ranked = product(*(list(enumerate(r)) for r in readings))
        return heapq.nsmallest(
            MAX_GIVEN_READINGS, ((float(sum(i for i, _ in combo)), "".join(s for _, s in combo)) for combo in ranked)
        )
    return hangul_readings(token, common_name_syllables(), MAX_GIVEN_READINGS)


def _given_readings(tokens: list[str]) -> list[tuple[float, str]]:
    """Readings of the given name's tokens joined, with the initial-sound law on its first syllable, best first."""
    combined: list[tuple[float, str]] = [(0.0, "")]
    for token in tokens:
        readings = _token_readings(token)
        if not readings:
            return []
        combined = heapq.nsmallest(
            MAX_GIVEN_READINGS, ((c1 + c2, h1 + h2) for c1, h1 in combined for c2, h2 in readings)
        )
    best: dict[str, float] = {}
    for cost, hangul in combined:
        if not hangul or len(hangul) > MAX_GIVEN_SYLLABLES:
            continue
        hangul = initial_sound_law(hangul[0]) + hangul[1:]
        best[hangul] = min(cost, best.get(hangul, cost))
    return sorted(((c, h) for h, c in best.items()))
