"""schemathesis against the served schema (/api/v1/openapi.json), called in-process through the WSGI app with a
real coordinator's token over the fixtures' synthetic world: no server error, and every answer as the schema says
(status code, content type, body). Examples are few per operation, to keep the run well under a minute."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from waystation.figures.releases import release_all

from .conftest import make_token

schema = schemathesis.pytest.from_fixture("api_schema")
MAX_CODE = 40  # api.schemas.Code


@pytest.fixture(autouse=True)
def connection_kept_across_requests() -> Iterator[None]:
    """A WSGI request ends by closing the database connection (``close_old_connections``); the test's transaction
    lives on that connection (on PostgreSQL the next query then fails). As Django's test client does: not here."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def api_schema(world: SimpleNamespace, connection_kept_across_requests: None) -> Any:
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())


@pytest.fixture
def coordinator_token(world: SimpleNamespace, settings: Any) -> str:
    settings.API_REQUESTS_PER_MINUTE = 100_000  # the rate limit has its own test
    return make_token(world.coordinator)


def test_the_schema_is_served_and_names_the_bearer_scheme(client: Any) -> None:
    served = client.get("/api/v1/openapi.json")
    assert served.status_code == 200
    schemes = served.json()["components"]["securitySchemes"]
    assert [s["scheme"] for s in schemes.values()] == ["bearer"]


@pytest.fixture
def real_codes(world: SimpleNamespace) -> Iterator[str | None]:
    return itertools.cycle([world.person_at_a.case_code, None])


HYPOTHESIS = settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@schema.exclude(tag="figures").parametrize()
@HYPOTHESIS
def test_the_api_keeps_to_its_schema(case: Any, coordinator_token: str, real_codes: Iterator[str | None]) -> None:
    code, generated = next(real_codes), (case.path_parameters or {}).get("code")
    if code is not None and isinstance(generated, str) and len(generated) <= MAX_CODE and "\x00" not in generated:
        # Every other example on a real case, so that the writes get past the 404; not when the generated code is
        # itself the invalid part of a negative example (it must stay, to be refused).
        case.path_parameters["code"] = code
    # Not ``positive_data_acceptance``: a request the schema allows may still break a rule of the domain (a date in
    # the future, a station that does not exist, a movement already open), which is a 400 with its message.
    case.call_and_validate(
        headers={"Authorization": f"Bearer {coordinator_token}"}, excluded_checks=[positive_data_acceptance]
    )


@pytest.fixture
def analyst_token(world: SimpleNamespace, settings: Any) -> str:
    """The analyst's token, over stored releases of the small world (most cells suppressed)."""
    settings.API_REQUESTS_PER_MINUTE = 100_000
    release_all(actor=world.analyst)
    return make_token(world.analyst)


@schema.include(tag="figures").parametrize()
@HYPOTHESIS
def test_the_figures_keep_to_their_schema(case: Any, analyst_token: str) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Bearer {analyst_token}"}, excluded_checks=[positive_data_acceptance]
    )
