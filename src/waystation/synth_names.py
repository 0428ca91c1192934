"""Name parts and text templates for ``waystation synth``: common surnames and given-name syllables, combined at
random into fictional names. No list here holds a real person's name; famous full names are refused outright.

Romanized forms: most follow the usual South Korean spelling (Revised Romanization for given names, the customary
surname spelling: Lee, Park, Choi); some are McCune-Reischauer with breves, some North Korean style (Ri, Rim, Ryang,
syllables written apart). North Korean Hangul keeps an initial ㄹ (리, 림, 량, 로), so some Hangul names use it.
"""

from __future__ import annotations

import random
from typing import NamedTuple


class Surname(NamedTuple):
    hangul: str
    nk_hangul: str  # the North Korean spelling (initial ㄹ kept), the same for most
    usual: str  # customary South Korean spelling
    mr: str  # McCune-Reischauer
    nk: str  # North Korean romanization
    hanzi: str  # simplified, as used in China
    pinyin: str
    weight: float


SURNAMES = [
    Surname("김", "김", "Kim", "Kim", "Kim", "金", "Jin", 21.6),
    Surname("이", "리", "Lee", "Yi", "Ri", "李", "Li", 14.8),
    Surname("박", "박", "Park", "Pak", "Pak", "朴", "Piao", 8.5),
    Surname("최", "최", "Choi", "Ch'oe", "Choe", "崔", "Cui", 4.7),
    Surname("정", "정", "Jung", "Chŏng", "Jong", "郑", "Zheng", 4.4),
    Surname("강", "강", "Kang", "Kang", "Kang", "姜", "Jiang", 2.4),
    Surname("조", "조", "Cho", "Cho", "Jo", "赵", "Zhao", 2.1),
    Surname("윤", "윤", "Yoon", "Yun", "Yun", "尹", "Yin", 2.1),
    Surname("장", "장", "Jang", "Chang", "Jang", "张", "Zhang", 2.0),
    Surname("임", "림", "Lim", "Im", "Rim", "林", "Lin", 1.7),
    Surname("한", "한", "Han", "Han", "Han", "韩", "Han", 1.6),
    Surname("오", "오", "Oh", "O", "O", "吴", "Wu", 1.5),
    Surname("서", "서", "Seo", "Sŏ", "So", "徐", "Xu", 1.5),
    Surname("신", "신", "Shin", "Sin", "Sin", "申", "Shen", 1.5),
    Surname("권", "권", "Kwon", "Kwŏn", "Kwon", "权", "Quan", 1.4),
    Surname("황", "황", "Hwang", "Hwang", "Hwang", "黄", "Huang", 1.3),
    Surname("안", "안", "Ahn", "An", "An", "安", "An", 1.3),
    Surname("송", "송", "Song", "Song", "Song", "宋", "Song", 1.3),
    Surname("유", "류", "Yoo", "Yu", "Ryu", "柳", "Liu", 1.2),
    Surname("전", "전", "Jeon", "Chŏn", "Jon", "全", "Quan", 1.1),
    Surname("홍", "홍", "Hong", "Hong", "Hong", "洪", "Hong", 1.1),
    Surname("고", "고", "Ko", "Ko", "Ko", "高", "Gao", 0.9),
    Surname("문", "문", "Moon", "Mun", "Mun", "文", "Wen", 0.9),
    Surname("양", "량", "Yang", "Yang", "Ryang", "梁", "Liang", 0.9),
    Surname("손", "손", "Son", "Son", "Son", "孙", "Sun", 0.9),
    Surname("배", "배", "Bae", "Pae", "Pae", "裴", "Pei", 0.8),
    Surname("백", "백", "Baek", "Paek", "Paek", "白", "Bai", 0.8),
    Surname("허", "허", "Heo", "Hŏ", "Ho", "许", "Xu", 0.6),
    Surname("노", "로", "Noh", "No", "Ro", "卢", "Lu", 0.4),
    Surname("남", "남", "Nam", "Nam", "Nam", "南", "Nan", 0.5),
]
SURNAME_WEIGHTS = [s.weight for s in SURNAMES]


class Syllable(NamedTuple):
    hangul: str
    rr: str  # Revised Romanization
    mr: str  # McCune-Reischauer
    hanzi: str
    pinyin: str


def _syllables(rows: str) -> list[Syllable]:
    return [Syllable(*row.split()) for row in rows.strip().splitlines()]


FEMALE_SYLLABLES = _syllables("""
영 yeong yŏng 英 ying
미 mi mi 美 mei
숙 suk suk 淑 shu
희 hui hŭi 姬 ji
순 sun sun 顺 shun
옥 ok ok 玉 yu
정 jeong chŏng 贞 zhen
화 hwa hwa 花 hua
선 seon sŏn 善 shan
련 ryeon ryŏn 莲 lian
금 geum kŭm 锦 jin
향 hyang hyang 香 xiang
은 eun ŭn 银 yin
경 gyeong kyŏng 京 jing
명 myeong myŏng 明 ming
춘 chun ch'un 春 chun
애 ae ae 爱 ai
란 ran ran 兰 lan
주 ju chu 珠 zhu
혜 hye hye 惠 hui
진 jin chin 珍 zhen
복 bok pok 福 fu
""")
MALE_SYLLABLES = _syllables("""
철 cheol ch'ŏl 哲 zhe
남 nam nam 男 nan
성 seong sŏng 成 cheng
혁 hyeok hyŏk 赫 he
호 ho ho 浩 hao
수 su su 秀 xiu
일 il il 日 ri
광 gwang kwang 光 guang
국 guk kuk 国 guo
룡 ryong ryong 龙 long
학 hak hak 学 xue
준 jun chun 俊 jun
민 min min 民 min
용 yong yong 勇 yong
석 seok sŏk 石 shi
명 myeong myŏng 明 ming
영 yeong yŏng 英 ying
진 jin chin 珍 zhen
""")

# Children born in China mostly carry their father's Chinese family name and a Chinese given name.
CHINESE_SURNAMES = [("王", "Wang"), ("张", "Zhang"), ("刘", "Liu"), ("陈", "Chen"), ("杨", "Yang"), ("赵", "Zhao")]
CHINESE_SURNAMES += [("孙", "Sun"), ("周", "Zhou"), ("吴", "Wu"), ("马", "Ma"), ("于", "Yu"), ("郭", "Guo")]
CHINESE_GIVEN = [("伟", "Wei"), ("芳", "Fang"), ("娜", "Na"), ("敏", "Min"), ("静", "Jing"), ("丽", "Li")]
CHINESE_GIVEN += [("强", "Qiang"), ("磊", "Lei"), ("军", "Jun"), ("洋", "Yang"), ("杰", "Jie"), ("涛", "Tao")]
CHINESE_GIVEN += [("明", "Ming"), ("超", "Chao"), ("霞", "Xia"), ("平", "Ping"), ("欣", "Xin"), ("宇", "Yu")]

# Full names of public figures that random combination could produce: never generated.
REFUSED = {
    "김일성",
    "김정일",
    "김정은",
    "김여정",
    "김정숙",
    "김주애",
    "리설주",
    "이설주",
    "최룡해",
    "박정희",
    "박근혜",
    "김대중",
    "김영삼",
    "노무현",
    "이명박",
    "문재인",
    "윤석열",
    "이재명",
}


class Name(NamedTuple):
    hangul: str
    romanized: str
    chinese: str
    aliases: str


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def korean_name(rng: random.Random, *, female: bool, chinese_alias: bool) -> Name:
    """A fictional Korean name: a common surname and one or two given-name syllables, never a refused name."""
    pool = FEMALE_SYLLABLES if female else MALE_SYLLABLES
    while True:
        surname = rng.choices(SURNAMES, SURNAME_WEIGHTS)[0]
        given = rng.sample(pool, 1 if rng.random() < 0.06 else 2)
        north_hangul = rng.random() < 0.35
        hangul = (surname.nk_hangul if north_hangul else surname.hangul) + "".join(s.hangul for s in given)
        if hangul not in REFUSED and surname.hangul + hangul[1:] not in REFUSED:
            break
    style = rng.random()
    if style < 0.72:  # South Korean usage: "Kim Yeong-hui" or "Kim Yeonghui"
        joiner = "-" if rng.random() < 0.6 else ""
        romanized = f"{surname.usual} {_capital(joiner.join(s.rr for s in given))}"
    elif style < 0.86:  # McCune-Reischauer: "Kim Yŏng-hŭi"
        romanized = f"{surname.mr} {_capital('-'.join(s.mr for s in given))}"
    else:  # North Korean: "Ri Yong Hui"
        plain = [s.mr.replace("ŏ", "o").replace("ŭ", "u").replace("'", "") for s in given]
        romanized = f"{surname.nk} {' '.join(_capital(p) for p in plain)}"
    chinese = aliases = ""
    if chinese_alias:
        chinese = surname.hanzi + "".join(s.hanzi for s in given)
        if rng.random() < 0.5:
            aliases = f"{surname.pinyin} {_capital(''.join(s.pinyin for s in given))}"
    if rng.random() < 0.12:  # a second Korean given name, used in China or with brokers
        other = rng.sample(pool, 2)
        aliases = "\n".join(filter(None, [aliases, f"{surname.usual} {_capital('-'.join(s.rr for s in other))}"]))
    return Name(hangul, romanized, chinese, aliases)


def chinese_child_name(rng: random.Random) -> Name:
    """A child born in China: a Chinese name, romanized in pinyin."""
    family, family_pinyin = rng.choice(CHINESE_SURNAMES)
    given = rng.sample(CHINESE_GIVEN, rng.choice((1, 2)))
    chinese = family + "".join(h for h, _p in given)
    romanized = f"{family_pinyin} {_capital(''.join(p.lower() for _h, p in given))}"
    return Name("", romanized, chinese, "")


# --- text: every free text starts with [SYNTHETIC] -----------------------------------------------------------------

MARK = "[SYNTHETIC]"

NOTE_TEXTS = [
    "Check-in by phone; she reports no new concerns.",
    "Keeper reports she is sleeping better and eating well.",
    "Discussed the next stage of the route and what to expect.",
    "Asked about news of family in the North; none available.",
    "Medical follow-up arranged through the station keeper.",
    "Feels unsafe going outside; agreed to stay indoors for now.",
    "Practised the cover story for the next leg of the journey.",
    "Worried about the child's health; a clinic visit is planned.",
    "Received a small cash grant for clothing and phone credit.",
    "Contact through the partner station confirmed arrival.",
]
COUNSELLING_TEXTS = [
    "Session on sleep problems and flashbacks; breathing exercises practised.",
    "Talked about the years in China; she set the pace, no pressure to disclose.",
    "Grounding techniques reviewed; she asks for another session next week.",
    "Session on trust and safety in the new place; goals reviewed together.",
]
GOAL_TEXTS = {
    "medical": "See a doctor for the untreated injury and a general check-up.",
    "mental_health": "Weekly counselling until she feels able to stop.",
    "shelter": "A safe place to stay until the route is ready.",
    "documents_legal": "Prepare the papers needed at the processing stage.",
    "children": "Keep the child safe and in school on the way.",
    "livelihood": "Learn a skill for work after resettlement.",
    "safety": "A safety plan for leaving the current situation.",
}
TASK_TEXTS = {
    "medical": "Book the clinic visit.",
    "documents": "Collect the forms for the processing interview.",
    "counselling": "Schedule the next counselling session.",
    "contact": "Call to check she is safe.",
    "movement": "Confirm transport and escort for the next leg.",
    "other": "Follow up on the open question from the last visit.",
}


def synthetic(text: str) -> str:
    return f"{MARK} {text}"
