"""Files a station really sends, made up: Korean headers, names in three scripts in one column, dates written
every way, a note with a line break. Every name is invented (가상 = "imaginary"; Gasang, 假想)."""

from __future__ import annotations

import random
from pathlib import Path

HEADER = ["번호", "성명", "성별", "출생년도", "출신지", "탈북 시기", "첫 접촉", "언어", "비고", "거점"]

MESSY_ROWS = [
    HEADER,
    ["A-001", "가상일 (Gasang Il)", "여", "1985", "함경북도", "2018.3", "2018년 5월", "한국어, 중국어", "", "ALDER"],
    ["A-002", "假想二", "女", "34세", "량강도", "2017/11", "03/2019", "조선어", "아이 둘;\n연락 끊김", "alder"],
    ["A-003", "Gasang Sam", "F", "", "Hamgyong-bukto", "2016", "2019-07-15", "", "-", "BIRCH"],
    ["A-004", "가상사", "남", "모름", "North Pyongan", "", "2020.01.", "Korean/Chinese", "", "ALDER"],
    ["A-005", "가상오 假想五", "여", "1990", "량강도", "2015년 2월", "2016-03", "ko", "", "ALDER"],
]


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


SURNAMES = ["가상", "허구", "모의"]
GIVEN = ["하나", "두리", "세나", "네온", "다섯", "여섯", "일곱", "여덟", "아홉", "열매"]
PROVINCES = ["함경북도", "량강도", "North Hamgyong", "평안남도", "자강도", ""]
MONTHS = ["2018.3", "2018년 3월", "03/2018", "2018-03", "2017", "", "2019/11"]


def many_rows(count: int, *, seed: int = 7, station: str = "ALDER") -> list[list[str]]:
    """``count`` clearly fictional rows (names made of 가상/허구/모의 + a number word), dates in mixed forms."""
    rng = random.Random(seed)
    rows = [HEADER]
    for i in range(count):
        name = f"{rng.choice(SURNAMES)}{rng.choice(GIVEN)}{rng.choice(GIVEN)}"
        rows.append(
            [
                f"R-{i:06d}",
                name,
                rng.choice(["여", "F", "남", "M"]),
                str(rng.randint(1960, 2005)),
                rng.choice(PROVINCES),
                rng.choice(MONTHS),
                "2020-0" + str(rng.randint(1, 9)),
                rng.choice(["한국어", "ko, zh", ""]),
                "",
                station,
            ]
        )
    return rows
