"""Merging one woman's two records: the services (``linkage.services``).

A merge points the absorbed record at the kept one and deletes nothing; an undo puts back exactly what was there;
a refusal changes nothing; every decision is an audit event with ids only.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from merge_helpers import NAMES

from waystation.accounts.models import User
from waystation.audit.models import AuditEvent
from waystation.cases.models import Person
from waystation.lib.errors import ServiceError
from waystation.linkage import services
from waystation.linkage.models import Candidate, CandidateStatus, Merge
from waystation.vault import shred


def state() -> dict[str, Any]:
    """Everything a merge may change: every person's pointer and every stored row of the review (no audit)."""
    return {
        "persons": dict(Person.objects.values_list("case_code", "merged_into__case_code")),
        "updated": dict(Person.objects.values_list("case_code", "updated_at")),
        "candidates": list(Candidate.objects.order_by("pk").values()),
        "merges": list(Merge.objects.order_by("pk").values()),
    }


def test_refresh_stores_the_pairs_and_keeps_decided_ones_decided(three: list[Person], coordinator: User) -> None:
    counts = services.candidates_refresh(actor=coordinator)
    assert counts["new"] == 3 == Candidate.objects.filter(status=CandidateStatus.OPEN).count()
    pair = Candidate.objects.first()
    assert pair is not None and pair.person_a.case_code < pair.person_b.case_code
    assert pair.reasons and all(isinstance(code, str) and "." in code for code, _weight in pair.reasons)
    services.mark_not_same(actor=coordinator, candidate=pair)
    again = services.candidates_refresh(actor=coordinator)
    assert again["new"] == 0
    pair.refresh_from_db()
    assert pair.status == CandidateStatus.NOT_SAME and pair.decided_by == coordinator
    event = AuditEvent.objects.filter(action="linkage.candidates_refresh").last()
    assert event is not None and event.actor == coordinator and event.details["pairs"] == 3


def test_merge_then_undo_restores_the_exact_state(three: list[Person], coordinator: User) -> None:
    services.candidates_refresh(actor=coordinator)
    first, second, third = three
    before = state()

    done = services.merge(actor=coordinator, kept=first, absorbed=second)
    second.refresh_from_db()
    assert second.merged_into == first
    assert Person.objects.count() == 3  # nothing deleted
    pair = Candidate.objects.get(person_a__in=[first, second], person_b__in=[first, second])
    assert pair.status == CandidateStatus.MERGED and pair.decided_by == coordinator

    services.undo_merge(actor=coordinator, merge=done)
    after = state()
    assert after["persons"] == before["persons"]
    assert after["updated"] == before["updated"]
    assert after["candidates"] == before["candidates"]
    assert Merge.objects.get().undone_by == coordinator
    assert third.merged_into is None


def test_records_merged_into_the_absorbed_one_follow_it_and_come_back_on_undo(
    three: list[Person], coordinator: User
) -> None:
    first, second, third = three
    services.merge(actor=coordinator, kept=second, absorbed=third)
    before = state()
    later = services.merge(actor=coordinator, kept=first, absorbed=second)
    assert set(Person.objects.filter(merged_into=first)) == {second, third}  # no chain: both point at the kept one
    assert later.repointed == [str(third.pk)]

    services.undo_merge(actor=coordinator, merge=later)
    assert state()["persons"] == before["persons"]
    third.refresh_from_db()
    assert third.merged_into == second


def test_an_earlier_merge_cannot_be_undone_under_a_later_one(three: list[Person], coordinator: User) -> None:
    first, second, third = three
    earlier = services.merge(actor=coordinator, kept=second, absorbed=third)
    services.merge(actor=coordinator, kept=first, absorbed=second)
    before = state()
    with pytest.raises(ServiceError, match="undo that merge first"):
        services.undo_merge(actor=coordinator, merge=earlier)
    assert state() == before


def test_each_decision_is_audited_with_ids_only(three: list[Person], coordinator: User) -> None:
    services.candidates_refresh(actor=coordinator)
    first, second, _third = three
    done = services.merge(actor=coordinator, kept=first, absorbed=second)
    services.undo_merge(actor=coordinator, merge=done)
    services.mark_not_same(actor=coordinator, candidate=Candidate.objects.filter(status="open").first())
    events = {e.action: e for e in AuditEvent.objects.filter(action__startswith="linkage.")}
    assert {"linkage.merge", "linkage.merge_undo", "linkage.not_same", "linkage.candidates_refresh"} <= set(events)
    merged = events["linkage.merge"]
    assert merged.case_id == first.pk and merged.details["absorbed"] == str(second.pk)
    assert events["linkage.merge_undo"].target_id == str(done.pk)
    text = str([e.details for e in events.values()])
    assert not any(name in text for name in NAMES)
    call_command("audit", "verify", stdout=io.StringIO())  # the chain still verifies


@pytest.mark.parametrize(
    "case",
    ["itself", "into a merged record", "an already merged record", "a shredded record", "not a coordinator"],
)
def test_refusals_say_why_and_change_nothing(case: str, three: list[Person], coordinator: User, keeper_a: User) -> None:
    services.candidates_refresh(actor=coordinator)
    first, second, third = three
    actor, kept, absorbed = coordinator, first, second
    if case == "itself":
        absorbed, message = first, "into itself"
    elif case == "into a merged record":
        services.merge(actor=coordinator, kept=third, absorbed=first)
        message = "already merged"
    elif case == "an already merged record":
        services.merge(actor=coordinator, kept=third, absorbed=second)
        message = "already merged"
    elif case == "a shredded record":
        shred.shred(actor=coordinator, person_id=second.pk)
        message = "shredded"
    else:
        actor, message = keeper_a, "Only a coordinator"
    kept.refresh_from_db()
    absorbed.refresh_from_db()
    before = state()
    events = AuditEvent.objects.count()
    with pytest.raises(ServiceError, match=message):
        services.merge(actor=actor, kept=kept, absorbed=absorbed)
    assert state() == before
    assert AuditEvent.objects.count() == events


def test_undo_twice_and_deciding_twice_are_refused(three: list[Person], coordinator: User) -> None:
    services.candidates_refresh(actor=coordinator)
    first, second, _third = three
    done = services.merge(actor=coordinator, kept=first, absorbed=second)
    services.undo_merge(actor=coordinator, merge=done)
    before = state()
    with pytest.raises(ServiceError, match="undone already"):
        services.undo_merge(actor=coordinator, merge=done)
    pair = Candidate.objects.filter(status="open").first()
    assert pair is not None
    services.mark_not_same(actor=coordinator, candidate=pair)
    with pytest.raises(ServiceError, match="decided already"):
        services.mark_not_same(actor=coordinator, candidate=pair)
    assert state()["persons"] == before["persons"]


def test_a_merged_record_is_not_matched_again(three: list[Person], coordinator: User) -> None:
    from waystation.linkage.live import live_features

    first, second, _third = three
    services.candidates_refresh(actor=coordinator)
    services.merge(actor=coordinator, kept=first, absorbed=second)
    assert second.case_code not in {f.id for f in live_features()}
    counts = services.candidates_refresh(actor=coordinator)
    assert counts["pairs"] == 1 and counts["dropped"] == 0  # the pairs of the merged record stay, for an undo
    assert Candidate.objects.count() == 3


def test_the_command_line_can_fill_the_queue(
    three: list[Person], coordinator: User, persona_password: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WAYSTATION_PASSWORD", persona_password)
    out = io.StringIO()
    call_command("dedup", "--store", "--json", "--as", coordinator.username, stdout=out, stderr=io.StringIO())
    assert json.loads(out.getvalue())["new"] == 3 == Candidate.objects.count()
    with pytest.raises(CommandError, match="--store are for the live records"):
        call_command("dedup", "--store", "--input", "x.csv", "--out", "y.csv")
    out = io.StringIO()
    call_command("dedup", "--json", "--as", coordinator.username, stdout=out)  # listing alone stores nothing new
    assert len(json.loads(out.getvalue())["pairs"]) == 3 == Candidate.objects.count()


def test_a_merge_and_its_undoing_are_in_the_change_log_that_sync_carries(
    three: list[Person], coordinator: User
) -> None:
    from waystation.sync.changes.models import Change

    kept, absorbed = three[0], three[1]

    def logged() -> list[object]:
        rows = Change.objects.filter(model="cases.person", gid=str(absorbed.pk)).order_by("seq")
        return [change.fields.get("merged_into") for change in rows if "merged_into" in change.fields]

    before = logged()  # her creation, merged into nobody
    done = services.merge(actor=coordinator, kept=kept, absorbed=absorbed)
    assert logged() == [*before, str(kept.pk)]
    services.undo_merge(actor=coordinator, merge=done)
    assert logged() == [*before, str(kept.pk), None]
