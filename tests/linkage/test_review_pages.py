"""The coordinator's review pages under /duplicates/: who may use them, what they show, what they change."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.urls import reverse
from merge_helpers import NAMES

from waystation.accounts.models import User
from waystation.audit.models import AuditEvent
from waystation.cases.models import Person
from waystation.linkage import services
from waystation.linkage.models import Candidate, CandidateStatus, Merge

NOT_COORDINATORS = ("keeper", "caseworker", "analyst", "auditor", "administrator")
CHANGES = ("linkage:refresh", "linkage:merge", "linkage:not_same", "linkage:undo")  # POST only


@pytest.fixture
def pair(three: list[Person], coordinator: User) -> Candidate:
    services.candidates_refresh(actor=coordinator)
    first, second, _third = three
    return Candidate.objects.get(person_a__in=[first, second], person_b__in=[first, second])


def linkage_urls(url_routes: list[Any], candidate: Candidate, merge: Merge) -> list[tuple[str, str]]:
    """Every /duplicates/ route (walked from the URL configuration), with a real sample for its arguments."""
    samples = {"candidate_id": candidate.pk, "merge_id": merge.pk}
    routes = [r for r in url_routes if r.name and r.name.startswith("linkage:")]
    assert len(routes) >= 7
    return [(r.name, reverse(r.name, kwargs={k: samples[k] for k in r.kwargs})) for r in routes]


def snapshot() -> dict[str, Any]:
    return {
        "persons": dict(Person.objects.values_list("case_code", "merged_into")),
        "candidates": list(Candidate.objects.order_by("pk").values()),
        "merges": list(Merge.objects.order_by("pk").values()),
    }


def test_every_route_is_the_coordinators_alone(
    url_routes: list[Any],
    personas: dict[str, User],
    pair: Candidate,
    three: list[Person],
    client_for: Callable[..., Any],
) -> None:
    coordinator = personas["coordinator"]
    done = services.merge(actor=coordinator, kept=three[2], absorbed=three[1])  # a merge to undo
    urls = linkage_urls(url_routes, pair, done)
    before = snapshot()
    for role in NOT_COORDINATORS:
        client = client_for(personas[role])
        token = client.fetch_token()
        for name, url in urls:  # the method a route answers: 403; the other one: 405, as for a coordinator
            get, post = (405, 403) if name in CHANGES else (403, 405)
            assert client.get(url).status_code == get, f"GET {name} as {role}"
            response = client.post(url, {"keep": "a", "csrfmiddlewaretoken": token})
            assert response.status_code == post, f"POST {name} as {role}"
    anonymous = client_for(None)
    for name, url in urls:
        response = anonymous.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login")), name
    assert snapshot() == before
    coordinator_client = client_for(coordinator)
    for name, url in urls:  # pages for the coordinator, changes by POST only
        expected = 405 if name in CHANGES else 200
        assert coordinator_client.get(url).status_code == expected, name


def test_the_queue_gives_reasons_in_words_and_no_name(
    pair: Candidate, personas: dict[str, User], client_for: Callable[..., Any]
) -> None:
    page = client_for(personas["coordinator"]).get(reverse("linkage:queue")).content.decode()
    assert pair.person_a.case_code in page and pair.person_b.case_code in page
    assert "Same birth year" in page and "Same province of origin" in page
    assert not any(name in page for name in NAMES)
    assert reverse("linkage:pair", args=[pair.pk]) in page


def test_the_pair_page_shows_both_records_side_by_side_and_audits_the_reveal(
    pair: Candidate, three: list[Person], personas: dict[str, User], client_for: Callable[..., Any]
) -> None:
    coordinator = personas["coordinator"]
    response = client_for(coordinator).get(reverse("linkage:pair", args=[pair.pk]))
    page = response.content.decode()
    first, second, _third = three
    assert NAMES[0] in page and NAMES[1] in page  # the two records, one name each
    assert NAMES[2] not in page  # the third record is not part of this pair
    assert "Same person: merge into" in page and "Not the same person" in page
    reveal = AuditEvent.objects.get(action="reveal", purpose="duplicate_review", actor=coordinator)
    assert set(reveal.details["targets"]) == {f"cases.person:{first.pk}", f"cases.person:{second.pk}"}
    assert "person.name_hangul" in reveal.details["fields"]


def test_a_merge_from_the_pair_page_leaves_the_case_list_and_comes_back_after_undo(
    pair: Candidate, personas: dict[str, User], client_for: Callable[..., Any]
) -> None:
    client = client_for(personas["coordinator"])
    kept, absorbed = pair.person_b, pair.person_a
    client.get(reverse("linkage:pair", args=[pair.pk]))
    response = client.submit(reverse("linkage:merge", args=[pair.pk]), {"keep": "b"}, follow=True)
    assert f"Case {absorbed.case_code} was merged into case {kept.case_code}." in response.content.decode()
    listing = client.get(reverse("cases:list")).content.decode()
    assert kept.case_code in listing and absorbed.case_code not in listing

    absorbed_page = client.get(reverse("cases:detail", args=[absorbed.case_code])).content.decode()
    assert "This record was merged into" in absorbed_page
    assert f'href="{reverse("cases:detail", args=[kept.case_code])}"' in absorbed_page
    kept_page = client.get(reverse("cases:detail", args=[kept.case_code])).content.decode()
    assert "Records merged into this one" in kept_page
    assert f'href="{reverse("cases:detail", args=[absorbed.case_code])}"' in kept_page
    queue = client.get(reverse("linkage:queue")).content.decode()
    assert reverse("linkage:pair", args=[pair.pk]) not in queue  # decided: out of the queue

    merges = client.get(reverse("linkage:merges")).content.decode()
    done = Merge.objects.get()
    assert reverse("linkage:undo", args=[done.pk]) in merges
    undone = client.submit(reverse("linkage:undo", args=[done.pk]), follow=True).content.decode()
    assert f"case {absorbed.case_code} is a record of its own again" in undone
    listing = client.get(reverse("cases:list")).content.decode()
    assert kept.case_code in listing and absorbed.case_code in listing
    assert (
        "This record was merged into"
        not in client.get(reverse("cases:detail", args=[absorbed.case_code])).content.decode()
    )
    pair.refresh_from_db()
    assert pair.status == CandidateStatus.OPEN
    again = client.submit(reverse("linkage:undo", args=[done.pk]), follow=True).content.decode()
    assert "This merge was undone already." in again


def test_not_the_same_person_takes_the_pair_out_of_the_queue(
    pair: Candidate, personas: dict[str, User], client_for: Callable[..., Any]
) -> None:
    client = client_for(personas["coordinator"])
    client.get(reverse("linkage:pair", args=[pair.pk]))
    assert client.submit(reverse("linkage:not_same", args=[pair.pk])).status_code == 302
    pair.refresh_from_db()
    assert pair.status == CandidateStatus.NOT_SAME
    assert reverse("linkage:pair", args=[pair.pk]) not in client.get(reverse("linkage:queue")).content.decode()


def test_bad_requests_get_a_message_or_a_404_and_change_nothing(
    pair: Candidate, three: list[Person], personas: dict[str, User], client_for: Callable[..., Any]
) -> None:
    client = client_for(personas["coordinator"])
    client.get(reverse("linkage:queue"))
    before = snapshot()
    response = client.submit(reverse("linkage:merge", args=[pair.pk]), {"keep": "both"}, follow=True)
    assert response.status_code == 200 and "Choose which record to keep." in response.content.decode()
    assert client.submit(reverse("linkage:merge", args=[999_999]), {"keep": "a"}).status_code == 404
    assert client.submit(reverse("linkage:undo", args=[999_999])).status_code == 404
    assert client.get(reverse("linkage:pair", args=[999_999])).status_code == 404
    no_token = client_for(personas["coordinator"])
    no_token.raise_request_exception = False
    assert no_token.post(reverse("linkage:merge", args=[pair.pk]), {"keep": "a"}).status_code == 403  # CSRF
    assert snapshot() == before

    # A refusal of the service: the pair's record was merged elsewhere in the meantime.
    services.merge(actor=personas["coordinator"], kept=three[2], absorbed=pair.person_a)
    before = snapshot()
    response = client.submit(reverse("linkage:merge", args=[pair.pk]), {"keep": "b"}, follow=True)
    assert response.status_code == 200 and "already merged into another record" in response.content.decode()
    assert snapshot() == before


def test_the_coordinators_dashboard_links_to_the_queue(
    personas: dict[str, User], client_for: Callable[..., Any]
) -> None:
    page = client_for(personas["coordinator"]).get(reverse("web:dashboard")).content.decode()
    assert reverse("linkage:queue") in page
    keeper_page = client_for(personas["keeper"]).get(reverse("web:dashboard")).content.decode()
    assert reverse("linkage:queue") not in keeper_page


def test_under_duress_the_queue_looks_empty_and_no_pair_opens(
    pair: Candidate, personas: dict[str, User], client_for: Callable[..., Any]
) -> None:
    """A coordinator forced to sign in with the duress password sees an ordinary, empty queue (not a refusal that
    would tell the one watching that something is hidden), as the case list is empty for them."""
    coordinator = personas["coordinator"]
    User.objects.filter(pk=coordinator.pk).update(under_duress=True)
    coordinator.refresh_from_db()
    client = client_for(coordinator)
    queue = client.get(reverse("linkage:queue"))
    assert queue.status_code == 200 and "No pair to review." in queue.content.decode()
    assert pair.person_a.case_code not in queue.content.decode()
    assert client.get(reverse("linkage:pair", args=[pair.pk])).status_code == 404
    assert not AuditEvent.objects.filter(action="reveal", actor=coordinator).exists()


def test_the_coordinators_dashboard_counts_a_merged_woman_once(
    pair: Candidate, personas: dict[str, User], client_for: Callable[..., Any]
) -> None:
    client = client_for(personas["coordinator"])

    def counted() -> int:
        return sum(row["n"] for row in client.get(reverse("web:dashboard")).context["by_status"])

    before = counted()
    client.get(reverse("linkage:pair", args=[pair.pk]))
    client.submit(reverse("linkage:merge", args=[pair.pk]), {"keep": "b"})
    assert counted() == before - 1
    client.submit(reverse("linkage:undo", args=[Merge.objects.get().pk]))
    assert counted() == before
