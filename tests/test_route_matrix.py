"""Every route of the URL configuration against every role: the access rules of DESIGN.md, written down once.

The test walks ``get_resolver()`` (includes followed), so a new route fails here until it has a line below.

Rows are the statuses of a GET for each role, in ``ROLES`` order, on the role's own sample:
    a case code   -> ``person_at_a`` (the keeper keeps station A, the caseworker is assigned to her)
    a station     -> station A
    ids           -> the goal, task and latest movement of ``person_at_a``; the user id of a second caseworker
A route with a case code or a station code name has a second row, ``"<name> [hidden]"``: the same request for a
record this role may not know exists (keeper of A: the person or station at B; caseworker: an unassigned case;
coordinator, who sees everything: a code that does not exist; everyone else: the person or station at B).

Routes that answer a GET with 405 from every signed-in role are POST-only; they also need a row in ``POST`` (the
status of a well-formed POST with a valid CSRF token; each POST is rolled back so the walk changes nothing).

    OK 200 · FOUND 302 to anywhere but the sign-in page · LOGIN 302 to the sign-in page · DENIED 403 (may know the
    record exists, may not do this) · GONE 404 (may not know it exists, or it does not) · NO_METHOD 405
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import transaction
from django.urls import reverse

from waystation.interop import htcds_export
from waystation.testing import vault as test_vault
from waystation.vault.agent import handle_for

OK, FOUND, LOGIN, DENIED, GONE, NO_METHOD = 200, 302, "login", 403, 404, 405

ROLES = ("keeper", "caseworker", "coordinator", "analyst", "auditor", "administrator", "anonymous", "inactive")
SIGNED_IN = ROLES[:6]

# fmt: off
GET: dict[str, tuple[Any, ...]] = {
    #                                 keeper     casewrk    coord      analyst    auditor    admin      anon   inactive
    # Public pages.
    "accounts:login":               (FOUND,     FOUND,     FOUND,     FOUND,     FOUND,     FOUND,     OK,    OK),
    "set_language":                 (FOUND,     FOUND,     FOUND,     FOUND,     FOUND,     FOUND,     FOUND, FOUND),
    "quick_exit":                   (FOUND,     FOUND,     FOUND,     FOUND,     FOUND,     FOUND,     FOUND, FOUND),
    # Accounts: signing out is a POST; users are the administrator's.
    "accounts:logout":              (NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, LOGIN, LOGIN),
    "accounts:users":               (DENIED,    DENIED,    DENIED,    DENIED,    DENIED,    OK,        LOGIN, LOGIN),
    "accounts:user_create":         (DENIED,    DENIED,    DENIED,    DENIED,    DENIED,    OK,        LOGIN, LOGIN),
    "accounts:user_set_active":     (NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, LOGIN, LOGIN),
    "accounts:user_unlock":         (NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, LOGIN, LOGIN),
    "accounts:security":            (OK,        OK,        OK,        OK,        OK,        OK,        LOGIN, LOGIN),
    "accounts:two_factor":          (FOUND,     FOUND,     FOUND,     FOUND,     FOUND,     FOUND,     LOGIN, LOGIN),
    "accounts:two_factor_setup":    (FOUND,     FOUND,     FOUND,     FOUND,     FOUND,     FOUND,     LOGIN, LOGIN),
    # Re-authentication before sensitive actions (a form; its POST is the password and a code): any signed-in user.
    "accounts:reauth":              (OK,        OK,        OK,        OK,        OK,        OK,        LOGIN, LOGIN),
    "accounts:backup_codes_new":    (NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, LOGIN, LOGIN),
    "accounts:user_reset_2fa":      (NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, LOGIN, LOGIN),
    "accounts:user_reset_password": (NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, LOGIN, LOGIN),
    "accounts:sign_out_everywhere": (NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, LOGIN, LOGIN),
    "accounts:end_all_sessions":    (NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, LOGIN, LOGIN),
    # Passkeys: every signed-in user's own (the page and its two POST actions need re-authentication).
    "passkeys:list":                (OK,        OK,        OK,        OK,        OK,        OK,        LOGIN, LOGIN),
    "passkeys:add":                 (NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, LOGIN, LOGIN),
    "passkeys:remove":              (NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, LOGIN, LOGIN),
    # One's own password and duress password: every signed-in user. Clearing a duress flag: coordinator, administrator.
    "accounts:password_change":     (OK,        OK,        OK,        OK,        OK,        OK,        LOGIN, LOGIN),
    "accounts:duress_password":     (OK,        OK,        OK,        OK,        OK,        OK,        LOGIN, LOGIN),
    "accounts:duress_clear":        (NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, LOGIN, LOGIN),
    # API tokens: every signed-in user's own page (a role without scopes sees that it cannot use the API).
    "api_tokens:list":              (OK,        OK,        OK,        OK,        OK,        OK,        LOGIN, LOGIN),
    "api_tokens:create":            (NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, LOGIN, LOGIN),
    "api_tokens:revoke":            (NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, LOGIN, LOGIN),
    # Every role has a dashboard; the audit trail is the auditor's alone.
    "web:dashboard":                (OK,        OK,        OK,        OK,        OK,        OK,        LOGIN, LOGIN),
    "audit:events":                 (DENIED,    DENIED,    DENIED,    DENIED,    OK,        DENIED,    LOGIN, LOGIN),
    # Cases. Analyst, auditor and administrator may not know that any single case exists: 404 on every case page.
    "cases:list":                   (OK,        OK,        OK,        DENIED,    DENIED,    DENIED,    LOGIN, LOGIN),
    "cases:register":               (OK,        DENIED,    OK,        DENIED,    DENIED,    DENIED,    LOGIN, LOGIN),
    "cases:detail":                 (OK,        OK,        OK,        GONE,      GONE,      GONE,      LOGIN, LOGIN),
    "cases:detail [hidden]":        (GONE,      GONE,      GONE,      GONE,      GONE,      GONE,      LOGIN, LOGIN),
    # Identity, care, consent and family: caseworker and coordinator; the keeper sees the case but may not.
    "cases:edit":                   (DENIED,    OK,        OK,        GONE,      GONE,      GONE,      LOGIN, LOGIN),
    "cases:edit [hidden]":          (GONE,      GONE,      GONE,      GONE,      GONE,      GONE,      LOGIN, LOGIN),
    "cases:consent":                (DENIED,    OK,        OK,        GONE,      GONE,      GONE,      LOGIN, LOGIN),
    "cases:consent [hidden]":       (GONE,      GONE,      GONE,      GONE,      GONE,      GONE,      LOGIN, LOGIN),
    "cases:family":                 (DENIED,    OK,        OK,        GONE,      GONE,      GONE,      LOGIN, LOGIN),
    "cases:family [hidden]":        (GONE,      GONE,      GONE,      GONE,      GONE,      GONE,      LOGIN, LOGIN),
    "cases:goal":                   (DENIED,    OK,        OK,        GONE,      GONE,      GONE,      LOGIN, LOGIN),
    "cases:goal [hidden]":          (GONE,      GONE,      GONE,      GONE,      GONE,      GONE,      LOGIN, LOGIN),
    "cases:service":                (DENIED,    OK,        OK,        GONE,      GONE,      GONE,      LOGIN, LOGIN),
    "cases:service [hidden]":       (GONE,      GONE,      GONE,      GONE,      GONE,      GONE,      LOGIN, LOGIN),
    "cases:referral":               (DENIED,    OK,        OK,        GONE,      GONE,      GONE,      LOGIN, LOGIN),
    "cases:referral [hidden]":      (GONE,      GONE,      GONE,      GONE,      GONE,      GONE,      LOGIN, LOGIN),
    "cases:task":                   (DENIED,    OK,        OK,        GONE,      GONE,      GONE,      LOGIN, LOGIN),
    "cases:task [hidden]":          (GONE,      GONE,      GONE,      GONE,      GONE,      GONE,      LOGIN, LOGIN),
    "cases:note":                   (DENIED,    OK,        OK,        GONE,      GONE,      GONE,      LOGIN, LOGIN),
    "cases:note [hidden]":          (GONE,      GONE,      GONE,      GONE,      GONE,      GONE,      LOGIN, LOGIN),
    # The photo itself is full case content: not for the keeper.
    "cases:photo":                  (DENIED,    OK,        OK,        GONE,      GONE,      GONE,      LOGIN, LOGIN),
    "cases:photo [hidden]":         (GONE,      GONE,      GONE,      GONE,      GONE,      GONE,      LOGIN, LOGIN),
    # Exploitation history, status and closing: caseworker and coordinator.
    "cases:episode":                (DENIED,    OK,        OK,        GONE,      GONE,      GONE,      LOGIN, LOGIN),
    "cases:episode [hidden]":       (GONE,      GONE,      GONE,      GONE,      GONE,      GONE,      LOGIN, LOGIN),
    "cases:status":                 (DENIED,    OK,        OK,        GONE,      GONE,      GONE,      LOGIN, LOGIN),
    "cases:status [hidden]":        (GONE,      GONE,      GONE,      GONE,      GONE,      GONE,      LOGIN, LOGIN),
    "cases:close":                  (DENIED,    OK,        OK,        GONE,      GONE,      GONE,      LOGIN, LOGIN),
    "cases:close [hidden]":         (GONE,      GONE,      GONE,      GONE,      GONE,      GONE,      LOGIN, LOGIN),
    # Basic needs: the keeper too.
    "cases:needs":                  (OK,        OK,        OK,        GONE,      GONE,      GONE,      LOGIN, LOGIN),
    "cases:needs [hidden]":         (GONE,      GONE,      GONE,      GONE,      GONE,      GONE,      LOGIN, LOGIN),
    # Movements: keeper and coordinator. Assigning caseworkers: the coordinator.
    "cases:move":                   (OK,        DENIED,    OK,        GONE,      GONE,      GONE,      LOGIN, LOGIN),
    "cases:move [hidden]":          (GONE,      GONE,      GONE,      GONE,      GONE,      GONE,      LOGIN, LOGIN),
    "cases:assign":                 (DENIED,    DENIED,    OK,        GONE,      GONE,      GONE,      LOGIN, LOGIN),
    "cases:shred":                  (DENIED,    DENIED,    OK,        GONE,      GONE,      GONE,      LOGIN, LOGIN),
    "cases:shred [hidden]":         (GONE,      GONE,      GONE,       GONE,      GONE,      GONE,      LOGIN, LOGIN),
    "vault:kill_switch":            (DENIED,    DENIED,    OK,        DENIED,    DENIED,    OK,        LOGIN, LOGIN),
    "cases:assign [hidden]":        (GONE,      GONE,      GONE,      GONE,      GONE,      GONE,      LOGIN, LOGIN),
    # POST-only case actions.
    "cases:goal_status":            (NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, LOGIN, LOGIN),
    "cases:referral_status":        (NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, LOGIN, LOGIN),
    "cases:referral_status [hidden]": (NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, LOGIN, LOGIN),
    "cases:goal_status [hidden]":   (NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, LOGIN, LOGIN),
    "cases:task_done":              (NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, LOGIN, LOGIN),
    "cases:assignment_end":         (NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, LOGIN, LOGIN),
    "cases:assignment_end [hidden]": (NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, LOGIN, LOGIN),
    "cases:task_done [hidden]":     (NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, LOGIN, LOGIN),
    "cases:movement_update":        (NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, LOGIN, LOGIN),
    "cases:movement_update [hidden]": (NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, LOGIN, LOGIN),
    # Stations: keepers see their own, caseworkers and coordinators all; only the coordinator manages them.
    "network:stations":             (OK,        OK,        OK,        DENIED,    DENIED,    DENIED,    LOGIN, LOGIN),
    "network:station_create":       (DENIED,    DENIED,    OK,        DENIED,    DENIED,    DENIED,    LOGIN, LOGIN),
    "network:station":              (OK,        OK,        OK,        GONE,      GONE,      GONE,      LOGIN, LOGIN),
    "network:station [hidden]":     (GONE,      GONE,      GONE,      GONE,      GONE,      GONE,      LOGIN, LOGIN),
    "network:station_edit":         (DENIED,    DENIED,    OK,        GONE,      GONE,      GONE,      LOGIN, LOGIN),
    "network:station_edit [hidden]": (GONE,     GONE,      GONE,      GONE,      GONE,      GONE,      LOGIN, LOGIN),
    "network:station_status":       (NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, LOGIN, LOGIN),
    "network:station_status [hidden]": (NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, LOGIN, LOGIN),
    "network:leg_set":              (NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, LOGIN, LOGIN),
    "network:leg_set [hidden]":     (NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, LOGIN, LOGIN),
    # Spreadsheet import: the coordinator's. Without an upload (or a running import) in the session, the later
    # steps send the coordinator back to the upload page; the status answers {"state": "none"}.
    "intake:upload":                (DENIED,    DENIED,    OK,        DENIED,    DENIED,    DENIED,    LOGIN, LOGIN),
    "intake:mapping":               (DENIED,    DENIED,    FOUND,     DENIED,    DENIED,    DENIED,    LOGIN, LOGIN),
    "intake:preview":               (DENIED,    DENIED,    FOUND,     DENIED,    DENIED,    DENIED,    LOGIN, LOGIN),
    "intake:progress":              (DENIED,    DENIED,    FOUND,     DENIED,    DENIED,    DENIED,    LOGIN, LOGIN),
    "intake:status":                (DENIED,    DENIED,    OK,        DENIED,    DENIED,    DENIED,    LOGIN, LOGIN),
    "intake:result":                (DENIED,    DENIED,    FOUND,     DENIED,    DENIED,    DENIED,    LOGIN, LOGIN),
    "intake:start":                 (NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, LOGIN, LOGIN),
    "intake:cancel":                (NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, LOGIN, LOGIN),
    # The review of duplicates: the coordinator's alone (a list of who may be one person is itself sensitive).
    "linkage:queue":                (DENIED,    DENIED,    OK,        DENIED,    DENIED,    DENIED,    LOGIN, LOGIN),
    "linkage:pair":                 (DENIED,    DENIED,    OK,        DENIED,    DENIED,    DENIED,    LOGIN, LOGIN),
    "linkage:merges":               (DENIED,    DENIED,    OK,        DENIED,    DENIED,    DENIED,    LOGIN, LOGIN),
    "linkage:refresh":              (NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, LOGIN, LOGIN),
    "linkage:merge":                (NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, LOGIN, LOGIN),
    "linkage:not_same":             (NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, LOGIN, LOGIN),
    "linkage:undo":                 (NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, LOGIN, LOGIN),
    # Sync: peers are the coordinator's and the administrator's; the hub's queue the coordinator's (it opens keys).
    "sync:home":                    (DENIED,    DENIED,    OK,        DENIED,    DENIED,    OK,        LOGIN, LOGIN),
    "sync:enrol":                   (DENIED,    DENIED,    OK,        DENIED,    DENIED,    OK,        LOGIN, LOGIN),
    "sync:revoke":                  (NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, LOGIN, LOGIN),
    "sync:process":                 (NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, LOGIN, LOGIN),
    # The network endpoints: installations, not people (the signature authenticates): POST only, for anyone.
    "sync:push":                    (NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, 405,   405),
    "sync:pull":                    (NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, 405,   405),
    # Sync conflicts: the coordinator's (the sample conflict id does not exist: 404 for the coordinator).
    "sync_changes:list":            (DENIED,    DENIED,    OK,        DENIED,    DENIED,    DENIED,    LOGIN, LOGIN),
    "sync_changes:detail":          (DENIED,    DENIED,    GONE,      DENIED,    DENIED,    DENIED,    LOGIN, LOGIN),
    "sync_changes:resolve":         (NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, NO_METHOD, LOGIN, LOGIN),
}

POST: dict[str, tuple[Any, ...]] = {
    #                                 keeper     casewrk    coord      analyst    auditor    admin      anon   inactive
    "accounts:logout":              (FOUND,     FOUND,     FOUND,     FOUND,     FOUND,     FOUND,     LOGIN, LOGIN),
    "accounts:user_set_active":     (DENIED,    DENIED,    DENIED,    DENIED,    DENIED,    FOUND,     LOGIN, LOGIN),
    "accounts:user_unlock":         (DENIED,    DENIED,    DENIED,    DENIED,    DENIED,    FOUND,     LOGIN, LOGIN),
    "accounts:sign_out_everywhere": (FOUND,     FOUND,     FOUND,     FOUND,     FOUND,     FOUND,     LOGIN, LOGIN),
    "accounts:end_all_sessions":    (DENIED,    DENIED,    DENIED,    DENIED,    DENIED,    FOUND,     LOGIN, LOGIN),
    "accounts:backup_codes_new":    (OK,        OK,        OK,        OK,        OK,        OK,        LOGIN, LOGIN),
    "accounts:user_reset_2fa":      (DENIED,    DENIED,    DENIED,    DENIED,    DENIED,    FOUND,     LOGIN, LOGIN),
    "accounts:user_reset_password": (DENIED,    DENIED,    DENIED,    DENIED,    DENIED,    OK,        LOGIN, LOGIN),
    # An empty form: the page again with its error. No passkey id: none of the user's own.
    "passkeys:add":                 (OK,        OK,        OK,        OK,        OK,        OK,        LOGIN, LOGIN),
    "passkeys:remove":              (GONE,      GONE,      GONE,      GONE,      GONE,      GONE,      LOGIN, LOGIN),
    "accounts:duress_clear":        (DENIED,    DENIED,    FOUND,     DENIED,    DENIED,    FOUND,     LOGIN, LOGIN),
    # An empty form: the page again with its errors; roles without API scopes are refused. No token: none of theirs.
    "api_tokens:create":            (OK,        OK,        OK,        OK,        DENIED,    DENIED,    LOGIN, LOGIN),
    "api_tokens:revoke":            (GONE,      GONE,      GONE,      GONE,      GONE,      GONE,      LOGIN, LOGIN),
    "cases:goal_status":            (DENIED,    FOUND,     FOUND,     GONE,      GONE,      GONE,      LOGIN, LOGIN),
    "cases:referral_status":        (DENIED,    FOUND,     FOUND,     GONE,      GONE,      GONE,      LOGIN, LOGIN),
    "cases:referral_status [hidden]": (GONE,    GONE,      GONE,      GONE,      GONE,      GONE,      LOGIN, LOGIN),
    "cases:goal_status [hidden]":   (GONE,      GONE,      GONE,      GONE,      GONE,      GONE,      LOGIN, LOGIN),
    "cases:task_done":              (DENIED,    FOUND,     FOUND,     GONE,      GONE,      GONE,      LOGIN, LOGIN),
    "cases:assignment_end":         (DENIED,    DENIED,    FOUND,     GONE,      GONE,      GONE,      LOGIN, LOGIN),
    "cases:assignment_end [hidden]": (GONE,     GONE,      GONE,      GONE,      GONE,      GONE,      LOGIN, LOGIN),
    "cases:task_done [hidden]":     (GONE,      GONE,      GONE,      GONE,      GONE,      GONE,      LOGIN, LOGIN),
    "cases:movement_update":        (FOUND,     DENIED,    FOUND,     GONE,      GONE,      GONE,      LOGIN, LOGIN),
    "cases:movement_update [hidden]": (GONE,    GONE,      GONE,      GONE,      GONE,      GONE,      LOGIN, LOGIN),
    "network:station_status":       (DENIED,    DENIED,    FOUND,     GONE,      GONE,      GONE,      LOGIN, LOGIN),
    "network:station_status [hidden]": (GONE,   GONE,      GONE,      GONE,      GONE,      GONE,      LOGIN, LOGIN),
    "network:leg_set":              (DENIED,    DENIED,    FOUND,     GONE,      GONE,      GONE,      LOGIN, LOGIN),
    "network:leg_set [hidden]":     (GONE,      GONE,      GONE,      GONE,      GONE,      GONE,      LOGIN, LOGIN),
    "intake:start":                 (DENIED,    DENIED,    FOUND,     DENIED,    DENIED,    DENIED,    LOGIN, LOGIN),
    "intake:cancel":                (DENIED,    DENIED,    FOUND,     DENIED,    DENIED,    DENIED,    LOGIN, LOGIN),
    # Refreshing the queue runs the matcher; the sample merge is undone already (a message, nothing changes).
    "linkage:refresh":              (DENIED,    DENIED,    FOUND,     DENIED,    DENIED,    DENIED,    LOGIN, LOGIN),
    "linkage:merge":                (DENIED,    DENIED,    FOUND,     DENIED,    DENIED,    DENIED,    LOGIN, LOGIN),
    "linkage:not_same":             (DENIED,    DENIED,    FOUND,     DENIED,    DENIED,    DENIED,    LOGIN, LOGIN),
    "linkage:undo":                 (DENIED,    DENIED,    FOUND,     DENIED,    DENIED,    DENIED,    LOGIN, LOGIN),
    # No peer of that name: 404 for those who manage peers.
    "sync:revoke":                  (DENIED,    DENIED,    GONE,      DENIED,    DENIED,    GONE,      LOGIN, LOGIN),
    "sync:process":                 (DENIED,    DENIED,    FOUND,     DENIED,    DENIED,    DENIED,    LOGIN, LOGIN),
    # A form is not a bundle: refused as such (400), whoever sends it.
    "sync:push":                    (400,       400,       400,       400,       400,       400,       400,   400),
    "sync:pull":                    (400,       400,       400,       400,       400,       400,       400,   400),
    "sync_changes:resolve":         (DENIED,    DENIED,    GONE,      DENIED,    DENIED,    DENIED,    LOGIN, LOGIN),
}
# fmt: on

# The body of each POST-only route's request: well-formed, so that only access decides the answer.
POST_BODIES: dict[str, dict[str, str]] = {
    "accounts:logout": {},
    "accounts:user_set_active": {"active": "0"},
    "accounts:user_unlock": {},
    "accounts:sign_out_everywhere": {},
    "accounts:end_all_sessions": {},
    "accounts:backup_codes_new": {},
    "accounts:user_reset_2fa": {},
    "accounts:user_reset_password": {},
    "passkeys:add": {},
    "passkeys:remove": {},
    "accounts:duress_clear": {},
    "api_tokens:create": {},
    "api_tokens:revoke": {},
    "cases:goal_status": {"status": "achieved"},
    "cases:referral_status": {"status": "accepted"},
    "cases:task_done": {},
    "cases:assignment_end": {},
    "cases:movement_update": {"action": "arrived"},
    "network:station_status": {"status": "suspended"},
    "network:leg_set": {"to_station": "CEDAR", "usual_days": "6"},
    "intake:start": {},
    "intake:cancel": {},
    "linkage:refresh": {},
    "linkage:merge": {"keep": "a"},
    "linkage:not_same": {},
    "linkage:undo": {},
    "sync:revoke": {"name": "NOSUCHPEER"},
    "sync:process": {},
    "sync:push": {},
    "sync:pull": {},
    "sync_changes:resolve": {"choice": "0"},
}

NO_SUCH_CASE = "ZZZZ-0000"  # Z and 0 are not in the case code alphabet: this code can never exist
NO_SUCH_STATION = "NOWHERE"
HIDING_ARGS = {"code", "code_name"}
SIGNS_OUT = {"quick_exit", "accounts:logout", "accounts:sign_out_everywhere", "accounts:end_all_sessions"}


def sample_kwargs(world: SimpleNamespace, role: str, hidden: bool, names: tuple[str, ...]) -> dict[str, Any]:
    """URL arguments for this role: its own sample, or a record hidden from it."""
    person = world.person_at_a
    station_code = world.station_a.code_name
    case_code = person.case_code
    if hidden:
        person = world.person_at_b
        case_code, station_code = person.case_code, world.station_b.code_name
        if role == "coordinator":  # sees every case: hidden means a code that does not exist
            case_code = NO_SUCH_CASE
        if role in ("caseworker", "coordinator"):  # see every station
            station_code = NO_SUCH_STATION
    values = {
        "code": case_code,
        "code_name": station_code,
        "goal_id": world.goal_a.pk,
        "referral_id": world.referral_a.pk,
        "task_id": world.task_a.pk,
        "movement_id": person.movements.order_by("-id").first().pk,
        "user_id": world.caseworker_unassigned.pk,
        "assignment_id": world.person_at_a.assignments.get().pk,
        "candidate_id": world.route_values["candidate_id"],
        "merge_id": world.route_values["merge_id"],
        "conflict_id": 999999,  # no such conflict: the fixtures make none
    }
    return {name: values[name] for name in names}


def _recording(calls: list[str], name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(name)
        return original(*args, **kwargs)

    return spy


def _describe(response: Any) -> Any:
    if response.status_code in (301, 302):
        return LOGIN if response["Location"].startswith(reverse("accounts:login") + "?next=") else FOUND
    return response.status_code


def _problem(key: str, method: str, role: str, url: str, expected: Any, response: Any) -> str | None:
    got = _describe(response)
    if got == expected:
        return None
    detail = ""
    if response.status_code == 500 and getattr(response, "exc_info", None):
        detail = f" ({response.exc_info[1]!r})"
    elif response.status_code in (301, 302):
        detail = f" (to {response['Location']})"
    return f"{key}: {method} {url} as {role}: expected {expected}, got {got}{detail}"


def test_every_route_answers_every_role_as_the_matrix_says(
    world: SimpleNamespace,
    url_routes: list[Any],
    client_for: Callable[..., Any],
    persona_password: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    users = {**world.personas, "anonymous": None}
    # The record-level HTCDS export is for the command line only: no request of any role may reach it.
    exports: list[str] = []
    for name in ("export_htcds", "consenting_sources"):
        original = getattr(htcds_export, name)
        monkeypatch.setattr(htcds_export, name, _recording(exports, name, original))

    def fresh_client(role: str) -> Any:
        client = client_for(users[role])
        client.raise_request_exception = False  # a server error is a finding, reported with the others
        return client

    shared = {role: fresh_client(role) for role in ROLES}

    def shared_client(role: str) -> Any:
        """The role's long-lived client, its keys put back in the agent: a route that signs out or ends every
        session (a POST rolled back in the database) drops keys from the agent, which no rollback restores."""
        client = shared[role]
        if users[role] is not None and client.session.session_key:
            test_vault.unlock(users[role], persona_password, handle=handle_for(client.session.session_key))
        return client

    problems: list[str] = []
    seen: set[str] = set()

    for route in url_routes:
        if route.name is None:
            problems.append(f"{route.label}: name the route, so that the matrix can refer to it")
            continue
        unknown_args = set(route.kwargs) - {
            "code",
            "code_name",
            "goal_id",
            "task_id",
            "movement_id",
            "user_id",
            "assignment_id",
            "referral_id",
            "candidate_id",
            "merge_id",
            "conflict_id",
        }
        if unknown_args:
            problems.append(f"{route.name}: no sample value for URL argument(s) {sorted(unknown_args)}")
            continue
        variants = [False, True] if HIDING_ARGS & set(route.kwargs) else [False]
        for hidden in variants:
            key = f"{route.name} [hidden]" if hidden else route.name
            seen.add(key)
            expected_get = GET.get(key)
            if expected_get is None:
                problems.append(f"{key}: route {route.pattern!r} has no entry in the GET matrix")
                continue
            for role, expected in zip(ROLES, expected_get, strict=True):
                url = reverse(route.name, kwargs=sample_kwargs(world, role, hidden, route.kwargs))
                client = fresh_client(role) if route.name in SIGNS_OUT else shared_client(role)
                problems.append(_problem(key, "GET", role, url, expected, client.get(url)))

            if not all(status == NO_METHOD for status in expected_get[: len(SIGNED_IN)]):
                continue
            expected_post = POST.get(key)
            if expected_post is None:
                problems.append(f"{key}: POST-only route {route.pattern!r} has no entry in the POST matrix")
                continue
            for role, expected in zip(ROLES, expected_post, strict=True):
                url = reverse(route.name, kwargs=sample_kwargs(world, role, hidden, route.kwargs))
                client = fresh_client(role)
                token = client.fetch_token()
                with transaction.atomic():
                    response = client.post(url, {**POST_BODIES[route.name], "csrfmiddlewaretoken": token})
                    transaction.set_rollback(True)
                problems.append(_problem(key, "POST", role, url, expected, response))

    stale = sorted((set(GET) | set(POST)) - seen)
    problems += [f"{key}: in the matrix but no such route any more" for key in stale]
    problems += [f"a request reached the HTCDS export ({name})" for name in exports]
    problems = [p for p in problems if p]
    assert not problems, f"{len(problems)} route/role answer(s) differ from the matrix:\n" + "\n".join(problems)


def test_the_analyst_reads_no_record_on_any_route(
    world: SimpleNamespace, url_routes: list[Any], client_for: Callable[..., Any], persona_password: str
) -> None:
    """Whatever the analyst asks for, GET or POST, on their own samples or another's: no case code, no name, no
    alias of any person comes back, in a page or in a redirect (the dashboard shows released figures only)."""
    from waystation.cases.models import Person
    from waystation.vault.reveal import reveal

    persons = list(Person.objects.all())
    assert len(persons) >= 3
    fields = ["name_hangul", "name_romanized", "aliases"]
    revealed = reveal(user=world.coordinator, items=[(p, fields) for p in persons], purpose="test")
    secrets = [p.case_code for p in persons] + [str(v[f]) for v in revealed for f in fields if len(str(v[f])) > 2]
    assert len(secrets) > len(persons)

    analyst = world.analyst
    client = client_for(analyst)
    client.raise_request_exception = False
    seen: list[str] = []
    for route in url_routes:
        if route.name is None or route.name in SIGNS_OUT:
            continue
        for role in ("analyst", "coordinator"):  # the analyst's own samples, and the coordinator's (every record)
            for hidden in (False, True):
                url = reverse(route.name, kwargs=sample_kwargs(world, role, hidden, route.kwargs))
                test_vault.unlock(analyst, persona_password, handle=handle_for(client.session.session_key))
                responses = [client.get(url)]
                with transaction.atomic():
                    token = client.fetch_token()
                    responses.append(
                        client.post(url, {**POST_BODIES.get(route.name, {}), "csrfmiddlewaretoken": token})
                    )
                    transaction.set_rollback(True)
                for response in responses:
                    text = response.content.decode(errors="replace") + response.get("Location", "")
                    # A code the analyst put in the URL may come back (the language form's "next"): that is their
                    # own input, the same whether or not such a case exists (the matrix checks the statuses).
                    leaked = [secret for secret in secrets if secret in text and secret not in url]
                    assert not leaked, f"{route.name} ({url}) shows the analyst {leaked[:3]}"
                    assert response.status_code < 500, f"{route.name} ({url}): {response.status_code}"
                seen.append(url)
    assert len(seen) >= len(url_routes)
