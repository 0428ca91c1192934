"""What the API does with records: reads reveal through the audited gate, writes leave the same audit events as
the pages, the analyst never gets a record, a hidden case is 404, and bad input changes nothing and is answered
in the caller's language."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from waystation.audit.models import AuditEvent
from waystation.cases.models import CaseNote, Person, ServiceRecord
from waystation.figures.releases import release_all
from waystation.network.models import Movement
from waystation.vault.reveal import reveal


def _events_since(seq: int, *, exclude: tuple[str, ...] = ("reveal", "api.token_created")) -> list[tuple[Any, ...]]:
    rows = AuditEvent.objects.filter(seq__gt=seq).exclude(action__in=exclude).order_by("seq")
    return [(e.action, e.actor_id, e.case_id, e.target_type, _shape(e.details)) for e in rows]


def _shape(details: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in details.items() if k not in ("from", "to") or isinstance(v, str)}


def _last_seq() -> int:
    return AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0


def test_reading_a_case_reveals_the_roles_fields_through_the_audited_gate(
    world: SimpleNamespace, api_client: Any
) -> None:
    person = world.person_at_a
    expected = reveal(user=world.coordinator, items=[(person, ["name_romanized"])], purpose="test")[0]
    for user, fields in ((world.keeper_a, {"name_hangul", "name_romanized"}), (world.caseworker, None)):
        client = api_client(user)
        before = _last_seq()
        body = client.get(f"/api/v1/cases/{person.case_code}").json()
        assert body["names"]["name_romanized"] == expected["name_romanized"]
        events = AuditEvent.objects.filter(seq__gt=before, action="reveal")
        assert [(e.actor_id, e.purpose, e.case_id) for e in events] == [(user.pk, "api_case", None)]
        shown = {k for k, v in body["names"].items() if k != "locked" and v is not None}
        if fields is not None:  # the keeper: what is needed to recognise her, nothing more
            assert shown == fields
            assert "narrative" not in str(events[0].details)
        else:
            assert "person.narrative" in events[0].details["fields"]

    before = _last_seq()
    listing = api_client(world.keeper_a).get("/api/v1/cases/").json()
    assert {item["case_code"] for item in listing["items"]} == {
        world.person_at_a.case_code,
        world.person_heading_to_a.case_code,
    }
    assert AuditEvent.objects.filter(seq__gt=before, action="reveal", purpose="api_case_list").count() == 1


def test_a_keeper_sees_where_she_goes_next_not_where_she_came_from(world: SimpleNamespace, api_client: Any) -> None:
    """As on the case page: the keeper gets the movement under way, not the stations she came through."""
    code = world.person_heading_to_a.case_code
    keeper = api_client(world.keeper_a).get(f"/api/v1/cases/{code}/movements").json()
    assert [(m["from_station"], m["to_station"], m["status"]) for m in keeper] == [("BIRCH", "ALDER", "under_way")]
    coordinator = api_client(world.coordinator).get(f"/api/v1/cases/{code}/movements").json()
    assert [m["status"] for m in coordinator] == ["arrived", "under_way"]


def test_a_case_the_caller_may_not_know_is_404(world: SimpleNamespace, api_client: Any) -> None:
    hidden = world.person_at_b.case_code
    for user in (world.keeper_a, world.caseworker):
        client = api_client(user)
        assert client.get(f"/api/v1/cases/{hidden}").status_code == 404
        assert client.get(f"/api/v1/cases/{hidden}/movements").status_code == 404
    assert (
        api_client(world.caseworker)
        .post(f"/api/v1/cases/{hidden}/notes", {"text": "x"}, content_type="application/json")
        .status_code
        == 404
    )
    assert not CaseNote.objects.exists()


def test_writes_leave_the_same_audit_events_as_the_pages(
    world: SimpleNamespace, api_client: Any, client_for: Any
) -> None:
    code = world.person_at_a.case_code
    browser = client_for(world.coordinator)
    api = api_client(world.coordinator)
    writes = [
        (f"/cases/{code}/notes/new/", {"text": "Fictional note.", "kind": "general"}, "notes", {}),
        (
            f"/cases/{code}/services/new/",
            {"kind": "counselling", "delivered_on": "2025-01-15", "quantity": "2", "note": "Fictional."},
            "services",
            {"quantity": 2, "partner": None},
        ),
    ]
    for page, form, endpoint, api_extra in writes:
        browser.get(page)
        before = _last_seq()
        assert browser.submit(page, form).status_code == 302
        by_page = _events_since(before)
        before = _last_seq()
        response = api.post(f"/api/v1/cases/{code}/{endpoint}", {**form, **api_extra}, content_type="application/json")
        assert response.status_code == 201, response.content
        by_api = _events_since(before)
        assert by_page == by_api and by_api, (by_page, by_api)

    # Status, and a movement planned: the same events too.
    before = _last_seq()
    assert (
        api.post(f"/api/v1/cases/{code}/status", {"status": "missing"}, content_type="application/json").json()[
            "status"
        ]
        == "missing"
    )
    assert [e[0] for e in _events_since(before)] == ["person.status"]
    api.post(f"/api/v1/cases/{code}/status", {"status": "sheltered"}, content_type="application/json")
    before = _last_seq()
    moved = api.post(
        f"/api/v1/cases/{code}/movements", {"to_station": "CEDAR", "depart_now": True}, content_type="application/json"
    )
    assert moved.status_code == 201, moved.content
    assert [e[0] for e in _events_since(before)] == ["person.status", "movement.plan"]
    movement_id = moved.json()["id"]
    before = _last_seq()
    arrived = api.post(
        f"/api/v1/cases/{code}/movements/{movement_id}", {"action": "arrived"}, content_type="application/json"
    )
    assert arrived.json()["status"] == "arrived"
    assert "movement.arrive" in [e[0] for e in _events_since(before)]
    assert Person.objects.get(pk=world.person_at_a.pk).status == "third_country"


def test_the_analyst_gets_released_figures_and_never_a_record(world: SimpleNamespace, api_client: Any) -> None:
    releases = release_all(actor=world.analyst)
    analyst = api_client(world.analyst)
    latest = analyst.get("/api/v1/figures/releases/latest").json()
    assert {r["indicator"] for r in latest} == {r.indicator for r in releases}
    one = analyst.get(f"/api/v1/figures/releases/{releases[0].pk}").json()
    assert one["release_id"] == releases[0].pk
    assert "raw" not in str(one) and "basis" not in str(one)
    assert analyst.get("/api/v1/figures/releases/999999").status_code == 404
    codes = [p.case_code for p in Person.objects.all()]
    for path in ("/api/v1/cases/", f"/api/v1/cases/{codes[0]}", f"/api/v1/cases/{codes[0]}/movements"):
        response = analyst.get(path)
        assert response.status_code == 403
        assert not any(code in response.content.decode() for code in codes)
    listed = analyst.get("/api/v1/figures/releases").content.decode()
    assert not any(code in listed for code in codes)


def test_bad_input_changes_nothing_and_is_answered_in_the_callers_language(
    world: SimpleNamespace, api_client: Any
) -> None:
    code = world.person_at_a.case_code
    client = api_client(world.coordinator)
    bad = [
        ("post", f"/api/v1/cases/{code}/services", {"kind": "nonsense", "delivered_on": "2025-01-01"}, 422),
        ("post", f"/api/v1/cases/{code}/services", {"kind": "medical", "delivered_on": 0}, 422),
        ("post", f"/api/v1/cases/{code}/services", {"kind": "medical", "delivered_on": "2025-01-01", "extra": 1}, 422),
        ("post", f"/api/v1/cases/{code}/services", {"kind": "counselling", "delivered_on": "3000-01-01"}, 400),
        ("post", f"/api/v1/cases/{code}/services", {"kind": "counselling", "delivered_on": "yesterday"}, 422),
        (
            "post",
            f"/api/v1/cases/{code}/services",
            {"kind": "medical", "delivered_on": "2025-01-01", "partner": 99},
            400,
        ),
        ("post", f"/api/v1/cases/{code}/notes", {"text": "   "}, 400),
        ("post", f"/api/v1/cases/{code}/notes", {"text": "nul \x00 byte"}, 422),
        ("post", f"/api/v1/cases/{code}/status", {"status": "flying"}, 422),
        ("post", f"/api/v1/cases/{code}/status", {"status": "sheltered"}, 400),  # already so
        ("patch", f"/api/v1/cases/{code}", '"AAA"', 422),  # JSON, but not an object
        ("patch", f"/api/v1/cases/{code}", "{not json", 400),
        ("patch", f"/api/v1/cases/{code}", {"birth_year": 1850}, 400),
        ("patch", f"/api/v1/cases/{code}", {"sex": None}, 400),
        ("post", f"/api/v1/cases/{code}/movements", {"to_station": "NOWHERE"}, 400),
        (
            "post",
            f"/api/v1/cases/{code}/movements",
            {"to_station": "CEDAR", "expected_arrival": "2030-01-01T10:00"},
            422,
        ),
        ("post", f"/api/v1/cases/{code}/movements/99999999999999", {"action": "arrived"}, 422),
        ("get", "/api/v1/cases/?page=0", None, 422),
    ]
    person = Person.objects.get(pk=world.person_at_a.pk)
    before = (_last_seq(), ServiceRecord.objects.count(), CaseNote.objects.count(), Movement.objects.count())
    for method, path, body, status in bad:
        kwargs: dict[str, Any] = {"content_type": "application/json"} if body is not None else {}
        args = (path, body) if body is not None else (path,)
        response = getattr(client, method)(*args, **kwargs)
        assert response.status_code == status, (path, body, response.content)
        assert response.json()["detail"]
    after = (_last_seq(), ServiceRecord.objects.count(), CaseNote.objects.count(), Movement.objects.count())
    assert after == before
    again = Person.objects.get(pk=person.pk)
    assert (again.birth_year, again.sex, again.status) == (person.birth_year, person.sex, person.status)

    korean = client.post(
        f"/api/v1/cases/{code}/notes", {"text": " "}, content_type="application/json", headers={"Accept-Language": "ko"}
    ).json()["detail"]
    english = client.post(f"/api/v1/cases/{code}/notes", {"text": " "}, content_type="application/json").json()[
        "detail"
    ]
    assert english == "The note is empty." and korean != english
    assert any("\uac00" <= ch <= "\ud7a3" for ch in korean)
    unknown = api_client(token="wst_x").get("/api/v1/cases/", headers={"Accept-Language": "zh-hans"})
    assert any("\u4e00" <= ch <= "\u9fff" for ch in unknown.json()["detail"])
