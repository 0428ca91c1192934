"""Romanized Korean back to Hangul: syllable segmentation of a Latin string against all three systems at once.

A romanized syllable is read as initial + vowel + final, each taken from tables that merge the Revised
Romanization, McCune-Reischauer (with or without breves and apostrophes), the North Korean system and the informal
spellings people really write (Lee Myung-hee: ``u`` for ㅓ, ``ee`` for ㅢ, ``oo`` for ㅜ). One spelling may stand
for several letters (``k`` is ㄱ in MR and ㅋ in RR); each reading has a cost, and syllables that are common in names
cost less, so the candidates come out best first. Hyphens and spaces are hard syllable boundaries; an apostrophe
that does not mark an aspirate (MR ``han'gŭl``, ``Song'a``) is one too.

The same segmentations give the *phonetic code*: each letter replaced by its class (plain, aspirated and tense
consonants together, ㅓㅗㅜㅡ together, ㅐㅔ together, ...), with no syllable boundaries. Two spellings of one name
in any of the systems reduce to the same code, which is what a blocking key needs.
"""

from __future__ import annotations

import heapq
import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

from .hangul import FINALS, INITIALS, VOWELS, compose, decompose

# Longest input (in letters) a single name part is segmented for: names are short, and this bounds the work.
MAX_PART_LETTERS = 24
BEAM = 24


def _jamo(letters: str, table: str | tuple[str, ...]) -> int:
    return 0 if letters == "_" else table.index(letters)


def _readings(spec: str, table: str | tuple[str, ...]) -> dict[str, tuple[tuple[int, float], ...]]:
    """Parse ``"k=ㄱ0,ㅋ1 g=ㄱ0"`` into {spelling: ((jamo index, cost), ...)}."""
    out: dict[str, tuple[tuple[int, float], ...]] = {}
    for item in spec.split():
        spelling, readings = item.split("=")
        out["" if spelling == "_" else spelling] = tuple(
            (_jamo(reading[0], table), float(reading[1:])) for reading in readings.split(",")
        )
    return out


# The costs say how likely a reading is for a name, not which system is "right": 0 is the usual reading.
INITIAL_SPELLINGS = _readings(
    "_=ㅇ0 g=ㄱ0 k=ㄱ0,ㅋ1 kk=ㄲ0 gg=ㄲ1 k'=ㅋ0 kh=ㅋ0 n=ㄴ0 d=ㄷ0 t=ㄷ0,ㅌ1 tt=ㄸ0 dd=ㄸ1 t'=ㅌ0 th=ㅌ0 "
    "r=ㄹ0 l=ㄹ0 m=ㅁ0 b=ㅂ0 p=ㅂ0,ㅍ1 pp=ㅃ0 bb=ㅃ1 p'=ㅍ0 ph=ㅍ0 s=ㅅ0 sh=ㅅ0.5 ss=ㅆ0 j=ㅈ0 ch=ㅈ0,ㅊ0.5 "
    "ch'=ㅊ0 chh=ㅊ1 jj=ㅉ0 tch=ㅉ0 h=ㅎ0",
    INITIALS,
)
VOWEL_SPELLINGS = _readings(
    "a=ㅏ0 ae=ㅐ0 ai=ㅐ1 ya=ㅑ0 yae=ㅒ0 eo=ㅓ0 ŏ=ㅓ0 o=ㅗ0,ㅓ0.7 u=ㅜ0,ㅓ1,ㅡ1 uh=ㅓ1.5 eu=ㅡ0 ŭ=ㅡ0 "
    "oo=ㅜ0.5 ou=ㅜ1 wu=ㅜ1 woo=ㅜ1 e=ㅔ0,ㅐ1 yeo=ㅕ0 yŏ=ㅕ0 yo=ㅛ0.7,ㅕ0.3 yu=ㅠ0,ㅕ1 you=ㅠ1,ㅕ1 yoo=ㅠ0.5 "
    "ye=ㅖ0 wa=ㅘ0 wae=ㅙ0 oe=ㅚ0 oi=ㅚ1 we=ㅞ0.5,ㅚ1,ㅙ1 wo=ㅝ0 wŏ=ㅝ0 weo=ㅝ0 wi=ㅟ0 ui=ㅢ0,ㅟ1 ŭi=ㅢ0 "
    "eui=ㅢ0 i=ㅣ0 ee=ㅣ0.5,ㅢ0.7 wee=ㅟ1 yi=ㅣ1,ㅢ1",
    VOWELS,
)
FINAL_SPELLINGS = _readings("_=_0 k=ㄱ0 g=ㄱ1.5 ck=ㄱ1 n=ㄴ0 l=ㄹ0 r=ㄹ1.5 m=ㅁ0 p=ㅂ0 b=ㅂ1.5 ng=ㅇ0 t=ㅅ1.5", FINALS)

UNCOMMON_SYLLABLE_COST = 2.5
SYLLABLE_COST = 1.0  # prefer fewer, fuller syllables when a string splits both ways

# Phonetic classes: the letters romanizations confuse share a class. Every reading of one spelling above falls in
# one class, so the code of a Latin string does not depend on which reading is right.
# ㄴ and ㄹ share a class: North Korean and MR spellings write an initial ㄹ as r, l or n depending on its neighbours.
INITIAL_CLASS = {
    "ㄱ": "k", "ㄲ": "k", "ㅋ": "k", "ㄴ": "n", "ㄹ": "n", "ㄷ": "t", "ㄸ": "t", "ㅌ": "t", "ㅁ": "m", "ㅂ": "p",
    "ㅃ": "p", "ㅍ": "p", "ㅅ": "s", "ㅆ": "s", "ㅇ": "", "ㅈ": "c", "ㅉ": "c", "ㅊ": "c", "ㅎ": "h",
}  # fmt: skip
VOWEL_CLASS = {
    "ㅏ": "a", "ㅑ": "ya", "ㅐ": "e", "ㅔ": "e", "ㅒ": "ye", "ㅖ": "ye", "ㅓ": "o", "ㅗ": "o", "ㅜ": "o", "ㅡ": "o",
    "ㅕ": "yo", "ㅛ": "yo", "ㅠ": "yo", "ㅣ": "i", "ㅢ": "i", "ㅟ": "i", "ㅘ": "wa", "ㅙ": "we", "ㅚ": "we",
    "ㅞ": "we", "ㅝ": "wo",
}  # fmt: skip
FINAL_CLASS = ("", "k", "k", "k", "n", "n", "n", "t", "l", "k", "m", "l", "l", "l", "p", "l", "m", "p", "p", "t", "t",
               "ng", "t", "t", "k", "t", "p", "t")  # fmt: skip

_APOSTROPHES = str.maketrans(dict.fromkeys("’‘ʼʻ`´′ʹ", "'"))
_O_MARKS = {"\u0306", "\u030c", "\u0302", "\u0308", "\u030b"}  # breve, caron, circumflex, diaeresis, double acute
_NOT_LETTER = re.compile(r"[^a-zŏŭ'\- ]+")


def normalise_latin(text: str) -> str:
    """Lower case, breves and their look-alikes (ǒ ô ö) as ŏ ŭ, one apostrophe, one hyphen, other marks dropped."""
    text = text.translate(_APOSTROPHES).replace("‐", "-").replace("–", "-").replace("—", "-")
    out: list[str] = []
    for char in unicodedata.normalize("NFD", text.lower()):
        if unicodedata.combining(char):
            if char in _O_MARKS and out and out[-1] in "ou":
                out[-1] = "ŏ" if out[-1] == "o" else "ŭ"
            continue
        out.append(char)
    return _NOT_LETTER.sub(" ", "".join(out))


def syllable_class(syllable: str) -> str:
    """The phonetic code of one Hangul syllable."""
    initial, vowel, final = decompose(syllable)
    return INITIAL_CLASS[INITIALS[initial]] + VOWEL_CLASS[VOWELS[vowel]] + FINAL_CLASS[final]


# Assimilation people write as they hear it (석민 Sŏngmin, 순란 Sullan, 한라 Halla): a final stop before a nasal is
# nasalised, and ㄴ and ㄹ next to each other merge. Applied to every code, so the written and the heard forms meet.
# Only finals are followed by a consonant class in a code, so the patterns cannot touch an initial.
_ASSIMILATION = (
    (re.compile(r"k(?=[nm])"), "ng"),
    (re.compile(r"p(?=[nm])"), "m"),
    (re.compile(r"t(?=[nm])"), "n"),
    (re.compile(r"l(?=n)"), "n"),
)


def hangul_code(hangul: str) -> str:
    """The phonetic code of a Hangul string: classes of its letters, no syllable boundaries, assimilation undone."""
    code = "".join(syllable_class(s) for s in hangul)
    for pattern, replacement in _ASSIMILATION:
        code = pattern.sub(replacement, code)
    return code


_MAX_INITIAL = max(len(s) for s in INITIAL_SPELLINGS)
_MAX_VOWEL = max(len(s) for s in VOWEL_SPELLINGS)
_MAX_FINAL = max(len(s) for s in FINAL_SPELLINGS)


def _syllable_spans(part: str, start: int) -> Iterable[tuple[int, int, int, int, float]]:
    """Every (end, initial, vowel, final, cost) that reads one syllable of ``part`` from ``start``."""
    for i_len in range(_MAX_INITIAL + 1):
        initials = INITIAL_SPELLINGS.get(part[start : start + i_len] if i_len else "")
        if initials is None or (i_len and start + i_len > len(part)):
            continue
        v_start = start + i_len
        for v_len in range(1, _MAX_VOWEL + 1):
            vowels = VOWEL_SPELLINGS.get(part[v_start : v_start + v_len])
            if vowels is None or v_start + v_len > len(part):
                continue
            f_start = v_start + v_len
            for f_len in range(_MAX_FINAL + 1):
                finals = FINAL_SPELLINGS.get(part[f_start : f_start + f_len] if f_len else "")
                if finals is None or f_start + f_len > len(part):
                    continue
                for initial, ci in initials:
                    for vowel, cv in vowels:
                        for final, cf in finals:
                            yield f_start + f_len, initial, vowel, final, ci + cv + cf


@lru_cache(maxsize=4096)
def _segment(part: str, common: frozenset[str]) -> tuple[tuple[float, tuple[str, ...]], ...]:
    """Best readings of one boundary-free Latin part as Hangul syllables, cheapest first (at most ``BEAM``)."""
    if not part or len(part) > MAX_PART_LETTERS:
        return ()
    best: list[list[tuple[float, tuple[str, ...]]]] = [[] for _ in range(len(part) + 1)]
    best[0] = [(0.0, ())]
    for start in range(len(part)):
        if not best[start]:
            continue
        if part[start] == "'":  # a separating apostrophe: the syllable boundary is already here
            best[start + 1] = heapq.nsmallest(BEAM, best[start + 1] + best[start])
            continue
        for end, initial, vowel, final, cost in _syllable_spans(part, start):
            syllable = compose(initial, vowel, final)
            extra = cost + SYLLABLE_COST + (0.0 if syllable in common else UNCOMMON_SYLLABLE_COST)
            best[end].extend((c + extra, seq + (syllable,)) for c, seq in best[start])
        for end in range(start + 1, len(part) + 1):
            if len(best[end]) > BEAM:
                best[end] = heapq.nsmallest(BEAM, best[end])
    return tuple(sorted(set(best[len(part)])))


def latin_parts(text: str) -> list[str]:
    """Split a normalised Latin name part on hyphens and spaces (hard syllable boundaries)."""
    return [p for p in re.split(r"[\s\-]+", text) if p.strip("'")]


def hangul_readings(text: str, common: frozenset[str], limit: int) -> list[tuple[float, str]]:
    """Best Hangul readings of a romanized given name (or any word), as (cost, hangul), cheapest first."""
    readings: list[tuple[float, str]] = [(0.0, "")]
    for part in latin_parts(normalise_latin(text)):
        segmented = _segment(part.strip("'"), common)
        if not segmented:
            return []
        combined = [(c1 + c2, h + "".join(seq)) for c1, h in readings for c2, seq in segmented]
        readings = heapq.nsmallest(BEAM, combined)
    seen: dict[str, float] = {}
    for cost, hangul in readings:
        if hangul and hangul not in seen:
            seen[hangul] = cost
    return sorted(((c, h) for h, c in seen.items()))[:limit]
