"""Writes to a person's care: assignments, needs, plan, services, referrals, tasks and notes."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from waystation.accounts.models import Role, User
from waystation.audit.services import audit_record
from waystation.cases.access import Need, can, visible_persons
from waystation.cases.choices import (
    ConsentScope,
    GoalStatus,
    NeedArea,
    NeedLevel,
    ReferralStatus,
    RiskLevel,
    ServiceKind,
    TaskKind,
)
from waystation.cases.models import (
    Assignment,
    CarePlanGoal,
    CaseNote,
    FollowUpTask,
    NeedsAssessment,
    Partner,
    Person,
    Referral,
    ServiceRecord,
)
from waystation.cases.models.care import NoteKind
from waystation.cases.services import consent_given
from waystation.lib.choices import check_choice, check_choices
from waystation.lib.errors import ServiceError
from waystation.lib.months import check_not_future
from waystation.vault import grants
from waystation.vault.keyring import acting


def assignment_set(*, actor: User, person: Person, worker: User) -> Assignment:
    if worker.role != Role.CASEWORKER or not worker.is_active:
        raise ServiceError(_("Only an active caseworker can be assigned."), field="worker")
    if Assignment.objects.filter(person=person, worker=worker, ended_at__isnull=True).exists():
        raise ServiceError(_("This caseworker is already assigned."), field="worker")
    with transaction.atomic(), acting(actor) as keyring:
        assignment = Assignment.objects.create(person=person, worker=worker, assigned_by=actor)
        grants.sync(keyring, [person.id])
        audit_record(
            actor=actor, action="assignment.set", target=assignment, case_id=person.id, details={"worker": worker.pk}
        )
    return assignment


def assignment_end(*, actor: User, assignment: Assignment) -> Assignment:
    with transaction.atomic(), acting(actor) as keyring:
        assignment.ended_at = timezone.now()
        assignment.save(update_fields=["ended_at"])
        grants.sync(keyring, [assignment.person_id])
        audit_record(
            actor=actor,
            action="assignment.end",
            target=assignment,
            case_id=assignment.person_id,
            details={"worker": assignment.worker_id},
        )
    return assignment


def needs_assess(
    *, actor: User, person: Person, assessed_on: dt.date, levels: dict[str, int], risk_level: str, note: str = ""
) -> NeedsAssessment:
    check_not_future(assessed_on, field="assessed_on")
    check_choice(risk_level, RiskLevel, field="risk_level")
    check_choices(levels, NeedArea, field="levels")
    for area, level in levels.items():
        check_choice(level, NeedLevel, field=area)
    with transaction.atomic(), acting(actor):
        assessment = NeedsAssessment.objects.create(
            person=person,
            assessed_on=assessed_on,
            assessed_by=actor,
            risk_level=risk_level,
            note=note.strip(),
            **levels,
        )
        audit_record(
            actor=actor, action="needs.assess", target=assessment, case_id=person.id, details={"risk": risk_level}
        )
    return assessment


def goal_add(
    *, actor: User, person: Person, area: str, description: str, target_date: dt.date | None = None
) -> CarePlanGoal:
    check_choice(area, NeedArea, field="area")
    if not description.strip():
        raise ServiceError(_("Describe the goal."), field="description")
    with transaction.atomic(), acting(actor):
        goal = CarePlanGoal.objects.create(
            person=person, area=area, description=description.strip(), target_date=target_date, created_by=actor
        )
        audit_record(actor=actor, action="goal.add", target=goal, case_id=person.id, details={"area": area})
    return goal


def goal_set_status(*, actor: User, goal: CarePlanGoal, status: str) -> CarePlanGoal:
    if status not in GoalStatus.values:
        raise ServiceError(_("Unknown status."), field="status")
    if goal.status != GoalStatus.OPEN or status not in (GoalStatus.ACHIEVED, GoalStatus.DROPPED):
        raise ServiceError(_("Only an open goal can be marked achieved or dropped."), field="status")
    with transaction.atomic(), acting(actor):
        goal.status = status
        goal.save(update_fields=["status"])
        audit_record(actor=actor, action="goal.status", target=goal, case_id=goal.person_id, details={"to": status})
    return goal


# A referral is made, then accepted or declined by the partner; an accepted one is completed or declined later.
REFERRAL_NEXT: dict[str, tuple[str, ...]] = {
    ReferralStatus.MADE: (ReferralStatus.ACCEPTED, ReferralStatus.DECLINED),
    ReferralStatus.ACCEPTED: (ReferralStatus.COMPLETED, ReferralStatus.DECLINED),
}


def referral_set_status(*, actor: User, referral: Referral, status: str) -> Referral:
    check_choice(status, ReferralStatus, field="status")
    if status not in REFERRAL_NEXT.get(referral.status, ()):
        raise ServiceError(
            _("A referral is first accepted or declined, and an accepted one then completed or declined."),
            field="status",
        )
    with transaction.atomic(), acting(actor):
        old, referral.status = referral.status, status
        referral.save(update_fields=["status"])
        audit_record(
            actor=actor,
            action="referral.status",
            target=referral,
            case_id=referral.person_id,
            details={"from": old, "to": status},
        )
    return referral


def service_record(
    *,
    actor: User,
    person: Person,
    kind: str,
    delivered_on: dt.date,
    quantity: int = 1,
    partner: Partner | None = None,
    note: str = "",
) -> ServiceRecord:
    check_choice(kind, ServiceKind, field="kind")
    check_not_future(delivered_on, field="delivered_on")
    if quantity < 1 or quantity > 366:
        raise ServiceError(_("Quantity must be between 1 and 366."), field="quantity")
    with transaction.atomic(), acting(actor):
        record = ServiceRecord.objects.create(
            person=person,
            kind=kind,
            delivered_on=delivered_on,
            quantity=quantity,
            provider=actor,
            partner=partner,
            note=note.strip(),
        )
        audit_record(
            actor=actor,
            action="service.record",
            target=record,
            case_id=person.id,
            details={"kind": kind, "quantity": quantity},
        )
    return record


def referral_make(
    *, actor: User, person: Person, partner: Partner, area: str, referred_on: dt.date, note: str = ""
) -> Referral:
    """Refer a person to a partner: only with their current consent to share with that partner."""
    check_choice(area, NeedArea, field="area")
    check_not_future(referred_on, field="referred_on")
    if not consent_given(person, ConsentScope.SHARING, partner):
        raise ServiceError(
            _("This person has not consented to sharing with %(partner)s. Record their consent first.")
            % {"partner": partner.name},
            field="partner",
        )
    with transaction.atomic(), acting(actor):
        referral = Referral.objects.create(
            person=person, partner=partner, area=area, referred_on=referred_on, note=note.strip(), recorded_by=actor
        )
        audit_record(
            actor=actor,
            action="referral.make",
            target=referral,
            case_id=person.id,
            details={"partner": partner.pk, "area": area},
        )
    return referral


def works_on_case(user: User, person: Person) -> bool:
    """Whether ``user`` can act on a task for ``person``: active, able to care for or assess people, and able to
    see this person (an assigned caseworker, a coordinator, the keeper of the station where the person is)."""
    return (
        user.is_active
        and (can(user, Need.CARE) or can(user, Need.NEEDS))
        and visible_persons(user).filter(pk=person.pk).exists()
    )


def task_add(
    *, actor: User, person: Person, kind: str, due_on: dt.date, assigned_to: User, detail: str = ""
) -> FollowUpTask:
    check_choice(kind, TaskKind, field="kind")
    if due_on < timezone.localdate():
        raise ServiceError(_("The due date has already passed."), field="due_on")
    if not works_on_case(assigned_to, person):
        raise ServiceError(
            _("Choose someone active who works on this case: their caseworker, a coordinator or their keeper."),
            field="assigned_to",
        )
    with transaction.atomic(), acting(actor):
        task = FollowUpTask.objects.create(
            person=person, kind=kind, due_on=due_on, assigned_to=assigned_to, detail=detail.strip(), created_by=actor
        )
        audit_record(
            actor=actor,
            action="task.add",
            target=task,
            case_id=person.id,
            details={"kind": kind, "assigned_to": assigned_to.pk},
        )
    return task


def task_done(*, actor: User, task: FollowUpTask) -> FollowUpTask:
    if task.done_at is not None:
        raise ServiceError(_("This task is already done."))
    with transaction.atomic(), acting(actor):
        task.done_at = timezone.now()
        task.save(update_fields=["done_at"])
        audit_record(actor=actor, action="task.done", target=task, case_id=task.person_id)
    return task


def note_add(*, actor: User, person: Person, text: str, kind: str = NoteKind.GENERAL) -> CaseNote:
    check_choice(kind, NoteKind, field="kind")
    if not text.strip():
        raise ServiceError(_("The note is empty."), field="text")
    with transaction.atomic(), acting(actor):
        note = CaseNote.objects.create(person=person, kind=kind, text=text.strip(), author=actor)
        audit_record(actor=actor, action="note.add", target=note, case_id=person.id, details={"kind": kind})
    return note
