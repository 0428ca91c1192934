"""Which column of a station's spreadsheet holds which field of a person: header recognition and the ``Mapping``.

Headers are recognised in English, Korean and (where obvious) Chinese after normalisation (NFKC, case folded,
spaces and punctuation removed), then once more without a bracketed part (``출생년도 (YYYY)`` is ``출생년도``).

The importable fields are the keyword arguments of ``person_register`` plus four that are not fields of the person:

* ``name``: a column holding "the name" in whatever script. Each row's cell is split by script (see
  ``values.split_name``): Hangul words go to ``name_hangul``, Latin ones to ``name_romanized``, Chinese characters to
  ``name_chinese``. Decided per row, because one register often mixes them.
* ``age``: an age column (나이); it gives ``birth_year`` relative to the import's date.
* ``station``: the code name of the station the person is registered at.
* ``external_id``: the file's own id for the row (번호, ID), which makes a re-import recognisable.

A ``Mapping`` is column index -> field. It is made automatically (``Mapping.auto``), changed by the user
(``with_fields``), stored as JSON by the caller (``to_json`` / ``from_json``), carried to next month's file whose
columns may have moved (``reapply``), and checked (``problems``) before any row is read.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field

from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from waystation.interop.spreadsheet import Table, column_letter, with_header_at

FIELD_LABELS: dict[str, Promise] = {
    "external_id": gettext_lazy("Id in the file"),
    "name": gettext_lazy("Name (any script)"),
    "name_hangul": gettext_lazy("name in Hangul"),
    "name_romanized": gettext_lazy("romanized name"),
    "name_chinese": gettext_lazy("Chinese name"),
    "aliases": gettext_lazy("aliases"),
    "sex": gettext_lazy("sex"),
    "birth_year": gettext_lazy("birth year"),
    "age": gettext_lazy("Age"),
    "date_of_birth": gettext_lazy("exact date of birth"),
    "origin_province": gettext_lazy("province of origin"),
    "left_nk_month": gettext_lazy("month left North Korea"),
    "first_contact_month": gettext_lazy("month of first contact"),
    "languages": gettext_lazy("languages"),
    "contacts": gettext_lazy("contacts"),
    "narrative": gettext_lazy("narrative"),
    "station": gettext_lazy("station"),
}
FIELDS = tuple(FIELD_LABELS)

HEADER_NAMES: dict[str, tuple[str, ...]] = {
    "external_id": (
        "id", "외부 ID", "외부아이디", "번호", "no", "no.", "일련번호", "관리번호", "사례번호", "record id", "case id",
        "external id", "ref", "reference", "编号", "序号",
    ),
    "name": ("이름", "성명", "성함", "name", "full name", "姓名", "名字"),
    "name_hangul": (
        "한글 이름", "한글이름", "이름(한글)", "성명(한글)", "한글 성명", "한글명", "korean name", "name (korean)",
        "name in hangul", "hangul name", "name (hangul)", "韩文名", "韩文姓名",
    ),
    "name_romanized": (
        "영문 이름", "영문이름", "영문 성명", "영문명", "이름(영문)", "성명(영문)", "로마자 이름", "english name",
        "romanized name", "name (english)", "name (romanized)", "latin name", "英文名", "英文姓名",
    ),
    "name_chinese": (
        "중국 이름", "중국이름", "중국어 이름", "중국명", "한자 이름", "한자이름", "한자명", "이름(한자)", "성명(한자)",
        "chinese name", "name (chinese)", "中文名", "中文姓名", "中国名字", "汉字名",
    ),
    "aliases": (
        "가명", "별명", "다른 이름", "이명", "alias", "aliases", "aka", "also known as", "other names", "别名", "化名",
    ),
    "sex": ("성별", "sex", "gender", "남/여", "남녀", "性别"),
    "birth_year": (
        "출생년도", "출생연도", "출생년", "생년", "태어난 해", "birth year", "year of birth", "yob", "born", "出生年份",
        "出生年",
    ),
    "age": ("나이", "연령", "만나이", "만 나이", "age", "年龄"),
    "date_of_birth": ("생년월일", "생일", "date of birth", "dob", "birth date", "birthdate", "birthday", "出生日期"),
    "origin_province": (
        "출신지", "출신 지역", "출신지역", "출신", "출신도", "고향", "province", "origin", "province of origin",
        "home province", "hometown", "籍贯", "出身地", "家乡", "老家",
    ),
    "left_nk_month": (
        "탈북년도", "탈북연도", "탈북 시기", "탈북시기", "탈북일", "탈북 일자", "탈북일자", "탈북년월", "탈북 연월",
        "탈북", "left nk", "left north korea", "month left north korea", "date left nk", "year left nk",
        "离开朝鲜时间", "脱北时间",
    ),
    "first_contact_month": (
        "첫 접촉", "첫접촉", "첫 접촉일", "최초 접촉", "최초접촉", "최초 접촉일", "접촉일", "첫 연락", "first contact",
        "first contact date", "date of first contact", "month of first contact", "contact date", "首次接触",
        "初次接触",
    ),
    "languages": ("언어", "사용 언어", "사용언어", "language", "languages", "spoken languages", "语言"),
    "contacts": ("연락처", "전화", "전화번호", "연락", "contact", "contacts", "phone", "telephone", "联系方式", "电话"),
    "narrative": (
        "메모", "비고", "특이사항", "참고", "사연", "notes", "note", "remarks", "comments", "memo", "narrative",
        "备注", "说明",
    ),
    "station": ("거점", "거점명", "쉼터", "station", "station code", "safe house", "据点"),
}  # fmt: skip


def normalise_header(text: str) -> str:
    """A header reduced for comparison: NFKC, case folded, without spaces and punctuation."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if ch.isalnum())


FIELD_BY_HEADER = {normalise_header(name): f for f, names in HEADER_NAMES.items() for name in names}
_BRACKETED = re.compile(r"[(\[（【].*?[)\]）】]")
_ALTERNATIVES = re.compile(r"[/|·,、]")


def guess_field(header: str) -> str | None:
    """The field a header names, or None when it is not recognised. Tried in turn: the whole header, the header
    without its bracketed part, and the parts of a header like ``가명/별명`` when they all name the same field."""
    text = unicodedata.normalize("NFKC", header)
    found = FIELD_BY_HEADER.get(normalise_header(text)) or FIELD_BY_HEADER.get(
        normalise_header(_BRACKETED.sub("", text))
    )
    if found is None:
        parts = {FIELD_BY_HEADER.get(normalise_header(part)) for part in _ALTERNATIVES.split(text) if part.strip()}
        found = parts.pop() if len(parts) == 1 else None
    return found


def locate_header(table: Table, *, look_at: int = 10) -> Table:
    """The table re-headed at its real header row when a title or a note sits above it ("2026년 명부"): the first
    of the first rows holding at least two recognised headers. Unchanged when no row does."""
    candidates = [(table.header_row, table.header), *((row.number, row.cells) for row in table.rows[:look_at])]
    for number, cells in candidates:
        if sum(guess_field(cell) is not None for cell in cells) >= 2:
            return with_header_at(table, number)
    return table


class MappingError(Exception):
    """The mapping cannot be used. ``problems`` are translated messages, one per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _letter(index: int) -> str:
    """Excel's name of a column (0 -> "A"); a number for an index Excel has no letters for (a damaged mapping)."""
    return column_letter(index + 1) if 0 <= index < 18_278 else str(index + 1)


def column_title(header: tuple[str, ...], index: int) -> str:
    """A column as a message names it: ``"성별" (C)``."""
    title = header[index].strip() if index < len(header) else ""
    letter = _letter(index)
    return f"“{title}” ({letter})" if title else _("column %(letter)s") % {"letter": letter}


@dataclass(frozen=True)
class Mapping:
    """Column index (0 = column A) -> field name. ``headers`` remembers each mapped column's header for ``reapply``."""

    columns: dict[int, str]
    headers: dict[int, str] = field(default_factory=dict)

    @classmethod
    def auto(cls, header: tuple[str, ...]) -> Mapping:
        """The recognised headers. When two columns name the same field only the first is mapped (the other is
        left for the user), so that an automatic mapping never starts with an error."""
        columns: dict[int, str] = {}
        for index, title in enumerate(header):
            guess = guess_field(title)
            if guess is not None and guess not in columns.values():
                columns[index] = guess
        return cls(columns, {i: header[i] for i in columns})

    def with_fields(self, changes: dict[int, str | None], header: tuple[str, ...] = ()) -> Mapping:
        """This mapping with the user's changes: column -> field, or None to leave a column out."""
        columns = dict(self.columns)
        for index, chosen in changes.items():
            columns.pop(index, None)
            if chosen:
                columns[index] = chosen
        headers = {i: header[i] if i < len(header) else self.headers.get(i, "") for i in columns}
        return Mapping(columns, headers)

    def field_columns(self) -> dict[str, int]:
        return {name: index for index, name in self.columns.items()}

    def problems(self, header: tuple[str, ...]) -> list[str]:
        """What makes this mapping unusable for a file with ``header``: unknown fields, columns outside the file,
        a field mapped twice (naming both columns)."""
        found: list[str] = []
        seen: dict[str, int] = {}
        for index, name in sorted(self.columns.items()):
            if name not in FIELD_LABELS:
                found.append(_("Unknown field: %(field)s.") % {"field": name})
            elif not 0 <= index < max(len(header), 1):
                found.append(_("Column %(letter)s is not in the file.") % {"letter": _letter(index)})
            elif name in seen:
                found.append(
                    _("Columns %(first)s and %(second)s are both mapped to %(field)s: choose one.")
                    % {
                        "first": column_title(header, seen[name]),
                        "second": column_title(header, index),
                        "field": FIELD_LABELS[name],
                    }
                )
            else:
                seen[name] = index
        return found

    def check(self, header: tuple[str, ...]) -> None:
        """Raise ``MappingError`` when ``problems`` finds any."""
        found = self.problems(header)
        if found:
            raise MappingError(found)

    def unmapped(self, header: tuple[str, ...]) -> list[int]:
        """Columns of the file that no field takes (their cells are ignored, and reported as such)."""
        return [i for i, title in enumerate(header) if i not in self.columns and title.strip()]

    def to_json(self) -> str:
        entries = [
            {"column": i, "header": self.headers.get(i, ""), "field": f} for i, f in sorted(self.columns.items())
        ]
        return json.dumps({"version": 1, "columns": entries}, ensure_ascii=False)

    def for_storage(self) -> Mapping:
        """This mapping as it may be stored (a saved mapping, an import's record). A header row in which no title is
        one we recognise may be no header at all but a file's first person (her name, her phone number): then no
        header text is kept, only which column holds which field, so that nothing of hers reaches the database in
        clear. A row with at least one recognised title is a title row: its titles are kept, so that a saved mapping
        can follow columns that moved."""
        if not any(guess_field(title) is not None for title in self.headers.values()):
            return Mapping(dict(self.columns), {})
        return Mapping(dict(self.columns), dict(self.headers))

    @classmethod
    def from_json(cls, text: str) -> Mapping:
        """A stored mapping. Malformed JSON is a ``MappingError`` (the fields themselves are checked by ``check``)."""
        try:
            data = json.loads(text)
            entries = data["columns"]
            columns = {int(e["column"]): str(e["field"]) for e in entries}
            headers = {int(e["column"]): str(e.get("header", "")) for e in entries}
        except (ValueError, TypeError, KeyError) as exc:
            raise MappingError([_("This saved column mapping is damaged: map the columns again.")]) from exc
        return cls(columns, headers)

    def reapply(self, header: tuple[str, ...]) -> tuple[Mapping, list[str]]:
        """This (saved) mapping for a file with ``header``: each field goes to the column whose header matches the
        saved one (columns may have moved), or stays at its index when the header there is the same; other columns
        are recognised automatically. Also returns the saved headers not found in the file."""
        by_header: dict[str, int] = {}
        for index, title in enumerate(header):
            by_header.setdefault(normalise_header(title), index)
        columns: dict[int, str] = {}
        missing: list[str] = []
        for index, name in sorted(self.columns.items()):
            saved = normalise_header(self.headers.get(index, ""))
            target = by_header.get(saved) if saved else (index if index < len(header) else None)
            if target is None or target in columns:
                missing.append(self.headers.get(index, "") or _letter(index))
            else:
                columns[target] = name
        for index, guess in Mapping.auto(header).columns.items():
            if index not in columns and guess not in columns.values():
                columns[index] = guess
        return Mapping(columns, {i: header[i] for i in columns}), missing
