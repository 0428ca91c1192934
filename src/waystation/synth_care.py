"""The care a synthetic household received: shelter nights, needs assessments, plan goals, counselling and other
services, referrals to partners (with the sharing consent they need), follow-up tasks and notes.

Every date falls within the household's time in the network's care (``Journey.care_end``), so nothing is dated
in the future or after a person was lost, detained or closed; only task due dates and goal targets look ahead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from waystation import synth_names as names
from waystation.accounts.models import User
from waystation.cases.choices import (
    ENDED_STATUSES,
    CaseStatus,
    ConsentScope,
    GoalStatus,
    NeedArea,
    ReferralStatus,
    RiskLevel,
    ServiceKind,
    TaskKind,
)
from waystation.cases.models import (
    CarePlanGoal,
    CaseNote,
    Consent,
    FollowUpTask,
    NeedsAssessment,
    Person,
    Referral,
    ServiceRecord,
)
from waystation.cases.models.care import NoteKind
from waystation.network.models import Country, StationKind

if TYPE_CHECKING:
    import random

    from waystation.lib.bulk import Rows
    from waystation.synth_cases import Journey, World

S = CaseStatus
MAX_QUANTITY = 366  # the most nights one service record may count (as the care service enforces)
TASKS_BY_STATUS: dict[str, list[str]] = {
    S.CONTACTED: [TaskKind.CONTACT, TaskKind.MEDICAL],
    S.SHELTERED: [TaskKind.MOVEMENT, TaskKind.MEDICAL, TaskKind.COUNSELLING, TaskKind.DOCUMENTS],
    S.IN_TRANSIT: [TaskKind.CONTACT],
    S.THIRD_COUNTRY: [TaskKind.DOCUMENTS, TaskKind.MEDICAL, TaskKind.COUNSELLING],
    S.ARRIVED_KR: [TaskKind.CONTACT, TaskKind.COUNSELLING],
    S.RESETTLED: [TaskKind.CONTACT, TaskKind.OTHER],
    S.DETAINED: [TaskKind.OTHER, TaskKind.CONTACT],
    S.MISSING: [TaskKind.CONTACT],
}


def _level(rng: random.Random, levels: tuple[int, ...], weights: tuple[int, ...]) -> int:
    return rng.choices(levels, weights)[0]


def care(
    w: World, rows: Rows, j: Journey, adult: Person, children: list[Person], worker: User, *, trafficked: bool
) -> None:
    for person in (adult, *children):
        _shelter(w, rows, j, person)
    if j.care_end < 1:
        return
    rng = w.rng
    _assess(w, rows, j, adult, worker, trafficked=trafficked, with_children=bool(children))
    _services(w, rows, j, adult, children, worker, trafficked=trafficked)
    _referral(w, rows, j, adult, worker)
    if adult.status not in ENDED_STATUSES and rng.random() < 0.35:
        _tasks(w, rows, j, adult, worker)
    for _ in range(rng.choices((0, 1, 2, 3), (30, 35, 20, 15))[0]):
        counselling = trafficked and rng.random() < 0.4
        text = rng.choice(names.COUNSELLING_TEXTS if counselling else names.NOTE_TEXTS)
        kind = NoteKind.COUNSELLING if counselling else NoteKind.GENERAL
        note = CaseNote(person_id=adult.id, kind=kind, text=names.synthetic(text), author=worker)
        rows.add(note, j.at(rng.randint(1, j.care_end), rng), "created_at")


def _shelter(w: World, rows: Rows, j: Journey, person: Person) -> None:
    """Shelter nights for every stay on the way (the destination's reception is not the network's)."""
    for i in range(j.reached + 1):
        station = j.path[i]
        if station.kind == StationKind.DESTINATION:
            continue
        start, end = j.arrive[i], j.stay_end(i)
        while end - start >= 1:
            nights = min(MAX_QUANTITY, end - start)
            record = ServiceRecord(
                person_id=person.id,
                kind=ServiceKind.SHELTER_NIGHTS,
                delivered_on=j.date(start + nights),
                quantity=nights,
                provider=w.staff.keeper_of[station.pk],
            )
            rows.add(record, j.at(start + nights, w.rng), "recorded_at")
            start += nights


def _assess(
    w: World, rows: Rows, j: Journey, adult: Person, worker: User, *, trafficked: bool, with_children: bool
) -> None:
    rng = w.rng
    if j.care_end < 2 or rng.random() > 0.7:
        return
    day = rng.randint(1, min(30, j.care_end))
    country = j.path[j.stop_on(day)].country
    in_china = country == Country.CHINA
    levels = {
        NeedArea.MEDICAL: _level(rng, (0, 1, 2, 3), (2, 4, 3, 1)),
        NeedArea.MENTAL_HEALTH: _level(rng, (1, 2, 3), (2, 4, 4)) if trafficked else _level(rng, (0, 1, 2), (4, 4, 2)),
        NeedArea.SHELTER: 3 if in_china else _level(rng, (0, 1, 2), (3, 4, 3)),
        NeedArea.DOCUMENTS_LEGAL: _level(rng, (0, 1), (5, 5))
        if country == Country.SOUTH_KOREA
        else _level(rng, (1, 2, 3), (2, 4, 4)),
        NeedArea.CHILDREN: _level(rng, (2, 3), (1, 1)) if with_children else 0,
        NeedArea.LIVELIHOOD: _level(rng, (0, 1, 2), (3, 4, 3)),
        NeedArea.SAFETY: (3 if trafficked else 2) if in_china else _level(rng, (0, 1), (6, 4)),
    }
    safety, mental = levels[NeedArea.SAFETY], levels[NeedArea.MENTAL_HEALTH]
    risk = (
        RiskLevel.CRITICAL
        if safety == 3 and mental == 3
        else RiskLevel.HIGH
        if safety >= 2
        else RiskLevel.MEDIUM
        if mental >= 2
        else RiskLevel.LOW
    )
    note = names.synthetic("Assessment with the keeper present; she answered what she chose to.")
    rows.add(
        NeedsAssessment(
            person_id=adult.id,
            assessed_on=j.date(day),
            assessed_by=worker,
            risk_level=risk,
            note=note if rng.random() < 0.3 else "",
            **{str(area): level for area, level in levels.items()},
        )
    )
    needs = [area for area, level in levels.items() if level >= 2]
    for area in rng.sample(needs, min(rng.randint(1, 3), len(needs))):
        target = day + rng.randint(30, 180)
        status = _pick_status(rng) if target < j.now else GoalStatus.OPEN
        goal = CarePlanGoal(
            person_id=adult.id,
            area=area,
            description=names.synthetic(names.GOAL_TEXTS[str(area)]),
            target_date=j.date(target),
            status=status,
            created_by=worker,
        )
        rows.add(goal, j.at(day, rng), "created_at")
    if j.care_end >= day + 30 and rng.random() < 0.2:  # a later review: needs have eased
        later = rng.randint(day + 30, j.care_end)
        eased = {str(area): max(0, level - rng.randint(0, 2)) for area, level in levels.items()}
        review = NeedsAssessment(
            person_id=adult.id, assessed_on=j.date(later), assessed_by=worker, risk_level=RiskLevel.MEDIUM, **eased
        )
        rows.add(review)


def _pick_status(rng: random.Random) -> str:
    return rng.choices((GoalStatus.ACHIEVED, GoalStatus.DROPPED, GoalStatus.OPEN), (60, 15, 25))[0]


def _service(
    w: World, rows: Rows, j: Journey, person: Person, kind: str, day: int, provider: User, note: str = ""
) -> None:
    record = ServiceRecord(person_id=person.id, kind=kind, delivered_on=j.date(day), provider=provider, note=note)
    rows.add(record, j.at(day, w.rng), "recorded_at")


def _services(
    w: World, rows: Rows, j: Journey, adult: Person, children: list[Person], worker: User, *, trafficked: bool
) -> None:
    rng = w.rng
    sessions = rng.choices((0, 1, 2, 3, 4, 6, 8), (25, 20, 15, 15, 10, 10, 5))[0] if trafficked else 0
    for _ in range(sessions):
        note = names.synthetic(rng.choice(names.COUNSELLING_TEXTS)) if rng.random() < 0.2 else ""
        _service(w, rows, j, adult, ServiceKind.COUNSELLING, rng.randint(1, j.care_end), worker, note)
    if rng.random() < 0.45:
        for _ in range(rng.randint(1, 2)):
            _service(w, rows, j, adult, ServiceKind.MEDICAL, rng.randint(1, j.care_end), worker)
    processing = [i for i in range(j.reached + 1) if j.path[i].kind == StationKind.PROCESSING]
    if processing and j.stay_end(processing[0]) > j.arrive[processing[0]]:
        day = rng.randint(j.arrive[processing[0]] + 1, j.stay_end(processing[0]))
        _service(w, rows, j, adult, ServiceKind.LEGAL, day, worker)
    arrived = j.arrive[-1]
    if adult.status in (S.ARRIVED_KR, S.RESETTLED) and j.care_end > arrived and rng.random() < 0.25:
        _service(w, rows, j, adult, ServiceKind.FINANCIAL, rng.randint(arrived + 1, j.care_end), worker)
    for child in children:
        if rng.random() < 0.4:
            _service(w, rows, j, child, ServiceKind.EDUCATION, rng.randint(1, j.care_end), worker)


def _referral(w: World, rows: Rows, j: Journey, adult: Person, worker: User) -> None:
    """A referral to a partner in a country the person reached, after her consent to share with that partner."""
    rng = w.rng
    if rng.random() > 0.15:
        return
    options = [(p, i) for i in range(j.reached + 1) for p in w.partners if p.country == j.path[i].country]
    if not options:
        return
    partner, index = rng.choice(options)
    first, last = j.arrive[index] + 1, j.stay_end(index)
    if last < first:
        return
    day = rng.randint(first, last)
    consent = Consent(person_id=adult.id, scope=ConsentScope.SHARING, partner=partner, given=True, recorded_by=worker)
    rows.add(consent, j.at(day - 1, rng), "recorded_at")
    if j.now - day < 14:
        status = ReferralStatus.MADE
    else:
        status = rng.choices((ReferralStatus.ACCEPTED, ReferralStatus.COMPLETED, ReferralStatus.DECLINED), (3, 5, 2))[0]
    rows.add(
        Referral(
            person_id=adult.id,
            partner=partner,
            area=rng.choice(partner.services) if partner.services else NeedArea.MEDICAL,
            referred_on=j.date(day),
            status=status,
            note=names.synthetic("Referred with her consent; the partner confirmed by phone.")
            if rng.random() < 0.3
            else "",
            recorded_by=worker,
        )
    )


def _tasks(w: World, rows: Rows, j: Journey, adult: Person, worker: User) -> None:
    rng = w.rng
    here = j.path[j.reached]
    for _ in range(rng.randint(1, 2)):
        kind = rng.choice(TASKS_BY_STATUS.get(adult.status, [TaskKind.OTHER]))
        due = j.now + rng.randint(-14, 60)
        done = j.at(rng.randint(max(0, due - 7), j.now - 1), rng) if due < j.now and rng.random() < 0.5 else None
        keeper = w.staff.keeper_of[here.pk]
        rows.add(
            FollowUpTask(
                person_id=adult.id,
                kind=kind,
                detail=names.synthetic(names.TASK_TEXTS[str(kind)]),
                due_on=j.date(due),
                assigned_to=keeper if kind == TaskKind.MOVEMENT and rng.random() < 0.5 else worker,
                done_at=done,
                created_by=worker,
            )
        )
