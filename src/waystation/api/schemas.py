"""The shapes of the API's requests and answers. Codes are checked by the services (as on the pages), so a
request with an unknown code gets the same translated refusal as a form would."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from ninja import Schema
from pydantic import AfterValidator, AwareDatetime, Field

MAX_ID = 2_147_483_647  # ids beyond this are no row of ours (and SQLite cannot compare them)


def _storable(value: str) -> str:
    """No NUL byte (PostgreSQL refuses it) and no lone surrogate (not UTF-8): a 422, never a server error."""
    if "\x00" in value:
        raise ValueError("NUL bytes are not allowed")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("not valid Unicode text") from None
    return value


Text = Annotated[str, Field(max_length=10_000), AfterValidator(_storable)]
Code = Annotated[str, Field(max_length=40), AfterValidator(_storable)]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


class Error(Schema):
    detail: str
    field: str | None = None
    errors: list[dict[str, Any]] | None = None


ERRORS: dict[frozenset[int], type[Schema]] = {frozenset({400, 401, 403, 404, 409, 422, 429}): Error}


class Names(Schema):
    """The sensitive fields the caller's role gets, revealed (and audited); empty with ``locked`` when the caller
    holds no key to the case yet."""

    locked: bool = False
    name_hangul: str | None = None
    name_romanized: str | None = None
    name_chinese: str | None = None
    aliases: str | None = None
    date_of_birth: str | None = None
    contacts: str | None = None
    narrative: str | None = None


class CaseSummary(Schema):
    case_code: str
    status: str
    sex: str
    birth_year: int | None
    origin_province: str
    first_contact_month: dt.date | None
    station: str | None
    names: Names


class CasePage(Schema):
    count: int
    page: int
    pages: int
    items: list[CaseSummary]


class CaseDetail(CaseSummary):
    left_nk_month: dt.date | None
    languages: list[str]
    closed_at: dt.datetime | None
    updated_at: dt.datetime


class CaseUpdate(Schema):
    """Coded fields only; those left out are not changed."""

    sex: Code | None = None
    birth_year: Annotated[int, Field(ge=0, le=9999)] | None = None
    origin_province: Code | None = None
    left_nk_month: dt.date | None = None
    first_contact_month: dt.date | None = None
    languages: list[Code] | None = Field(default=None, max_length=50)


class StatusChange(Schema):
    status: Code


class NoteIn(Schema):
    text: Text
    kind: Code = "general"


class NoteOut(Schema):
    id: int
    kind: str
    created_at: dt.datetime


class ServiceIn(Schema):
    kind: Code
    delivered_on: dt.date
    quantity: Annotated[int, Field(ge=-MAX_ID, le=MAX_ID)] = 1
    partner: Id | None = None
    note: Text = ""


class ServiceOut(Schema):
    id: int
    kind: str
    delivered_on: dt.date
    quantity: int
    partner: str | None
    note: str | None = None  # revealed for those who see care records; null when the key is not held yet


class MovementIn(Schema):
    to_station: Code
    depart_now: bool = False
    expected_arrival: AwareDatetime | None = None
    note: Text = ""


class MovementAction(Schema):
    action: Code = Field(description="depart, arrived, failed or intercepted")
    expected_arrival: AwareDatetime | None = None


class MovementOut(Schema):
    id: int
    from_station: str | None
    to_station: str
    status: str
    planned_at: dt.datetime
    departed_at: dt.datetime | None
    expected_arrival: dt.datetime | None
    arrived_at: dt.datetime | None
    ended_at: dt.datetime | None


class StationOut(Schema):
    code_name: str
    country: str
    region: str
    kind: str
    status: str
    capacity: int


class ReleaseCell(Schema):
    key: dict[str, str]
    labels: list[str]
    value: int | None
    status: str
    reference: int | None = None


class Release(Schema):
    """A stored release as ``waystation figures --json`` prints it: released values only, never a raw count."""

    indicator: str
    title: str
    definition: str
    release_id: int
    released_at: str
    audit_event: int
    policy: dict[str, Any]
    note: str
    value: int | None
    value_status: str | None
    value_fewer_than_threshold: bool
    share_percent: int | None
    per_person: float | None
    left_out_for_lack_of_consent: int | None
    left_out_status: str
    left_out_fewer_than_threshold: bool
    breakdowns: list[Any]
    reference_source: str
    cells: list[ReleaseCell]
