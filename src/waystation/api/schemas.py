"""The shapes of the API's requests and answers. Codes are checked by the services (as on the pages), so a
request with an unknown code gets the same translated refusal as a form would."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from django.http import HttpRequest
from ninja import Schema
from ninja.errors import ValidationError
from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictInt

from waystation.cases.choices import CaseStatus, Language, Province, ServiceKind, Sex
from waystation.cases.models.care import NoteKind

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


def _iso_text(value: object) -> object:
    """Dates and times as ISO 8601 text only (lax parsing would take the number 0 for 1970-01-01)."""
    if not isinstance(value, str):
        raise ValueError("give the date as ISO 8601 text, e.g. 2025-01-31")
    return value


Text = Annotated[str, Field(max_length=10_000), AfterValidator(_storable)]
Date = Annotated[dt.date, BeforeValidator(_iso_text)]
Moment = Annotated[AwareDatetime, BeforeValidator(_iso_text)]
Number = Annotated[StrictInt, Field(ge=-MAX_ID, le=MAX_ID)]
Code = Annotated[str, Field(max_length=40), AfterValidator(_storable)]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


def check_query(request: HttpRequest, model: type[BaseModel]) -> None:
    """Refuse query parameters the operation does not take (a misspelt filter would otherwise be ignored)."""
    unknown = sorted(set(request.GET) - set(model.model_fields))
    if unknown:
        raise ValidationError(
            [{"loc": ["query", name], "msg": "unknown parameter", "type": "extra_forbidden"} for name in unknown]
        )


class Input(BaseModel):
    """What a caller sends: plain pydantic (a ninja ``Schema`` would read any object's attributes, so a JSON string
    would pass as an empty change), and no field the operation does not take."""

    model_config = ConfigDict(extra="forbid")


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


class CaseUpdate(Input):
    """Coded fields only; those left out are not changed."""

    sex: Sex | None = None
    birth_year: Annotated[StrictInt, Field(ge=0, le=9999)] | None = None
    origin_province: Province | None = None
    left_nk_month: Date | None = None
    first_contact_month: Date | None = None
    languages: list[Language] | None = Field(default=None, max_length=50)


class StatusChange(Input):
    status: CaseStatus


class NoteIn(Input):
    text: Text
    kind: NoteKind = NoteKind.GENERAL


class NoteOut(Schema):
    id: int
    kind: str
    created_at: dt.datetime


class ServiceIn(Input):
    kind: ServiceKind
    delivered_on: Date
    quantity: Number = 1
    partner: Annotated[StrictInt, Field(ge=1, le=MAX_ID)] | None = None
    note: Text = ""


class ServiceOut(Schema):
    id: int
    kind: str
    delivered_on: dt.date
    quantity: int
    partner: str | None
    note: str | None = None  # revealed for those who see care records; null when the key is not held yet


class MovementIn(Input):
    to_station: Code
    depart_now: StrictBool = False
    expected_arrival: Moment | None = None
    note: Text = ""


class MovementAction(Input):
    action: Literal["depart", "arrived", "failed", "intercepted"]
    expected_arrival: Moment | None = None


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
