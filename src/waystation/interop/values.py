"""Parsing one cell of a station's spreadsheet into the value a person's field holds.

Every parser takes the cell's text and returns the field's value, or raises ``ValueProblem`` whose message (in the
user's language) says what was expected. A blank cell, or one holding only a "not known" mark (``-``, ``?``,
``모름``, ``미상``...), gives the field's default: ``None``, ``""``, ``"unknown"`` or, for sex, ``"U"``.

Decisions, and why:

* Months are read in the forms people write: ``2018-03``, ``2018.3``, ``2018.03.``, ``2018/3``, ``2018년 3월``,
  ``2018年3月``, ``03/2018``, ``March 2018``; a full date (``2018-03-15``, an Excel date cell) gives its month. A
  date written ``03/04/2018`` is refused when both day-first and month-first readings are possible.
* A year alone (``2018``) is accepted only where ``year_only`` says so: for the month a person left North Korea
  people often remember only the year ("탈북년도" columns hold years), so it is read as January of that year and
  the row carries a warning saying so. For the month of first contact the station recorded the contact itself, and
  a made-up January would distort the figures of new contacts: a year alone is refused there.
* Birth years have four digits. ``85`` is refused in a birth-year column: it could be an age as well as a year,
  and the century would be a guess. An age is read where it is marked as one (``34세``, ``34살``, ``age 34``) or in
  an age column, relative to the reference date passed in (the import's date): born ``today.year - age``, which
  can be one year late; matching tolerates ±1. ``85년생`` is a year (the latest year ending in 85 not in the future).
* Cells are trimmed and put in NFC (names typed on a Mac arrive decomposed); codes are read after NFKC, so that
  full-width digits and letters (``２０１８``) are read as the ordinary ones.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from waystation.cases.choices import Language, Province, Sex
from waystation.lib.months import EARLIEST_YEAR

MAX_AGE = 110
# Marks that mean "not known". Not "na": Na (나) is a Korean surname.
BLANK_MARKS = frozenset(
    {"-", "–", "—", "?", "??", "n/a", "none", "unknown", "모름", "미상", "불명", "없음", "不明", "未知", "无"}
)


class ValueProblem(ValueError):
    """A cell's value is not what its field expects. ``message`` is translated and says what was expected."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def clean(text: str) -> str:
    """The cell trimmed and in NFC; ``""`` for a blank cell or a "not known" mark."""
    text = unicodedata.normalize("NFC", text).strip()
    return "" if text.casefold() in BLANK_MARKS else text


def code_key(text: str) -> str:
    """A cell reduced for looking codes up: NFKC, case folded, without spaces and punctuation."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if ch.isalnum())


# --- months and years ------------------------------------------------------------------------------------------

_MONTH_NAMES = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
_SEP = r"\s*[-./]\s*"
# Year first: 2018-03, 2018.3, 2018.03., 2018/3, 2018년 3월, 2018年3月, 2018-03-15, 2018년 3월 15일.
_YEAR_FIRST = re.compile(
    rf"(?P<y>\d{{4}})(?:{_SEP}|\s*[년年]\s*)(?P<m>\d{{1,2}})\s*[월月]?"
    rf"(?:(?:{_SEP}|\s+)(?P<d>\d{{1,2}})\s*[일日]?)?\s*[.]?(?:[ T]\d{{1,2}}:\d{{2}}(?::\d{{2}})?)?"
)
# Month or day first: 03/2018, 3-2018, 15/03/2018 (day and month told apart only when one is over 12).
_YEAR_LAST = re.compile(rf"(?:(?P<a>\d{{1,2}}){_SEP})?(?P<b>\d{{1,2}}){_SEP}(?P<y>\d{{4}})")
_NAMED = re.compile(r"(?:(?P<m1>[a-z]+)\.?,?\s*(?P<y1>\d{4}))|(?:(?P<y2>\d{4})\s+(?P<m2>[a-z]+)\.?)")
_YEAR_ONLY = re.compile(r"(?P<y>\d{4})\s*[년年]?(?:도)?")


def _month_range_problem(today: dt.date) -> ValueProblem:
    return ValueProblem(
        _("Expected a month between %(first)s and %(last)s, like 2018-03.")
        % {"first": f"{EARLIEST_YEAR}-01", "last": today.strftime("%Y-%m")}
    )


def parse_month(text: str, *, today: dt.date, year_only: bool = False) -> tuple[dt.date | None, bool]:
    """The month (its first day) written in ``text``, and whether only a year was given (then it is January).

    ``year_only`` allows a year alone; otherwise it is refused. Months before 1900 or after ``today`` are refused.
    """
    text = clean(text)
    if not text:
        return None, False
    key = unicodedata.normalize("NFKC", text).casefold().strip()
    year, month, only_year = _split_month(key, year_only=year_only)
    if not 1 <= month <= 12 or year < EARLIEST_YEAR:
        raise _month_range_problem(today)
    value = dt.date(year, month, 1)
    if value > today.replace(day=1):
        raise _month_range_problem(today)
    return value, only_year


def _split_month(key: str, *, year_only: bool) -> tuple[int, int, bool]:
    if match := _YEAR_FIRST.fullmatch(key):
        return int(match["y"]), int(match["m"]), False
    if match := _YEAR_LAST.fullmatch(key):
        return int(match["y"]), _month_of_year_last(match["a"], match["b"]), False
    if match := _NAMED.fullmatch(key):
        name, year = (match["m1"], match["y1"]) if match["m1"] else (match["m2"], match["y2"])
        if name in _MONTH_NAMES:
            return int(year), _MONTH_NAMES[name], False
    if match := _YEAR_ONLY.fullmatch(key):
        if not year_only:
            raise ValueProblem(_("Expected a month, not only a year: write it like 2018-03."))
        return int(match["y"]), 1, True
    raise ValueProblem(_("Expected a month like 2018-03, 2018.3, 2018년 3월 or 03/2018."))


def _month_of_year_last(first: str | None, second: str) -> int:
    """The month of ``03/2018`` (``first`` None), or of ``15/03/2018`` (day first) and ``03/15/2018`` (month first)."""
    if first is None:
        return int(second)
    a, b = int(first), int(second)
    if a == b or (a <= 12 < b):
        return a  # 3/3/2018, 03/15/2018: March either way
    if b <= 12 < a:
        return b  # 15/03/2018
    if a > 12 and b > 12:
        return 13  # neither can be a month: refused with the expected range
    raise ValueProblem(_("This date can be read day first or month first: write it like 2018-03-15."))


_AGE_MARKED = re.compile(r"(?:(?:age|aged|만|나이)\s*)?(?P<n>\d{1,3})\s*(?:세|살|岁|歲|years?(?: old)?|yrs?)")
_AGE_PREFIXED = re.compile(r"(?:age|aged|만|나이)\s*(?P<n>\d{1,3})")
_YEAR = re.compile(r"(?P<y>\d{4})\s*(?:년생|년|年生|年)?(?:생)?")
_TWO_DIGIT_BORN = re.compile(r"(?P<y>\d{2})\s*(?:년생|年生)")
_FULL_DATE = re.compile(rf"(?P<y>\d{{4}}){_SEP}\d{{1,2}}{_SEP}\d{{1,2}}\.?")


def parse_birth_year(text: str, *, today: dt.date, bare_number_is_age: bool = False) -> int | None:
    """The birth year written in ``text``: a year, a date of birth, or an age relative to ``today``.

    A bare number of one to three digits is an age only where ``bare_number_is_age`` (an age column); in a
    birth-year column it is refused, since ``85`` may be either.
    """
    text = clean(text)
    if not text:
        return None
    key = unicodedata.normalize("NFKC", text).casefold().strip()
    if (match := _AGE_MARKED.fullmatch(key) or _AGE_PREFIXED.fullmatch(key)) or (
        bare_number_is_age and re.fullmatch(r"\d{1,3}", key)
    ):
        age = int(match["n"] if match else key)
        if age > MAX_AGE:
            raise ValueProblem(_("Expected an age between 0 and %(max)s.") % {"max": MAX_AGE})
        year = today.year - age
    elif match := _YEAR.fullmatch(key) or _FULL_DATE.fullmatch(key):
        year = int(match["y"])
    elif match := _TWO_DIGIT_BORN.fullmatch(key):
        year = _latest_year_ending(int(match["y"]), today)
    else:
        raise ValueProblem(_("Expected a birth year with four digits (1985) or an age (34세, age 34)."))
    if not EARLIEST_YEAR <= year <= today.year:
        raise ValueProblem(
            _("Expected a birth year between %(first)s and %(last)s.") % {"first": EARLIEST_YEAR, "last": today.year}
        )
    return year


def _latest_year_ending(two_digits: int, today: dt.date) -> int:
    year = today.year - today.year % 100 + two_digits
    return year if year <= today.year else year - 100


def parse_date_of_birth(text: str, *, today: dt.date) -> str:
    """An exact date of birth as ``YYYY-MM-DD`` (the form the person record keeps), or ``""``."""
    text = clean(text)
    if not text:
        return ""
    key = unicodedata.normalize("NFKC", text).casefold().strip()
    match = _YEAR_FIRST.fullmatch(key)
    if not match or not match["d"]:
        raise ValueProblem(_("Expected a date of birth like 1985-03-15."))
    try:
        born = dt.date(int(match["y"]), int(match["m"]), int(match["d"]))
    except ValueError as exc:
        raise ValueProblem(_("This date does not exist: expected a date of birth like 1985-03-15.")) from exc
    if born > today or born.year < EARLIEST_YEAR:
        raise ValueProblem(
            _("Expected a date of birth between %(first)s and %(last)s.")
            % {"first": f"{EARLIEST_YEAR}-01-01", "last": today.isoformat()}
        )
    return born.isoformat()


# --- coded values ----------------------------------------------------------------------------------------------

_SEX_WORDS = {
    Sex.FEMALE: ("f", "female", "woman", "w", "girl", "여", "여자", "여성", "녀", "女", "女性", "女子"),
    Sex.MALE: ("m", "male", "man", "boy", "남", "남자", "남성", "男", "男性", "男子"),
    Sex.UNKNOWN: ("u", "x", "other", "기타", "其他"),
}
SEX_BY_KEY = {code_key(word): code for code, words in _SEX_WORDS.items() for word in words}


def parse_sex(text: str) -> str:
    """A Sex code; blank is ``"U"`` (unknown / other)."""
    text = clean(text)
    if not text:
        return Sex.UNKNOWN.value
    code = SEX_BY_KEY.get(code_key(text))
    if code is None:
        raise ValueProblem(_("Expected F or M (여/남, female/male, 女/男), or blank when not known."))
    return code.value


# Names of each province: Korean (North and South spellings, abbreviations), Chinese, and the Latin forms of their
# stem in McCune-Reischauer, Revised Romanization and common English, combined below with "north"/"bukto"...
_PROVINCE_NAMES: dict[Province, tuple[tuple[str, ...], tuple[str, ...]]] = {
    Province.PYONGYANG: (("평양", "평양시", "평양직할시", "平壤", "平壤市"), ("pyongyang", "pyeongyang", "pjongjang")),
    Province.RASON: (("라선", "나선", "라선시", "나선시", "라진선봉", "罗先", "羅先"), ("rason", "raseon", "najin")),
    Province.NAMPHO: (("남포", "남포시", "南浦"), ("nampho", "nampo", "namp'o")),
    Province.KAESONG: (("개성", "개성시", "开城", "開城"), ("kaesong", "gaeseong", "kaesŏng")),
    Province.NORTH_HAMGYONG: (("함경북도", "함북", "咸镜北道", "咸鏡北道"), ()),
    Province.SOUTH_HAMGYONG: (("함경남도", "함남", "咸镜南道", "咸鏡南道"), ()),
    Province.RYANGGANG: (("양강도", "량강도", "양강", "량강", "两江道", "兩江道"), ("ryanggang", "yanggang")),
    Province.CHAGANG: (("자강도", "자강", "慈江道"), ("chagang", "jagang")),
    Province.NORTH_PYONGAN: (("평안북도", "평북", "平安北道"), ()),
    Province.SOUTH_PYONGAN: (("평안남도", "평남", "平安南道"), ()),
    Province.KANGWON: (("강원도", "강원", "江原道"), ("kangwon", "gangwon")),
    Province.NORTH_HWANGHAE: (("황해북도", "황북", "黄海北道", "黃海北道"), ()),
    Province.SOUTH_HWANGHAE: (("황해남도", "황남", "黄海南道", "黃海南道"), ()),
}
_STEMS = {
    "hamgyong": ("hamgyong", "hamgyeong", "hamkyong", "hamgyŏng", "hamkyŏng"),
    "pyongan": ("pyongan", "pyeongan", "phyongan", "pyŏngan", "p'yŏngan"),
    "hwanghae": ("hwanghae",),
}
_DIRECTIONS = {
    "north": (("north", "n"), ("bukto", "bukdo", "pukto", "pukdo", "bukt", "puk")),
    "south": (("south", "s"), ("namdo", "namto", "nam")),
}
_SUFFIXES = ("province", "provinces", "specialcity", "city", "do", "to", "si", "shi")


def _province_keys() -> dict[str, str]:
    keys: dict[str, str] = {}
    for province, (native, latin) in _PROVINCE_NAMES.items():
        for name in (*native, *latin, province.value):
            keys[code_key(name)] = province.value
    for stem, spellings in _STEMS.items():
        for direction, (before, after) in _DIRECTIONS.items():
            code = f"{direction}_{stem}"
            for spelling in spellings:
                s = code_key(spelling)
                keys.update({f"{word}{s}": code for word in before})
                keys.update({f"{s}{word}": code for word in (*before, *after)})
    return keys


PROVINCE_BY_KEY = _province_keys()


def parse_province(text: str) -> str:
    """A Province code, from a Korean, Chinese or English name or a romanization; blank is ``"unknown"``."""
    text = clean(text)
    if not text:
        return Province.UNKNOWN.value
    key = code_key(text)
    code = PROVINCE_BY_KEY.get(key)
    for suffix in _SUFFIXES:  # "North Hamgyong Province", "Kangwon-do", "Pyongyang City"
        if code is None and key.endswith(suffix):
            code = PROVINCE_BY_KEY.get(key.removesuffix(suffix))
    if code is None:
        raise ValueProblem(
            _("Expected a North Korean province, like 함경북도, 양강도 or North Hamgyong; blank when not known.")
        )
    return code


_LANGUAGE_WORDS = {
    Language.KOREAN: (
        "한국어",
        "조선어",
        "조선말",
        "한국말",
        "북한어",
        "korean",
        "kor",
        "朝鲜语",
        "朝鮮語",
        "韩语",
        "韓語",
    ),
    Language.CHINESE: (
        "중국어",
        "중국말",
        "한어",
        "chinese",
        "mandarin",
        "chi",
        "zho",
        "中文",
        "汉语",
        "漢語",
        "普通话",
    ),
    Language.ENGLISH: ("영어", "english", "eng", "英语", "英語"),
    Language.RUSSIAN: ("러시아어", "노어", "russian", "rus", "俄语", "俄語"),
    Language.LAO: ("라오어", "라오스어", "lao", "laotian", "老挝语"),
    Language.THAI: ("태국어", "타이어", "thai", "泰语", "泰語"),
    Language.VIETNAMESE: ("베트남어", "vietnamese", "vie", "越南语", "越南語"),
}
LANGUAGE_BY_KEY = {code_key(w): code.value for code, words in _LANGUAGE_WORDS.items() for w in (code.value, *words)}
_LIST_SEPARATORS = re.compile(r"[,;/|、，；·\n]+|\s+(?:and|및|과|와)\s+")


def parse_languages(text: str) -> list[str]:
    """Language codes, sorted and without repeats, from a list like ``한국어, 중국어`` or ``Korean/Chinese``."""
    text = clean(text)
    if not text:
        return []
    parts = [p for p in _LIST_SEPARATORS.split(text) if p.strip()]
    if len(parts) == 1 and " " in parts[0].strip():
        parts = parts[0].split()  # "Korean Chinese"
    codes, unknown = set(), []
    for part in parts:
        code = LANGUAGE_BY_KEY.get(code_key(part))
        if code is None:
            unknown.append(part.strip())
        else:
            codes.add(code)
    if unknown:
        raise ValueProblem(
            _("Unknown language: %(value)s. Expected languages like 한국어, 중국어, English, separated by commas.")
            % {"value": ", ".join(unknown)}
        )
    return sorted(codes)


# --- names and free text ---------------------------------------------------------------------------------------


_HAN_RANGES = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0xF900, 0xFAFF), (0x20000, 0x3134F))


def script_of(ch: str) -> str:
    """``"hangul"``, ``"han"``, ``"latin"``, or ``""`` (a digit, mark or punctuation) for one character."""
    point = ord(ch)
    if 0xAC00 <= point <= 0xD7A3 or 0x1100 <= point <= 0x11FF or 0x3130 <= point <= 0x318F:
        return "hangul"
    if (
        0x4E00 <= point <= 0x9FFF
        or 0x3400 <= point <= 0x4DBF
        or 0xF900 <= point <= 0xFAFF
        or 0x20000 <= point <= 0x3134F
    ):
        return "han"
    if ch.isalpha():
        return "latin" if point < 0x250 or 0x1E00 <= point <= 0x1EFF else "other"
    return ""


_NAME_MARKS = frozenset(" -'’.·‧")


def _check_name_characters(text: str) -> None:
    """Names hold letters and a few marks (Young-hee, Ch'ol, 李·金); digits, ``=``, ``@``... are refused, so that
    a formula or a phone number in a name column is reported instead of being registered as a name."""
    odd = next(
        (ch for ch in text if not (ch.isalpha() or ch in _NAME_MARKS or unicodedata.category(ch)[0] == "M")), None
    )
    if odd is not None:
        raise ValueProblem(
            _("A name holds letters only: “%(value)s” has “%(character)s”.") % {"value": text, "character": odd}
        )


_NAME_SPLIT = re.compile(r"[\s()（）\[\]/,;|、，；]+")
NAME_FIELD_BY_SCRIPT = {"hangul": "name_hangul", "latin": "name_romanized", "han": "name_chinese"}


def split_name(text: str) -> dict[str, str]:
    """The forms of a name found in one cell, by the script of each word.

    ``홍길동 (Hong Gil-dong)`` gives Hangul and romanized forms; ``洪吉童`` a Chinese name. A word mixing scripts,
    or written in another script, is refused: guessing would file the name under the wrong form.
    """
    text = " ".join(clean(text).split())
    found: dict[str, list[str]] = {}
    for word in _NAME_SPLIT.split(text):
        scripts = {script_of(ch) for ch in word} - {""}
        if not scripts:
            continue
        _check_name_characters(word)
        if len(scripts) > 1 or "other" in scripts:
            raise ValueProblem(
                _(
                    "Cannot tell which form of the name “%(value)s” is: expected Hangul, Latin letters or Chinese "
                    "characters, separated by spaces."
                )
                % {"value": word}
            )
        found.setdefault(NAME_FIELD_BY_SCRIPT[scripts.pop()], []).append(word)
    return {name_field: " ".join(words) for name_field, words in found.items()}


def name_in_script(script: str) -> Callable[[str], str]:
    """A parser for a column holding one form of the name (Hangul, romanized or Chinese)."""
    messages = {
        "hangul": gettext_noop("Expected the name in Hangul, like 홍길동."),
        "latin": gettext_noop("Expected the name in Latin letters, like Hong Gil-dong."),
        "han": gettext_noop("Expected the name in Chinese characters, like 洪吉童."),
    }

    def parse(text: str) -> str:
        text = " ".join(clean(text).split())
        _check_name_characters(text)
        scripts = {script_of(ch) for ch in text} - {""}
        if scripts and scripts != {script}:
            raise ValueProblem(_(messages[script]))
        return text

    return parse


def parse_aliases(text: str) -> str:
    """Other names, one per line (as the person record keeps them), from a list separated by commas or lines."""
    text = clean(text)
    names = [" ".join(part.split()) for part in re.split(r"[,;/|、，；\n]+", text)]
    return "\n".join(name for name in names if name)


def parse_text(text: str) -> str:
    """Free text (notes, contacts): trimmed, NFC, line breaks kept."""
    return clean(text)


def parse_identifier(text: str) -> str:
    """A row's id from the file: NFKC (full-width digits), trimmed; a "not known" mark is no id."""
    return " ".join(unicodedata.normalize("NFKC", clean(text)).split())
