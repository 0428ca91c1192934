"""Who may know which case exists, and what they may see of it; every reveal is audited, with no content."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace
from typing import Any

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from waystation.accounts.models import Role
from waystation.audit.models import AuditEvent
from waystation.cases import care_services
from waystation.cases.access import PERSON_FIELDS_FOR_ROLE, Need, can, case_for_user, visible_persons
from waystation.cases.choices import ConsentScope, NeedArea
from waystation.cases.services import consent_record, episode_add, person_set_photo, person_update
from waystation.network.models import MovementStatus
from waystation.network.selectors import open_movement
from waystation.network.services import movement_end, movement_plan
from waystation.testing.db import audit_unavailable
from waystation.vault.keyring import acting
from waystation.vault.reveal import reveal, sensitive_fields

# --- who knows which case exists -------------------------------------------------------------------------------------


def codes(persons: Any) -> set[str]:
    return {p.case_code for p in persons}


def test_each_role_knows_of_the_cases_design_md_gives_it(world: SimpleNamespace) -> None:
    at_a, at_b, heading = world.person_at_a, world.person_at_b, world.person_heading_to_a
    everyone = codes([at_a, at_b, heading])

    assert codes(visible_persons(world.keeper_a)) == codes([at_a, heading])  # at or heading to A
    assert codes(visible_persons(world.keeper_b)) == codes([at_b, heading])  # at B (heading has not left B yet)
    assert codes(visible_persons(world.caseworker)) == codes([at_a])  # assigned cases only
    assert codes(visible_persons(world.caseworker_unassigned)) == set()
    assert codes(visible_persons(world.coordinator)) == everyone
    for user in (world.analyst, world.auditor, world.administrator, world.inactive_user):
        assert not visible_persons(user).exists(), user.role


def test_the_needs_of_each_role(world: SimpleNamespace) -> None:
    expected = {
        Role.KEEPER: {Need.VIEW, Need.NEEDS, Need.MOVE},
        Role.CASEWORKER: {Need.VIEW, Need.VIEW_FULL, Need.NEEDS, Need.CARE, Need.HISTORY, Need.STATUS},
        Role.COORDINATOR: set(Need),
        Role.ANALYST: set(),
        Role.AUDITOR: set(),
        Role.ADMINISTRATOR: set(),
    }
    for role, needs in expected.items():
        assert {need for need in Need if can(world.personas[role], need)} == needs, role
    assert not any(can(world.inactive_user, need) for need in Need)


def test_case_for_user_answers_404_to_outsiders_and_403_to_those_who_may_only_look(world: SimpleNamespace) -> None:
    code_a, code_b = world.person_at_a.case_code, world.person_at_b.case_code

    assert case_for_user(world.keeper_a, code_a, Need.VIEW) == world.person_at_a
    assert case_for_user(world.keeper_a, code_a.lower(), Need.MOVE) == world.person_at_a
    with pytest.raises(PermissionDenied):
        case_for_user(world.keeper_a, code_a, Need.VIEW_FULL)
    with pytest.raises(Http404):
        case_for_user(world.keeper_a, code_b, Need.VIEW)
    # An outsider learns nothing, not even that a change would be refused.
    with pytest.raises(Http404):
        case_for_user(world.keeper_a, code_b, Need.ASSIGN)
    with pytest.raises(Http404):
        case_for_user(world.caseworker, code_b, Need.VIEW)
    with pytest.raises(PermissionDenied):
        case_for_user(world.caseworker, code_a, Need.MOVE)
    for user in (world.analyst, world.auditor, world.administrator):
        with pytest.raises(Http404):
            case_for_user(user, code_a, Need.VIEW)


def test_a_keeper_sees_those_at_or_heading_to_their_station_and_no_one_else(
    world: SimpleNamespace, client_for: Any
) -> None:
    client = client_for(world.keeper_a)
    listing = client.get("/cases/").content.decode()
    assert world.person_at_a.case_code in listing
    assert world.person_heading_to_a.case_code in listing
    assert world.person_at_b.case_code not in listing
    # Searching for a hidden code finds nothing either.
    search = client.get("/cases/", {"q": world.person_at_b.case_code}).content.decode()
    assert f'href="/cases/{world.person_at_b.case_code}/"' not in search

    # When the movement to A fails, she stays at B: keeper A no longer knows of her.
    movement_end(
        actor=world.coordinator,
        movement=open_movement(world.person_heading_to_a.pk),
        outcome=MovementStatus.FAILED,
    )
    assert client.get(f"/cases/{world.person_heading_to_a.case_code}/").status_code == 404
    assert client_for(world.keeper_b).get(f"/cases/{world.person_heading_to_a.case_code}/").status_code == 200


def test_a_caseworker_loses_sight_of_a_case_when_the_assignment_ends(world: SimpleNamespace, client_for: Any) -> None:
    client = client_for(world.caseworker)
    url = f"/cases/{world.person_at_a.case_code}/"
    assert client.get(url).status_code == 200

    assignment = world.person_at_a.assignments.get(worker=world.caseworker, ended_at__isnull=True)
    care_services.assignment_end(actor=world.coordinator, assignment=assignment)

    assert client.get(url).status_code == 404
    assert world.person_at_a.case_code not in client.get("/").content.decode()


def test_the_keeper_sees_minimum_fields_only(world: SimpleNamespace, client_for: Any) -> None:
    person_update(actor=world.coordinator, person=world.person_at_a, contacts="WeChat fictional-0000")
    page = client_for(world.keeper_a).get(f"/cases/{world.person_at_a.case_code}/").content.decode()
    assert "Gasang Hana (fictional)" in page  # to recognise her
    assert "WeChat fictional-0000" not in page
    assert "Exploitation history" not in page


# --- the canary: sensitive content goes where it may and nowhere else ------------------------------------------------

CANARY = "CANARY-7f3a"


def canary(field: str) -> str:
    return f"{CANARY}-{field}"


def fill_every_sensitive_field(world: SimpleNamespace) -> set[tuple[str, str]]:
    """Put a canary into every sensitive field of person_at_a's case; return the (model, field) pairs filled."""
    actor, person = world.coordinator, world.person_at_a
    identity = ("name_hangul", "name_romanized", "name_chinese", "aliases", "contacts", "narrative")
    person_update(actor=actor, person=person, **{f: canary(f) for f in identity})
    # The service accepts only a real date here; the canary goes in below the service (still through the field,
    # which encrypts: a raw UPDATE of plaintext is refused by the field type).
    person.date_of_birth = canary("date_of_birth")
    with acting(actor):
        person.save(update_fields=["date_of_birth"])
    consent_record(actor=actor, person=person, scope=ConsentScope.PHOTOS, given=True)
    person_set_photo(actor=actor, person=person, data=world.photo + canary("photo").encode())
    movement_plan(actor=actor, person=person, to_station=world.station_c, note=canary("movement.note"))
    episode_add(actor=actor, person=person, exploitation_type="forced_marriage", note=canary("episode.note"))
    care_services.needs_assess(
        actor=actor,
        person=person,
        assessed_on=timezone.localdate(),
        levels={NeedArea.MEDICAL: 2},
        risk_level="high",
        note=canary("assessment.note"),
    )
    world.goal_a.description = canary("goal.description")
    with acting(actor):
        world.goal_a.save(update_fields=["description"])
    care_services.service_record(
        actor=actor, person=person, kind="counselling", delivered_on=timezone.localdate(), note=canary("service.note")
    )
    consent_record(actor=actor, person=person, scope=ConsentScope.SHARING, given=True, partner=world.partner)
    care_services.referral_make(
        actor=actor,
        person=person,
        partner=world.partner,
        area=NeedArea.MEDICAL,
        referred_on=timezone.localdate(),
        note=canary("referral.note"),
    )
    world.task_a.detail = canary("task.detail")
    with acting(actor):
        world.task_a.save(update_fields=["detail"])
    care_services.note_add(actor=actor, person=person, text=canary("note.text"))
    return {
        *(("cases.person", f) for f in (*identity, "date_of_birth", "photo")),
        ("network.movement", "note"),
        ("cases.exploitationepisode", "note"),
        ("cases.needsassessment", "note"),
        ("cases.careplangoal", "description"),
        ("cases.servicerecord", "note"),
        ("cases.referral", "note"),
        ("cases.followuptask", "detail"),
        ("cases.casenote", "text"),
    }


def every_page(client: Any, url_routes: list[Any], world: SimpleNamespace) -> dict[str, str]:
    """GET every route (but those that sign out) for person_at_a's case and station A; path -> body."""
    values = world.route_values
    pages = {}
    for route in url_routes:
        if route.name in (None, "quick_exit", "accounts:logout"):
            continue
        url = reverse(route.name, kwargs={k: values[k] for k in route.kwargs})
        pages[url] = client.get(url).content.decode(errors="replace")
    for extra in ("/cases/?status=sheltered", f"/cases/?q={world.person_at_a.case_code}"):
        pages[extra] = client.get(extra).content.decode(errors="replace")
    return pages


@pytest.fixture
def canary_world(world: SimpleNamespace) -> SimpleNamespace:
    filled = fill_every_sensitive_field(world)
    missing = {(label, field) for label, fields in sensitive_fields().items() for field in fields} - filled
    assert not missing, f"add these sensitive fields to the canary test: {sorted(missing)}"
    return world


def test_no_canary_reaches_the_audit_trail_and_pages_show_only_what_the_role_may_see(
    canary_world: SimpleNamespace, url_routes: list[Any], client_for: Any, caplog: pytest.LogCaptureFixture
) -> None:
    world = canary_world
    viewers = {**world.personas, "keeper_b": world.keeper_b, "unassigned": world.caseworker_unassigned}
    seen: dict[str, str] = {}
    for name, user in [*viewers.items(), ("anonymous", None)]:
        pages = every_page(client_for(user), url_routes, world)
        seen[name] = "\n".join(pages.values())

    # The audit trail holds ids and codes, never content: not in any column of any event.
    rows = list(AuditEvent.objects.values())
    assert any(r["action"] == "reveal" for r in rows)
    leaked = [r for r in rows if CANARY in json.dumps(r, default=str)]
    assert not leaked, leaked
    assert CANARY not in seen[Role.AUDITOR]  # the auditor's pages, the audit trail among them
    assert CANARY not in caplog.text  # nor the logs

    # The coordinator and the assigned caseworker see it all (so the canaries are really there to find).
    for role in (Role.COORDINATOR, Role.CASEWORKER):
        for field in ("narrative", "contacts", "note.text", "episode.note", "goal.description"):
            assert canary(field) in seen[role], (role, field)

    # The keeper of A sees the names she needs to recognise the person, and nothing more.
    assert _canaries_in(seen[Role.KEEPER]) == {canary(f) for f in PERSON_FIELDS_FOR_ROLE[Role.KEEPER]}

    # Everyone else sees no content at all, the narrative least of all.
    for name in (Role.ANALYST, Role.AUDITOR, Role.ADMINISTRATOR, "inactive", "keeper_b", "unassigned", "anonymous"):
        assert CANARY not in seen[name], (name, sorted(_canaries_in(seen[name])))


def _canaries_in(text: str) -> set[str]:
    return set(re.findall(rf"{CANARY}-[a-z_.]+", text))


def test_a_reveal_is_audited_before_any_value_is_returned(
    world: SimpleNamespace, monkeypatch: pytest.MonkeyPatch, client_for: Any
) -> None:
    person = world.person_at_a
    person_update(actor=world.coordinator, person=person, narrative=canary("narrative"))

    values = reveal(user=world.caseworker, items=[(person, ["narrative"])], purpose="test", case_id=person.id)
    assert values == [{"narrative": canary("narrative")}]
    event = AuditEvent.objects.filter(action="reveal").latest("id")
    assert event.actor == world.caseworker and event.purpose == "test" and event.case_id == person.id
    assert "person.narrative" in json.dumps(event.details)

    client = client_for(world.caseworker)  # signing in is audited too: before the audit log goes down
    client.raise_request_exception = False
    with audit_unavailable(monkeypatch):
        with pytest.raises(RuntimeError):
            reveal(user=world.caseworker, items=[(person, ["narrative"])], purpose="test", case_id=person.id)
        response = client.get(f"/cases/{person.case_code}/")
    assert response.status_code == 500
    assert canary("narrative") not in response.content.decode()


def test_reveal_refuses_fields_that_are_not_sensitive(world: SimpleNamespace) -> None:
    before = AuditEvent.objects.count()
    with pytest.raises(ValueError, match="not a sensitive field"):
        reveal(user=world.caseworker, items=[(world.person_at_a, ["case_code"])], purpose="test")
    assert AuditEvent.objects.count() == before


def test_viewing_a_case_page_writes_one_reveal_event_naming_fields_not_values(
    world: SimpleNamespace, client_for: Any
) -> None:
    person = world.person_at_a
    before = AuditEvent.objects.filter(action="reveal").count()
    client_for(world.keeper_a).get(f"/cases/{person.case_code}/")
    events = list(AuditEvent.objects.filter(action="reveal").order_by("id")[before:])
    assert len(events) == 1
    event = events[0]
    assert event.actor == world.keeper_a and event.case_id == person.id and event.purpose == "case_page"
    assert set(event.details["fields"]) == {"person.name_hangul", "person.name_romanized"}


def test_the_case_page_names_the_staff_of_each_record_and_reads_no_one_elses_password_hash(
    world: SimpleNamespace, client_for: Any
) -> None:
    """Who gave a service, wrote a note, holds a task, recorded a consent and works on the case, by username; read
    together, and only their usernames: no other staff member's row (password hashes included) reaches the page."""
    person, caseworker, coordinator = world.person_at_a, world.caseworker, world.coordinator
    today = timezone.localdate()
    care_services.service_record(actor=caseworker, person=person, kind="medical", delivered_on=today)
    care_services.note_add(actor=coordinator, person=person, text="A fictional note.")
    care_services.task_add(actor=coordinator, person=person, kind="contact", due_on=today, assigned_to=caseworker)
    consent_record(actor=caseworker, person=person, scope=ConsentScope.STATISTICS, given=True)
    client = client_for(coordinator)
    with CaptureQueriesContext(connection) as queries:
        page = client.get(f"/cases/{person.case_code}/").content.decode()

    def section(heading_id: str) -> str:
        return page.split(f'id="{heading_id}"', 1)[1].split("</section>", 1)[0]

    assert caseworker.username in section("svc-h")
    assert coordinator.username in section("notes-h")
    assert caseworker.username in section("task-h")
    assert caseworker.username in section("consent-h")
    assert caseworker.username in section("team-h")
    user_rows = [q["sql"] for q in queries if '"accounts_user"."password"' in q["sql"]]
    assert len(user_rows) == 1  # the signed-in coordinator's own, by the session
    assert len([q for q in queries if 'FROM "accounts_user"' in q["sql"]]) == 2


def test_the_photo_form_on_the_case_page_speaks_each_users_language(world: SimpleNamespace, client_for: Any) -> None:
    """The form's HTML is made once per language (``cases.forms.photo_form_html``): a Korean page after an English
    one has it in Korean, and the other way round."""
    pages = {}
    for language in ("en", "ko", "en"):
        client = client_for(world.coordinator)
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
        pages[language] = client.get(f"/cases/{world.person_at_a.case_code}/").content.decode()
    help_text = "JPEG or PNG, at most 2 MB. Only with the person's consent to photos."
    with translation.override("ko"):
        korean = translation.gettext(help_text)
    assert korean != help_text
    assert korean in pages["ko"] and help_text not in pages["ko"]  # (a help text is shown as written)
    assert help_text in pages["en"] and korean not in pages["en"]
    assert '<input type="file" name="photo" accept="image/jpeg,image/png"' in pages["en"]


def test_a_hidden_case_looks_exactly_like_one_that_does_not_exist(world: SimpleNamespace, client_for: Any) -> None:
    client = client_for(world.keeper_a)
    hidden_code = world.person_at_b.case_code
    hidden = client.get(f"/cases/{hidden_code}/")
    missing = client.get("/cases/ZZZZ-0000/")
    assert hidden.status_code == missing.status_code == 404

    def neutral(response: Any, code: str) -> str:
        text = response.content.decode().replace(code, "CODE")
        return re.sub(r"[A-Za-z0-9]{64}", "TOKEN", text)  # masked CSRF tokens differ on every page

    assert neutral(hidden, hidden_code) == neutral(missing, "ZZZZ-0000")
