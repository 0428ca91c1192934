"""Synthetic households for ``waystation synth``: a woman or man who left North Korea (with, for some women, the
children born in China), their exploitation history, their journey along the route and the care they received.

Calibrated on what the field reports: most are women, most of the women were trafficked (forced marriage above all,
then brothels and venues, cybersex, forced labour), some sold more than once; most come from the border provinces.
A household's journey is drawn first (stations and days between events); its status decides where the journey
stops, and "today" is placed after the last event, so that every date lies in the past and every record agrees
with the movements. Nothing here touches the database: rows are collected for ``waystation.synth`` to insert.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import models

from waystation import synth_names as names
from waystation.accounts.models import User
from waystation.cases import htcds
from waystation.cases.choices import ENDED_STATUSES, CaseStatus, ConsentScope, Province, Relation, Sex
from waystation.cases.models import Assignment, Consent, ExploitationEpisode, FamilyLink, Partner, Person
from waystation.cases.models.person import CASE_CODE_ALPHABET
from waystation.lib.bulk import Rows
from waystation.network.models import Country, Movement, MovementStatus, Station, StationKind
from waystation.synth_care import care
from waystation.synth_route import Route, Staff

DAY = dt.timedelta(days=1)
S = CaseStatus
E = htcds.ExploitationType
P = htcds.PerpetratorRole
C = htcds.ControlMethod

STATUS_WEIGHTS = {
    S.CONTACTED: 4,
    S.SHELTERED: 17,
    S.IN_TRANSIT: 7,
    S.THIRD_COUNTRY: 8,
    S.ARRIVED_KR: 10,
    S.RESETTLED: 30,
    S.DETAINED: 5,
    S.REPATRIATED: 4,
    S.MISSING: 4,
    S.DECEASED: 1,
    S.CLOSED: 10,
}
# Statuses of people staying at their station (the rest are away: travelling, detained, resettled, gone).
PRESENT_STATUSES = {S.CONTACTED, S.SHELTERED, S.THIRD_COUNTRY, S.ARRIVED_KR}
ORIGIN_WEIGHTS = {
    Province.NORTH_HAMGYONG: 42,
    Province.RYANGGANG: 24,
    Province.SOUTH_HAMGYONG: 9,
    Province.NORTH_PYONGAN: 5,
    Province.CHAGANG: 4,
    Province.SOUTH_PYONGAN: 4,
    Province.PYONGYANG: 3,
    Province.KANGWON: 2,
    Province.NORTH_HWANGHAE: 1,
    Province.SOUTH_HWANGHAE: 1,
    Province.RASON: 1,
    Province.NAMPHO: 1,
    Province.KAESONG: 0.5,
    Province.UNKNOWN: 3,
}
FIRST_SALE = {
    E.FORCED_MARRIAGE: 60,
    E.VENUE_BASED_PROSTITUTION: 14,
    E.REMOTE_INTERACTIVE_SERVICES: 12,
    E.FORCED_LABOUR: 6,
    E.PROSTITUTION: 4,
    E.PRIVATE_SEXUAL_SERVICES: 4,
}
LATER_SALE = {
    E.FORCED_MARRIAGE: 45,
    E.VENUE_BASED_PROSTITUTION: 20,
    E.REMOTE_INTERACTIVE_SERVICES: 20,
    E.FORCED_LABOUR: 5,
    E.PROSTITUTION: 5,
}
TIMES_SOLD = {1: 60, 2: 28, 3: 9, 4: 3}
SEXUAL = {E.VENUE_BASED_PROSTITUTION, E.REMOTE_INTERACTIVE_SERVICES, E.PROSTITUTION, E.PRIVATE_SEXUAL_SERVICES}
SHORT_LABELS: dict[str, str] = {
    E.FORCED_MARRIAGE: "forced marriage",
    E.VENUE_BASED_PROSTITUTION: "a brothel",
    E.REMOTE_INTERACTIVE_SERVICES: "cybersex",
    E.PROSTITUTION: "prostitution",
    E.PRIVATE_SEXUAL_SERVICES: "private sexual services",
    E.FORCED_LABOUR: "forced labour",
}
# Per kind of exploitation: (perpetrator roles, control methods, provinces), each code with its chance or weight.
MARRIAGE, SEX_TRADE, LABOUR = "marriage", "sex", "labour"
ROLES = {
    MARRIAGE: {P.BROKER_TRAVEL_AGENT: 0.6, P.BOUGHT_INDIVIDUAL: 0.9, P.CONTROLLED_INDIVIDUAL: 0.6, P.ABUSER: 0.4},
    SEX_TRADE: {
        P.RECRUITER_OR_INTERMEDIARY: 0.6,
        P.HARBOURED_INDIVIDUAL: 0.5,
        P.CONTROLLED_INDIVIDUAL: 0.7,
        P.EXPLOITER: 0.9,
    },
    LABOUR: {P.RECRUITER_OR_INTERMEDIARY: 0.4, P.EXPLOITER: 0.9, P.CONTROLLED_INDIVIDUAL: 0.4},
}
CONTROLS = {
    MARRIAGE: {
        C.RESTRICTS_MOVEMENT: 0.8,
        C.THREATS_LAW_ENFORCEMENT: 0.7,
        C.PHYSICAL_ABUSE: 0.45,
        C.SEXUAL_ABUSE: 0.45,
        C.PSYCHOLOGICAL_ABUSE: 0.5,
        C.WITHHOLDS_DOCUMENTS: 0.25,
    },
    SEX_TRADE: {
        C.DEBT_BONDAGE: 0.55,
        C.TAKES_EARNINGS: 0.7,
        C.RESTRICTS_MOVEMENT: 0.8,
        C.THREATS_LAW_ENFORCEMENT: 0.6,
        C.PHYSICAL_THREATS: 0.45,
        C.FALSE_PROMISES: 0.5,
        C.WITHHOLDS_DOCUMENTS: 0.35,
        C.EXCESSIVE_WORKING_HOURS: 0.4,
        C.PSYCHOACTIVE_SUBSTANCE: 0.08,
    },
    LABOUR: {
        C.TAKES_EARNINGS: 0.6,
        C.EXCESSIVE_WORKING_HOURS: 0.7,
        C.THREATS_LAW_ENFORCEMENT: 0.6,
        C.FALSE_PROMISES: 0.4,
        C.RESTRICTS_FINANCIAL_ACCESS: 0.3,
    },
}
_CP = htcds.ChinaProvince
PROVINCES = {
    MARRIAGE: {_CP.JILIN: 20, _CP.HEILONGJIANG: 20, _CP.LIAONING: 15, _CP.SHANDONG: 15, _CP.HEBEI: 10, _CP.HENAN: 5},
    SEX_TRADE: {_CP.LIAONING: 40, _CP.JILIN: 35, _CP.SHANDONG: 10, _CP.BEIJING: 10, _CP.HEILONGJIANG: 5},
    LABOUR: {_CP.JILIN: 40, _CP.LIAONING: 30, _CP.HEILONGJIANG: 30},
}
_R, _T = htcds.RecruitmentMethod, htcds.TraffickerRelation
RECRUITMENT = {_R.OTHER: 45, _R.THROUGH_FRIENDS_OR_SOCIAL_EVENTS: 20, _R.THROUGH_FAMILY_OR_FAMILY_EVENTS: 10, "": 10}
RECRUITMENT |= {_R.AT_WORK: 8, _R.THROUGH_ONLINE_SOCIAL_NETWORKS: 7}
RELATION = {_T.STRANGER: 50, _T.ACQUAINTANCE: 22, _T.FRIEND: 8, _T.FAMILY_MEMBER: 5, _T.EMPLOYER: 5, "": 8}
RELATION |= {_T.INTIMATE_PARTNER: 2}
EPISODE_NOTES = {
    MARRIAGE: "Sold by a broker near the border to a farming family; kept indoors for years.",
    SEX_TRADE: "Held with other women above a venue in a city; earnings taken to repay a 'debt'.",
    LABOUR: "Worked long hours without pay; papers kept by the employer.",
}


def _pick(rng: random.Random, weights: Mapping[Any, float]) -> str:
    return str(rng.choices(list(weights), list(weights.values()))[0])


def _group(kind: str) -> str:
    return MARRIAGE if kind == E.FORCED_MARRIAGE else SEX_TRADE if kind in SEXUAL else LABOUR


def add_months(month: dt.date, months: int) -> dt.date:
    year, index = divmod(month.year * 12 + month.month - 1 + months, 12)
    return dt.date(year, index + 1, 1)


def months_between(a: dt.date, b: dt.date) -> int:
    return (b.year - a.year) * 12 + b.month - a.month


@dataclass
class World:
    """What every household draws on; ``rng`` is the only source of randomness."""

    rng: random.Random
    anchor: dt.datetime  # today at 00:00 UTC: every past event is placed before it
    route: Route
    staff: Staff
    partners: list[Partner]
    taken_codes: set[str]
    occupancy: Counter[int] = field(default_factory=Counter)

    def case_code(self) -> str:
        while True:
            raw = "".join(self.rng.choices(CASE_CODE_ALPHABET, k=8))
            code = f"{raw[:4]}-{raw[4:]}"
            if code not in self.taken_codes:
                self.taken_codes.add(code)
                return code


@dataclass
class Journey:
    """Days are counted from the intake (day 0); ``now`` is today, ``anchor`` today at 00:00."""

    anchor: dt.datetime
    path: list[Station]
    arrive: list[int]
    depart: list[int]
    reached: int  # index in ``path`` of the last station arrived at
    now: int
    care_end: int  # the last day in the network's care
    final: str = ""  # a last movement that did not arrive: planned, under_way, intercepted or failed
    final_end: int = 0
    closed: int | None = None

    def at(self, day: int, rng: random.Random) -> dt.datetime:
        return self.anchor - (self.now - day) * DAY + dt.timedelta(hours=rng.randint(7, 20), minutes=rng.randint(0, 59))

    def date(self, day: int) -> dt.date:
        return (self.anchor - (self.now - day) * DAY).date()

    def stop_on(self, day: int) -> int:
        """Index in ``path`` of the station reached last by ``day``."""
        return max(i for i in range(self.reached + 1) if self.arrive[i] <= day)

    def stay_end(self, index: int) -> int:
        """The last day at station ``index`` (a station reached), within the network's care."""
        left = index < self.reached or self.final in (MovementStatus.UNDER_WAY, MovementStatus.INTERCEPTED)
        left = left or self.final == MovementStatus.FAILED
        return min(self.depart[index], self.care_end) if left else self.care_end


def _dwell(rng: random.Random, station: Station, index: int) -> int:
    if station.kind == StationKind.SAFE_HOUSE:
        return int(rng.triangular(10, 500, 45)) if index == 0 else int(rng.triangular(5, 150, 20))
    if station.kind == StationKind.PROCESSING:
        return int(rng.triangular(20, 180, 50))
    return rng.randint(1, 8) if station.kind == StationKind.TRANSIT else rng.randint(3, 40)


def journey(w: World, status: str) -> Journey:
    rng, route = w.rng, w.route
    path = route.path(rng)
    arrive, depart = [0], []
    for i, station in enumerate(path[:-1]):
        depart.append(arrive[i] + _dwell(rng, station, i))
        arrive.append(depart[i] + max(2, route.leg_days[(station.pk, path[i + 1].pk)] + rng.randint(-1, 3)))
    last = len(path) - 1
    abroad = next(i for i, s in enumerate(path) if s.country != Country.CHINA)
    houses = sum(1 for s in path if s.kind == StationKind.SAFE_HOUSE)
    stay = lambda i: rng.randint(1, depart[i] - arrive[i])  # noqa: E731 - a day into the stay at station i
    usual = lambda i: route.leg_days[(path[i].pk, path[i + 1].pk)]  # noqa: E731
    final, final_end, closed = "", 0, None
    if status == S.CONTACTED:
        reached, now = 0, rng.randint(1, 75)
    elif status == S.SHELTERED:
        reached = rng.randrange(houses)
        now = arrive[reached] + stay(reached)
        final = MovementStatus.PLANNED if rng.random() < 0.2 else ""
    elif status == S.IN_TRANSIT:
        reached, final = rng.randrange(last), MovementStatus.UNDER_WAY
        overdue = rng.random() < 0.35
        now = depart[reached] + (usual(reached) + rng.randint(1, 25) if overdue else rng.randint(1, usual(reached) - 1))
    elif status == S.THIRD_COUNTRY:
        reached = rng.randrange(abroad, last)
        now = arrive[reached] + stay(reached)
    elif status in (S.ARRIVED_KR, S.RESETTLED):
        reached = last
        now = arrive[last] + (rng.randint(1, 180) if status == S.ARRIVED_KR else rng.randint(181, 2600))
    elif status in (S.DETAINED, S.REPATRIATED):
        reached = rng.randrange(abroad) if rng.random() < 0.7 else rng.randrange(abroad, last)
        final, final_end = MovementStatus.INTERCEPTED, depart[reached] + rng.randint(1, usual(reached))
        now = final_end + (rng.randint(1, 400) if status == S.DETAINED else rng.randint(20, 2000))
    elif status == S.MISSING and rng.random() < 0.7:  # lost on the way
        reached, final = rng.randrange(last), MovementStatus.FAILED
        final_end = depart[reached] + usual(reached) + rng.randint(1, 20)
        now = final_end + rng.randint(7, 700)
    elif status == S.MISSING:  # left the safe house one day and was not heard of again
        reached, final_end = 0, min(depart[0] - 1, rng.randint(5, 200))
        now = final_end + rng.randint(7, 400)
    elif status == S.DECEASED:
        reached = rng.randrange(last + 1)
        now = arrive[reached] + rng.randint(2, 500)
        final_end = rng.randint(arrive[reached] + 1, now - 1)
    else:  # closed: chose to stay in China, or the follow-up after resettlement ended
        reached = 0 if rng.random() < 0.6 else last
        now = arrive[reached] + (rng.randint(30, 1500) if reached == 0 else rng.randint(400, 2600))
        closed = final_end = rng.randint(arrive[reached] + 1, now - 1)
    care_end = final_end if status in (*ENDED_STATUSES, S.DETAINED, S.MISSING) and final_end else now - 1
    return Journey(w.anchor, path, arrive, depart, reached, now, care_end, final, final_end, closed)


def _movements(w: World, j: Journey) -> list[dict[str, object]]:
    """The household's movements (the same for each member): intake, the legs travelled, a last open or failed one.

    A movement is planned after the arrival where it starts (and, when it departed, before it departed)."""
    rng, keeper_of = w.rng, w.staff.keeper_of
    arrived = j.at(0, rng)
    moves: list[dict[str, object]] = [
        {"from_station": None, "to_station": j.path[0], "status": MovementStatus.ARRIVED, "planned_at": arrived}
        | {"arrived_at": arrived, "recorded_by": keeper_of[j.path[0].pk]}
    ]
    for i in range(j.reached + (1 if j.final and j.final != MovementStatus.PLANNED else 0)):
        a, b = j.path[i], j.path[i + 1]
        departed = j.at(j.depart[i], rng)
        planned = j.at(max(j.arrive[i], j.depart[i] - rng.randint(1, 10)), rng)
        move = {"from_station": a, "to_station": b, "status": MovementStatus.ARRIVED, "departed_at": departed}
        move["planned_at"] = min(departed, max(arrived, planned))
        move["expected_arrival"] = departed + w.route.leg_days[(a.pk, b.pk)] * DAY
        move["recorded_by"] = w.staff.coordinator if rng.random() < 0.5 else keeper_of[a.pk]
        if i < j.reached:
            move["arrived_at"] = arrived = j.at(j.arrive[i + 1], rng)
        else:
            move["status"] = j.final
            if j.final != MovementStatus.UNDER_WAY:
                move["ended_at"] = j.at(j.final_end, rng)
        moves.append(move)
    if j.final == MovementStatus.PLANNED:
        a, b = j.path[j.reached], j.path[j.reached + 1]
        planned = max(arrived, j.at(rng.randint(max(j.arrive[j.reached], j.now - 10), j.now - 1), rng))
        moves.append({"from_station": a, "to_station": b, "status": MovementStatus.PLANNED, "planned_at": planned})
        moves[-1]["recorded_by"] = w.staff.coordinator
    return moves


def _episodes(rng: random.Random, sex: str, left: dt.date, contact: dt.date) -> list[list[Any]]:
    """[kind, sold, start month, end month] of each exploitation episode between leaving and first contact."""
    kinds: list[tuple[str, bool]] = []
    if sex == Sex.MALE:
        kinds = [(E.FORCED_LABOUR, rng.random() < 0.3)] if rng.random() < 0.15 else []
    elif rng.random() < (0.93 if sex == Sex.FEMALE else 0.5):
        sold = rng.choices(list(TIMES_SOLD), list(TIMES_SOLD.values()))[0]
        kinds = [(_pick(rng, FIRST_SALE), True)] + [(_pick(rng, LATER_SALE), True) for _ in range(sold - 1)]
        if rng.random() < 0.05:
            kinds.append((E.FORCED_LABOUR, False))
    span = months_between(left, contact)
    first = add_months(left, min(span, rng.randint(0, 4)))
    rest = sorted(rng.randint(0, months_between(first, contact)) for _ in kinds[1:])
    starts = [first, *(add_months(first, m) for m in rest)]
    ends = [*starts[1:], max(starts[-1], add_months(contact, -rng.randint(0, 6)))] if kinds else []
    return [[kind, sold, start, end] for (kind, sold), start, end in zip(kinds, starts, ends, strict=False)]


def household(w: World, rows: Rows, index: int, room: int) -> int:
    """Generate one household (at most ``room`` persons) into ``rows``; return how many persons it has.

    The first households take each status in turn, so that even a small data set shows every stage and outcome.
    """
    rng = w.rng
    statuses = list(STATUS_WEIGHTS)
    status = statuses[index] if index < len(statuses) else _pick(rng, STATUS_WEIGHTS)
    j = journey(w, status)
    worker = w.staff.pick_caseworker(rng)
    adult, episodes = _adult(w, j, status)
    children = _children(w, rows, j, adult, episodes, worker, room - 1)
    for number, episode in enumerate(episodes):
        recorded = j.at(rng.randint(0, min(30, j.now - 1)), rng)  # told in the first weeks, if at all
        rows.add(_episode(rng, adult, episode, worker, first=number == 0), recorded, "recorded_at")
    members = [adult, *children]
    moves = _movements(w, j)
    for person in members:
        rows.add(person, j.at(0, rng), "created_at")
        for move in moves:
            rows.add(Movement(person_id=person.id, **move))
        _consents(w, rows, j, person, worker)
        ended = j.at(j.care_end, rng) if status in ENDED_STATUSES else None
        assignment = Assignment(person_id=person.id, worker=worker, assigned_by=w.staff.coordinator, ended_at=ended)
        rows.add(assignment, j.at(rng.randint(0, min(3, j.care_end)), rng), "assigned_at")
    if status in PRESENT_STATUSES:
        w.occupancy[j.path[j.reached].pk] += len(members)
    care(w, rows, j, adult, children, worker, trafficked=bool(episodes))
    return len(members)


def _adult(w: World, j: Journey, status: str) -> tuple[Person, list[list[Any]]]:
    """The person who left North Korea, and their exploitation episodes in China."""
    rng = w.rng
    sex = rng.choices((Sex.FEMALE, Sex.MALE, Sex.UNKNOWN), (82, 16, 2))[0]
    contact = j.date(-rng.randint(0, 45)).replace(day=1)  # first contact comes shortly before the intake
    in_china = rng.lognormvariate(math.log(84 if sex != Sex.MALE else 18), 0.7)  # months; years for most women
    left = add_months(contact, -int(in_china if in_china < 300 else rng.uniform(120, 300)))
    if dt.date(2020, 2, 1) <= left <= dt.date(2023, 8, 1) and rng.random() < 0.8:  # the border was sealed
        left = add_months(left, -rng.randint(30, 60))
    left = min(contact, max(left, add_months(dt.date(1995, 1, 1), rng.randint(0, 36))))
    episodes = _episodes(rng, sex, left, contact)
    age = rng.gauss(24, 6) if sex != Sex.MALE else rng.gauss(30, 10)
    birth_year = min(2010, max(1960, left.year - min(60, max(14, int(age)))))
    adult = _person(w, j, status, sex=sex, birth_year=birth_year, left=left, contact=contact)
    adult.origin_province = _pick(rng, ORIGIN_WEIGHTS)
    chinese = rng.random() < (0.9 if months_between(left, contact) >= 12 else 0.3)
    extra = {"ru"} if rng.random() < 0.03 else set()
    extra |= {"en"} if rng.random() < 0.04 else set()
    adult.languages = sorted({"ko", *(["zh"] if chinese else []), *extra})
    name = names.korean_name(rng, female=sex != Sex.MALE, chinese_alias=rng.random() < (0.75 if episodes else 0.3))
    adult.name_hangul, adult.name_romanized, adult.name_chinese, adult.aliases = name
    summary = ", then ".join(SHORT_LABELS[str(e[0])] for e in episodes)
    sold = sum(1 for e in episodes if e[1])
    story = f"sold {sold} time(s) in China ({summary})" if sold else "not trafficked in China as far as known"
    adult.narrative = names.synthetic(
        f"Fictional person generated by waystation synth. Left North Korea {left:%Y-%m}; {story}; "
        f"first contact with the network {contact:%Y-%m}."
    )
    if rng.random() < 0.35:
        adult.date_of_birth = f"{birth_year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    if rng.random() < 0.5:
        handle = f"ws-{rng.getrandbits(16):04x}"
        adult.contacts = names.synthetic(f"Through the keeper of {j.path[0].code_name}; handle {handle}")
    return adult, episodes


def _children(
    w: World, rows: Rows, j: Journey, mother: Person, episodes: list[list[Any]], worker: User, room: int
) -> list[Person]:
    """Children born in China during a forced marriage, travelling with their mother (often stateless)."""
    rng = w.rng
    marriages = [e for e in episodes if e[0] == E.FORCED_MARRIAGE and e[3].year - e[2].year >= 2]
    if not marriages or mother.sex != Sex.FEMALE or room < 1 or rng.random() > 0.2:
        return []
    marriage, contact = marriages[0], mother.first_contact_month
    assert contact is not None  # noqa: S101 - set by _person
    children = []
    for _ in range(min(room, 1 if rng.random() < 0.75 else 2)):
        year = rng.randint(marriage[2].year + 1, min(marriage[3].year, contact.year - 1))
        sex = rng.choice((Sex.FEMALE, Sex.MALE))
        child = _person(w, j, mother.status, sex=sex, birth_year=year, left=None, contact=contact)
        child.languages = ["zh"] if rng.random() < 0.6 else ["ko", "zh"]
        child.name_hangul, child.name_romanized, child.name_chinese, child.aliases = names.chinese_child_name(rng)
        child.narrative = names.synthetic(f"Fictional child born in China in {year}; travels with the mother.")
        children.append(child)
        link = FamilyLink(person_id=mother.id, relative_id=child.id, relation=Relation.MOTHER, created_by=worker)
        link.stateless = rng.random() < 0.85
        rows.add(link, j.at(0, rng), "created_at")
    if rng.random() < 0.4:
        marriage.append(C.USES_CHILDREN)
    return children


def _episode(rng: random.Random, person: Person, episode: list[Any], worker: User, *, first: bool) -> models.Model:
    kind, was_sold, start, end, *extra = episode
    group = _group(kind)
    roles = {r for r, chance in ROLES[group].items() if rng.random() < chance}
    controls = {c for c, chance in CONTROLS[group].items() if rng.random() < chance} | set(extra)
    return ExploitationEpisode(
        person_id=person.id,
        exploitation_type=kind,
        start_month=start,
        end_month=end,
        province_in_china=_pick(rng, PROVINCES[group]) if rng.random() < 0.95 else "",
        was_sold=was_sold,
        perpetrator_roles=sorted(roles | ({P.SOLD_INDIVIDUAL} if was_sold else set())),
        control_methods=sorted(controls),
        recruitment_method=_pick(rng, RECRUITMENT) if first else _R.OTHER,  # later sales: broker to broker
        trafficker_relation=_pick(rng, RELATION),
        note=names.synthetic(EPISODE_NOTES[group]) if rng.random() < 0.25 else "",
        recorded_by=worker,
    )


def _person(
    w: World, j: Journey, status: str, *, sex: str, birth_year: int, left: dt.date | None, contact: dt.date
) -> Person:
    return Person(
        id=uuid.UUID(int=w.rng.getrandbits(128), version=4),
        case_code=w.case_code(),
        sex=sex,
        birth_year=birth_year,
        origin_province=Province.UNKNOWN,
        left_nk_month=left,
        first_contact_month=contact,
        status=status,
        closed_at=j.at(j.closed, w.rng) if j.closed is not None else None,
    )


def _consents(w: World, rows: Rows, j: Journey, person: Person, worker: User) -> None:
    rng = w.rng
    recorder = w.staff.keeper_of[j.path[0].pk]
    when = j.at(0, rng)
    for scope, chance in (
        (ConsentScope.SERVICES, 0.97),
        (ConsentScope.DATA_STORAGE, 0.96),
        (ConsentScope.STATISTICS, 0.86),
    ):
        rows.add(
            Consent(person_id=person.id, scope=scope, given=rng.random() < chance, recorded_by=recorder),
            when,
            "recorded_at",
        )
    if rng.random() < 0.4:
        rows.add(
            Consent(person_id=person.id, scope=ConsentScope.PHOTOS, given=rng.random() < 0.3, recorded_by=recorder),
            when,
            "recorded_at",
        )
    if rng.random() < 0.03 and j.care_end >= 2:  # changed her mind about the statistics later
        later = j.at(rng.randint(1, j.care_end), rng)
        rows.add(
            Consent(person_id=person.id, scope=ConsentScope.STATISTICS, given=False, recorded_by=worker),
            later,
            "recorded_at",
        )
