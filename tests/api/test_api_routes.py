"""Every operation of the JSON API against every role's token and against tokens lacking its scope.

The operations are read from the served OpenAPI schema, so a new endpoint fails here until it has a row below:
the scope it must require, and the status each role's token (carrying every scope its role allows) gets on the
role's own sample (``person_at_a``: kept by the keeper, assigned to the caseworker). Each request is rolled back.
"""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import transaction

from waystation.api.main import api
from waystation.api.tokens import ALL_SCOPES, ROLE_SCOPES, Scope
from waystation.figures.releases import release_all

ROLES = ("keeper", "caseworker", "coordinator", "analyst")
NO_SCOPE = 403  # the token lacks the scope (or the role cannot hold it)

# fmt: off
MATRIX: dict[tuple[str, str], tuple[str, tuple[int, ...]]] = {
    #                                                           keeper caseworker coordinator analyst
    ("get", "/api/v1/cases/"):                    (Scope.CASES_READ,      (200, 200, 200, NO_SCOPE)),
    ("get", "/api/v1/cases/{code}"):              (Scope.CASES_READ,      (200, 200, 200, NO_SCOPE)),
    # Coded fields, status and notes are care: the keeper's token cannot carry cases:write.
    ("patch", "/api/v1/cases/{code}"):            (Scope.CASES_WRITE,     (NO_SCOPE, 200, 200, NO_SCOPE)),
    ("post", "/api/v1/cases/{code}/status"):      (Scope.CASES_WRITE,     (NO_SCOPE, 200, 200, NO_SCOPE)),
    ("post", "/api/v1/cases/{code}/notes"):       (Scope.CASES_WRITE,     (NO_SCOPE, 201, 201, NO_SCOPE)),
    # Services are care records: the keeper may read the case but not them (403 from cases.access, as on the page).
    ("get", "/api/v1/cases/{code}/services"):     (Scope.CASES_READ,      (403, 200, 200, NO_SCOPE)),
    ("post", "/api/v1/cases/{code}/services"):    (Scope.SERVICES_WRITE,  (NO_SCOPE, 201, 201, NO_SCOPE)),
    # Movements: keepers and coordinators move people (the caseworker's token cannot carry movements:write).
    ("get", "/api/v1/cases/{code}/movements"):    (Scope.CASES_READ,      (200, 200, 200, NO_SCOPE)),
    ("post", "/api/v1/cases/{code}/movements"):   (Scope.MOVEMENTS_WRITE, (201, NO_SCOPE, 201, NO_SCOPE)),
    # The sample movement is her arrival, already over: access passes, then the service refuses (400).
    ("post", "/api/v1/cases/{code}/movements/{movement_id}"): (Scope.MOVEMENTS_WRITE, (400, NO_SCOPE, 400, NO_SCOPE)),
    ("get", "/api/v1/stations/"):                 (Scope.STATIONS_READ,   (200, 200, 200, NO_SCOPE)),
    # Figures: the analyst's alone, and nothing else is.
    ("get", "/api/v1/figures/releases"):          (Scope.FIGURES_READ,    (NO_SCOPE, NO_SCOPE, NO_SCOPE, 200)),
    ("get", "/api/v1/figures/releases/latest"):   (Scope.FIGURES_READ,    (NO_SCOPE, NO_SCOPE, NO_SCOPE, 200)),
    ("get", "/api/v1/figures/releases/{release_id}"): (Scope.FIGURES_READ, (NO_SCOPE, NO_SCOPE, NO_SCOPE, 200)),
}
# fmt: on

BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("patch", "/api/v1/cases/{code}"): {"birth_year": 1990},
    ("post", "/api/v1/cases/{code}/status"): {"status": "missing"},
    ("post", "/api/v1/cases/{code}/notes"): {"text": "Fictional note for the route walk."},
    ("post", "/api/v1/cases/{code}/services"): {"kind": "counselling", "delivered_on": "2025-01-15"},
    ("post", "/api/v1/cases/{code}/movements"): {"to_station": "CEDAR"},
    ("post", "/api/v1/cases/{code}/movements/{movement_id}"): {"action": "arrived"},
}


def operations() -> list[tuple[str, str]]:
    schema = api.get_openapi_schema(path_prefix="/api/v1/")
    return [(method, path) for path, methods in schema["paths"].items() for method in methods]


@pytest.fixture
def samples(world: SimpleNamespace) -> dict[str, str]:
    release = release_all(actor=world.analyst)[0]
    person = world.person_at_a
    return {
        "code": person.case_code,
        "movement_id": str(person.movements.order_by("-id").first().pk),
        "release_id": str(release.pk),
    }


def _request(client: Any, method: str, path: str, samples: dict[str, str]) -> Any:
    url = re.sub(r"\{(\w+)\}", lambda m: samples[m.group(1)], path)
    body = BODIES.get((method, path))
    with transaction.atomic():
        if body is None:
            response = getattr(client, method)(url)
        else:
            response = getattr(client, method)(url, body, content_type="application/json")
        transaction.set_rollback(True)
    return response


def test_every_operation_is_in_the_matrix() -> None:
    found = set(operations())
    assert found == set(MATRIX), f"not in the matrix: {found - set(MATRIX)}; gone: {set(MATRIX) - found}"


def test_every_operation_answers_every_role_as_the_matrix_says(
    world: SimpleNamespace, samples: dict[str, str], api_client: Any
) -> None:
    clients = {role: api_client(world.personas[role]) for role in ROLES}
    problems = []
    for (method, path), (_scope, statuses) in MATRIX.items():
        for role, expected in zip(ROLES, statuses, strict=True):
            response = _request(clients[role], method, path, samples)
            if response.status_code != expected:
                problems.append(f"{method.upper()} {path} as {role}: {response.status_code}, expected {expected}")
    assert not problems, "\n".join(problems)


def test_no_operation_is_reachable_without_its_scope(
    world: SimpleNamespace, samples: dict[str, str], api_client: Any
) -> None:
    """A coordinator's token with every scope but one: each operation needing that one answers 403 and nothing
    else does; an analyst's token (figures only) is refused by every operation on a record."""
    problems = []
    coordinator = world.coordinator
    for missing in ROLE_SCOPES["coordinator"]:
        client = api_client(coordinator, scopes=sorted(ROLE_SCOPES["coordinator"] - {missing}))
        for (method, path), (scope, _statuses) in MATRIX.items():
            if scope != missing:
                continue
            response = _request(client, method, path, samples)
            if response.status_code != NO_SCOPE or "scope" not in response.json()["detail"]:
                problems.append(f"{method.upper()} {path} without {missing}: {response.status_code}")
    assert not problems, "\n".join(problems)
    assert {scope for scope, _s in MATRIX.values()} == set(ALL_SCOPES)


def test_a_session_opens_no_operation(world: SimpleNamespace, samples: dict[str, str], client_for: Any) -> None:
    """The API takes bearer tokens only: a signed-in browser session (with its cookie) gets 401 everywhere."""
    for role in (*ROLES, "auditor", "administrator"):
        client = client_for(world.personas[role])
        for method, path in MATRIX:
            response = _request(client, method, path, samples)
            assert response.status_code == 401, f"{method.upper()} {path} as {role}'s session"
            assert response["Content-Type"] == "application/json; charset=utf-8"
