"""Hangul syllables, the initial-sound law, and romanization in three systems, written from the published rules.

Systems (no third-party romanizer is used; korean-romanizer is GPL and is deliberately not a dependency):

- ``"rr"``: South Korean Revised Romanization (2000). Names: RR article 3.4 says sound changes inside a given name
  are *not* written (한복남 Han Boknam), so every syllable is romanized on its own; the only change kept is the
  spelling rule ㄹㄹ → ``ll``.
- ``"mr"``: McCune-Reischauer as libraries use it (ALA-LC), with breves (ŏ, ŭ) and apostrophes for aspirates
  (ch', k', t', p'). Inside a word ㄱ ㄷ ㅂ ㅈ are voiced (g d b j) after a vowel or ㄴ ㅁ ㅇ ㄹ (ㄷ ㅈ stay
  voiceless after ㄹ), an initial ㄹ after ㅁ ㅇ is read ``n``, ㄴ+ㄹ and ㄹ+ㄹ are ``ll``, and ㄴ before a voiced ㄱ
  takes the apostrophe (``n'g``) that tells it from ``ng``, and a final ㄱ ㄷ ㅂ ㄹ before a vowel is written as it
  then sounds (국영 Kugyŏng, 별아 Pyŏra). No other assimilation (final ㄱ ㅂ before ㄴ ㅁ, ㄴ insertion): library
  catalogues mostly leave it out of names. Measured on the digitalprk catalogue, voicing inside the
  given name is the majority practice (279 of 321 names where it could apply), so it is applied.
- ``"nk"``: the North Korean system of 1992 (revised 2012), as official North Korean spellings show it: ㅓ ``ŏ``,
  ㅡ ``ŭ`` (usually typed o, u), ㅈ ``j``, aspirates ``ch kh th ph``, voicing inside a word as in MR, no
  apostrophes; given-name syllables are written apart but keep their voicing (Pak Tong Gu).

``ascii=True`` folds the breves away (ŏ → o, ŭ → u), which is how MR and North Korean spellings are usually typed.
"""

from __future__ import annotations

from typing import Literal

System = Literal["rr", "mr", "nk"]
SYSTEMS: tuple[System, ...] = ("rr", "mr", "nk")

FIRST, LAST = 0xAC00, 0xD7A3
INITIALS = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
VOWELS = "ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ"
FINALS = ("", *"ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ")

# Indices used by the rules below.
L_G, L_N, L_D, L_R, L_B, L_S, L_NULL, L_J = 0, 2, 3, 5, 7, 9, 11, 12
T_L = 8

# The sound each final is pronounced as at the end of a syllable (RR article 1.2, MR and NK alike).
FINAL_SOUND = ("", "k", "k", "k", "n", "n", "n", "t", "l", "k", "m", "l", "l", "l", "p", "l", "m", "p", "p", "t", "t",
               "ng", "t", "t", "k", "t", "p", "t")  # fmt: skip
VOICED_FINALS = {"", "n", "l", "m", "ng"}

RR_INITIALS = ("g", "kk", "n", "d", "tt", "r", "m", "b", "pp", "s", "ss", "", "j", "jj", "ch", "k", "t", "p", "h")
RR_VOWELS = ("a", "ae", "ya", "yae", "eo", "e", "yeo", "ye", "o", "wa", "wae", "oe", "yo", "u", "wo", "we", "wi",
             "yu", "eu", "ui", "i")  # fmt: skip
MR_INITIALS = ("k", "kk", "n", "t", "tt", "r", "m", "p", "pp", "s", "ss", "", "ch", "tch", "ch'", "k'", "t'", "p'", "h")
NK_INITIALS = ("k", "kk", "n", "t", "tt", "r", "m", "p", "pp", "s", "ss", "", "j", "jj", "ch", "kh", "th", "ph", "h")
MR_VOWELS = ("a", "ae", "ya", "yae", "ŏ", "e", "yŏ", "ye", "o", "wa", "wae", "oe", "yo", "u", "wŏ", "we", "wi", "yu",
             "ŭ", "ŭi", "i")  # fmt: skip
VOICED = {L_G: "g", L_D: "d", L_B: "b", L_J: "j"}
# MR and NK write a final before a vowel as it then sounds: 국영 Kugyŏng, 갑용 Kabyong, 별아 Pyŏra.
LIAISON = {"ㄱ": "g", "ㄷ": "d", "ㅂ": "b", "ㄹ": "r"}

# Vowels before which the initial-sound law drops ㄹ and ㄴ (ㅣ and the y-diphthongs).
Y_VOWELS = frozenset({2, 3, 6, 7, 12, 17, 20})


def is_hangul_syllable(char: str) -> bool:
    return len(char) == 1 and FIRST <= ord(char) <= LAST


def decompose(char: str) -> tuple[int, int, int]:
    """(initial, vowel, final) indices of one precomposed Hangul syllable."""
    code = ord(char) - FIRST
    return code // 588, (code % 588) // 28, code % 28


def compose(initial: int, vowel: int, final: int = 0) -> str:
    return chr(FIRST + (initial * 21 + vowel) * 28 + final)


def initial_sound_law(syllable: str) -> str:
    """The South Korean initial-sound law (두음법칙) on the first syllable of a name part.

    North Korea writes the original sounds (리, 림, 류, 로, 련); the South drops an initial ㄹ or ㄴ before ㅣ and the
    y-vowels (리 → 이, 녀 → 여) and reads any other initial ㄹ as ㄴ (로 → 노, 라 → 나). Keys use the Southern
    form so both spellings of a name meet.
    """
    if not is_hangul_syllable(syllable):
        return syllable
    initial, vowel, final = decompose(syllable)
    if initial == L_R:
        return compose(L_NULL if vowel in Y_VOWELS else L_N, vowel, final)
    if initial == L_N and vowel in Y_VOWELS:
        return compose(L_NULL, vowel, final)
    return syllable


def fold_breves(text: str) -> str:
    return text.replace("ŏ", "o").replace("ŭ", "u").replace("Ŏ", "O").replace("Ŭ", "U")


def _initial(system: System, initial: int, vowel: int, previous_final: int | None) -> str:
    """The spelling of one initial consonant; ``previous_final`` is None at the start of a word."""
    if system == "rr":
        if initial == L_R and previous_final is not None and FINAL_SOUND[previous_final] == "l":
            return "l"
        return RR_INITIALS[initial]
    table = MR_INITIALS if system == "mr" else NK_INITIALS
    if previous_final is None:
        if system == "mr" and initial == L_S and vowel == 16:  # ㅅ before ㅟ: shwi
            return "sh"
        return table[initial]
    before = FINAL_SOUND[previous_final]
    if initial == L_R:
        if before == "l":
            return "l"
        return "n" if before in {"m", "ng"} else "r"
    if initial in VOICED and before in VOICED_FINALS:
        if before == "l" and initial in {L_D, L_J}:
            return table[initial]
        spelled = VOICED[initial]
        return ("'" + spelled) if system == "mr" and before == "n" and spelled == "g" else spelled
    return table[initial]


def syllables_romanized(word: str, system: System = "rr") -> list[str]:
    """The romanization of each syllable of one Hangul word, with the word-internal rules applied (MR and NK
    voicing, ㄹ after a final): joined they make the word, and apart they make a North Korean split given name."""
    vowels = RR_VOWELS if system == "rr" else MR_VOWELS
    out: list[str] = []
    previous: int | None = None
    for char in word:
        if not is_hangul_syllable(char):
            out.append(char)
            previous = None
            continue
        initial, vowel, final = decompose(char)
        if system != "rr" and previous is not None:
            if initial == L_R and FINAL_SOUND[previous] == "n":
                out[-1] = out[-1][:-1] + "l"  # ㄴ before ㄹ is read ㄹ: 신라 Silla, 한라 Halla
                previous = T_L
            elif initial == L_NULL and FINALS[previous] in LIAISON:
                out[-1] = out[-1][: -len(FINAL_SOUND[previous])] + LIAISON[FINALS[previous]]  # 국영 Kugyŏng
        out.append(_initial(system, initial, vowel, previous) + vowels[vowel] + FINAL_SOUND[final])
        previous = final
    return out


def romanize_word(word: str, system: System = "rr", *, ascii: bool = False) -> str:
    """Romanize one word of Hangul (a surname, a given name); characters that are not Hangul pass through."""
    text = "".join(syllables_romanized(word, system))
    return fold_breves(text) if ascii else text


def romanize(hangul: str, system: System = "rr", *, ascii: bool = False) -> str:
    """Romanize Hangul text word by word (words are separated by spaces), lower case, in ``system``.

    For a person's name with its conventions (customary surnames, capitals, the given name joined, hyphenated or
    split) use :func:`waystation.linkage.names.romanize_name`.
    """
    if system not in SYSTEMS:
        raise ValueError(f"unknown romanization system {system!r}; expected one of {', '.join(SYSTEMS)}")
    return " ".join(romanize_word(word, system, ascii=ascii) for word in hangul.split(" "))
