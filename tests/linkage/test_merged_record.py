"""A record merged into another (the same woman recorded twice) as its users meet it: its case page is read-only and
points to the record kept, any change asked of it is refused with a message saying where to record it, and a search
of the case list by its case code leads to the record kept, saying it was merged."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from waystation.accounts.models import User
from waystation.api import tokens
from waystation.cases import care_services
from waystation.cases.models import Assignment, CaseNote, Person
from waystation.linkage import services
from waystation.network.models import Movement
from waystation.vault.agent import AGENT

# The case page's changes, by route name: none may be offered on a merged record.
ACTIONS = ("edit", "status", "close", "consent", "family", "episode", "needs", "goal", "service", "referral", "task")
MORE_ACTIONS = ("note", "assign", "move")


@pytest.fixture
def merged(three: list[Person], coordinator: User) -> tuple[Person, Person]:
    """(kept, absorbed): the second registration merged into the first."""
    kept, absorbed, _third = three
    services.merge(actor=coordinator, kept=kept, absorbed=absorbed)
    return kept, absorbed


def page(client: Any, person: Person) -> str:
    response = client.get(reverse("cases:detail", args=[person.case_code]))
    assert response.status_code == 200
    return str(response.content.decode())


def test_a_merged_records_page_offers_no_change_and_points_to_the_kept_record(
    merged: tuple[Person, Person], coordinator: User, keeper_a: User, client_for: Callable[..., Any]
) -> None:
    kept, absorbed = merged
    for user in (coordinator, keeper_a):
        html = page(client_for(user), absorbed)
        kept_url = reverse("cases:detail", args=[kept.case_code])
        assert f'This record is read-only: record anything new on <a href="{kept_url}">{kept.case_code}</a>.' in html
        for name in (*ACTIONS, *MORE_ACTIONS):
            assert reverse(f"cases:{name}", args=[absorbed.case_code]) not in html, (user.role, name)
        assert 'name="action"' not in html  # no movement buttons either
    # the record kept offers its actions as before; shredding stays possible on both
    kept_html = page(client_for(coordinator), kept)
    assert reverse("cases:note", args=[kept.case_code]) in kept_html
    assert "read-only" not in kept_html
    assert reverse("cases:shred", args=[absorbed.case_code]) in page(client_for(coordinator), absorbed)


def test_the_kept_records_page_lists_the_records_merged_into_it(
    merged: tuple[Person, Person], three: list[Person], coordinator: User, client_for: Callable[..., Any]
) -> None:
    kept, absorbed = merged
    client = client_for(coordinator)
    listed = "Records merged into this one (the same person, recorded twice):"
    kept_html = page(client, kept)
    assert listed in kept_html
    assert f'<a href="{reverse("cases:detail", args=[absorbed.case_code])}">{absorbed.case_code}</a>' in kept_html
    assert listed not in page(client, three[2])  # a record nothing was merged into


def test_a_change_asked_of_a_merged_record_is_refused_with_where_to_record_it(
    merged: tuple[Person, Person], coordinator: User, keeper_a: User, client_for: Callable[..., Any]
) -> None:
    kept, absorbed = merged
    client = client_for(coordinator)
    notes, movements = CaseNote.objects.count(), Movement.objects.count()
    expected = (
        f"Case {absorbed.case_code} was merged into case {kept.case_code} and is read-only: "
        f"record anything new on case {kept.case_code}."
    )
    for name in ("note", "edit", "status"):  # the form itself, and posting it
        url = reverse(f"cases:{name}", args=[absorbed.case_code])
        answer = client.get(url, follow=True)
        assert answer.redirect_chain[-1][0] == reverse("cases:detail", args=[absorbed.case_code])
        assert expected in answer.content.decode()
    posted = client.submit(
        reverse("cases:note", args=[absorbed.case_code]), {"text": "Fictional note.", "kind": "general"}, follow=True
    )
    assert expected in posted.content.decode()
    keeper = client_for(keeper_a)
    moved = keeper.get(reverse("cases:move", args=[absorbed.case_code]), follow=True)
    assert expected in moved.content.decode()
    assert (CaseNote.objects.count(), Movement.objects.count()) == (notes, movements)
    absorbed.refresh_from_db()
    assert absorbed.merged_into_id == kept.pk
    # the same rule through the API: a clear refusal (400), nothing written
    token = tokens.token_create(actor=coordinator, private_key=AGENT.for_user(coordinator.pk), name="test device")
    api = Client(headers={"Authorization": f"Bearer {token.plaintext}"})
    answer = api.post(
        f"/api/v1/cases/{absorbed.case_code}/notes", {"text": "Fictional note."}, content_type="application/json"
    )
    assert answer.status_code == 400 and answer.json()["detail"] == expected
    assert CaseNote.objects.count() == notes


def test_searching_the_case_list_by_a_merged_records_code_leads_to_the_kept_record(
    merged: tuple[Person, Person], three: list[Person], coordinator: User, client_for: Callable[..., Any]
) -> None:
    kept, absorbed = merged
    client = client_for(coordinator)
    for typed in (absorbed.case_code, absorbed.case_code.lower().replace("-", "")):
        html = client.get(reverse("cases:list"), {"q": typed}).content.decode()
        assert (
            f"Case {absorbed.case_code} was merged into case {kept.case_code} (the same person, recorded twice): "
            f"case {kept.case_code} is listed instead." in html
        )
        assert f'<td><a href="{reverse("cases:detail", args=[kept.case_code])}">{kept.case_code}</a></td>' in html
        assert "1 case<" in html  # the kept record alone: the absorbed one is not listed twice
        assert f'<td><a href="{reverse("cases:detail", args=[absorbed.case_code])}">' not in html
    # a search for a record that was not merged says nothing of merges
    other = three[2]
    html = client.get(reverse("cases:list"), {"q": other.case_code}).content.decode()
    assert "was merged into" not in html and other.case_code in html


def test_access_to_a_merged_record_can_still_be_taken_away(
    three: list[Person], coordinator: User, caseworker_unassigned: User, client_for: Callable[..., Any]
) -> None:
    """A caseworker assigned to the record absorbed keeps it until a coordinator ends the assignment: ending it is
    not a change to her history, and must stay possible on the read-only record."""
    kept, absorbed, _third = three
    worker = caseworker_unassigned
    assignment = care_services.assignment_set(actor=coordinator, person=absorbed, worker=worker)
    services.merge(actor=coordinator, kept=kept, absorbed=absorbed)
    client = client_for(coordinator)
    end = reverse("cases:assignment_end", args=[absorbed.case_code, assignment.pk])
    assert end in page(client, absorbed)
    assert client.submit(end).status_code == 302
    assert Assignment.objects.get(pk=assignment.pk).ended_at is not None
    assert client_for(worker).get(reverse("cases:detail", args=[absorbed.case_code])).status_code == 404
