"""Shared by the vault tests: reading and writing stored cells behind the ORM's back, as someone holding the
database file would, and flipping their bits."""

from __future__ import annotations

import base64
from typing import Any

from django.db import connection, models

from waystation.vault import crypto


def _column(model: type[models.Model], field: str) -> str:
    return model._meta.get_field(field).column  # type: ignore[union-attr, return-value]


def _where(obj: models.Model, field: str) -> tuple[str, str, str, Any]:
    pk = obj._meta.pk
    assert pk is not None
    quote = connection.ops.quote_name
    # the primary key as the database stores it (SQLite keeps a UUID as 32 hex digits)
    return (
        quote(obj._meta.db_table),
        quote(_column(type(obj), field)),
        quote(pk.column),
        pk.get_db_prep_value(obj.pk, connection),
    )


def raw_get(obj: models.Model, field: str) -> Any:
    """The cell as the database holds it (text token or bytes), read with SQL."""
    table, column, pk_column, pk = _where(obj, field)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE {pk_column} = %s", [pk])  # noqa: S608
        (value,) = cursor.fetchone()
    return bytes(value) if isinstance(value, memoryview) else value


def raw_set(obj: models.Model, field: str, value: Any) -> None:
    """Overwrite the cell with SQL (as a tamperer with the file would), bypassing every check of the ORM."""
    table, column, pk_column, pk = _where(obj, field)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET {column} = %s WHERE {pk_column} = %s", [value, pk])  # noqa: S608


def blob_of(cell: Any) -> bytes:
    """The ciphertext bytes of a stored cell (a text column keeps them as "w1:" + base64)."""
    if isinstance(cell, str):
        assert cell.startswith(crypto.TEXT_PREFIX), cell[:8]
        return base64.b64decode(cell[len(crypto.TEXT_PREFIX) :])
    return bytes(cell)


def as_cell(blob: bytes, like: Any) -> Any:
    """``blob`` in the form of the column ``like`` came from."""
    return crypto.TEXT_PREFIX + base64.b64encode(blob).decode() if isinstance(like, str) else blob


def flip_bit(blob: bytes, bit: int) -> bytes:
    data = bytearray(blob)
    data[bit // 8] ^= 1 << (bit % 8)
    return bytes(data)


# --- a canary in every sensitive field ------------------------------------------------------------------------------

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def canary_values(tag: str, seed: int) -> dict[str, Any]:
    """A distinct value for every sensitive field of every model (``"app.model.field"``), each holding ``tag``;
    the exact date of birth is a date (the service checks it), the photo a PNG-looking file that holds ``tag``."""
    from waystation.vault.reveal import sensitive_fields

    values: dict[str, Any] = {
        f"{label}.{field}": f"{tag}:{label}.{field}" for label, fields in sensitive_fields().items() for field in fields
    }
    values["cases.person.date_of_birth"] = f"{1940 + seed % 50}-{1 + seed % 12:02d}-{1 + seed % 28:02d}"
    values["cases.person.photo"] = PNG_MAGIC + f"{tag}:cases.person.photo".encode()
    return values


PERSON_TEXT = ("name_hangul", "name_romanized", "name_chinese", "aliases", "date_of_birth", "contacts", "narrative")


def fill_through_services(values: dict[str, Any], *, actor: Any, station: Any, destination: Any, partner: Any) -> Any:
    """Register a person and give every sensitive field of their case a value, through the services; the person."""
    import datetime as dt

    from django.utils import timezone

    from waystation.cases import care_services, htcds
    from waystation.cases.choices import ConsentScope, NeedArea, RiskLevel, ServiceKind, TaskKind
    from waystation.cases.services import consent_record, episode_add, person_register, person_set_photo
    from waystation.network.services import movement_plan

    today = timezone.localdate()
    born = values["cases.person.date_of_birth"]
    person = person_register(
        actor=actor,
        station=station,
        sex="F",
        birth_year=int(born[:4]),
        **{name: values[f"cases.person.{name}"] for name in PERSON_TEXT},
    )
    consent_record(actor=actor, person=person, scope=ConsentScope.PHOTOS, given=True)
    person_set_photo(actor=actor, person=person, data=values["cases.person.photo"])
    care_services.needs_assess(
        actor=actor,
        person=person,
        assessed_on=today,
        levels={},
        risk_level=RiskLevel.LOW,
        note=values["cases.needsassessment.note"],
    )
    care_services.goal_add(
        actor=actor, person=person, area=NeedArea.MEDICAL, description=values["cases.careplangoal.description"]
    )
    care_services.service_record(
        actor=actor,
        person=person,
        kind=ServiceKind.MEDICAL,
        delivered_on=today,
        note=values["cases.servicerecord.note"],
    )
    consent_record(actor=actor, person=person, scope=ConsentScope.SHARING, given=True, partner=partner)
    care_services.referral_make(
        actor=actor,
        person=person,
        partner=partner,
        area=NeedArea.MEDICAL,
        referred_on=today,
        note=values["cases.referral.note"],
    )
    care_services.task_add(
        actor=actor,
        person=person,
        kind=TaskKind.CONTACT,
        due_on=today + dt.timedelta(days=2),
        assigned_to=actor,
        detail=values["cases.followuptask.detail"],
    )
    care_services.note_add(actor=actor, person=person, text=values["cases.casenote.text"])
    episode_add(
        actor=actor,
        person=person,
        exploitation_type=htcds.ExploitationType.values[0],
        note=values["cases.exploitationepisode.note"],
    )
    movement_plan(actor=actor, person=person, to_station=destination, note=values["network.movement.note"])
    return person


def _posted(response: Any, what: str) -> str:
    assert response.status_code == 302, f"{what}: the form was refused ({response.status_code})"
    return str(response["Location"])


def fill_through_forms(
    client: Any, values: dict[str, Any], *, station: Any, destination: Any, partner: Any, assignee: Any
) -> str:
    """The same through the web forms, as a coordinator's browser would post them; the case code."""
    import datetime as dt

    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.utils import timezone

    from waystation.cases import htcds
    from waystation.cases.choices import ConsentScope, NeedArea, RiskLevel, ServiceKind, TaskKind

    today = timezone.localdate()
    born = values["cases.person.date_of_birth"]
    client.get("/cases/register/")
    location = _posted(
        client.submit(
            "/cases/register/",
            {
                "station": station.code_name,
                "sex": "F",
                "birth_year": born[:4],
                "origin_province": "unknown",
                **{name: values[f"cases.person.{name}"] for name in PERSON_TEXT},
            },
        ),
        "register",
    )
    code = location.rstrip("/").rsplit("/", 1)[-1]
    case = f"/cases/{code}"
    posts: list[tuple[str, dict[str, Any]]] = [
        ("consent/", {"scope": ConsentScope.PHOTOS, "given": "yes"}),
        ("photo/", {"photo": SimpleUploadedFile("face.png", values["cases.person.photo"], "image/png")}),
        (
            "needs/new/",
            {
                "assessed_on": today.isoformat(),
                "risk_level": RiskLevel.LOW,
                "note": values["cases.needsassessment.note"],
                **dict.fromkeys(NeedArea.values, "0"),
            },
        ),
        ("goals/new/", {"area": NeedArea.MEDICAL, "description": values["cases.careplangoal.description"]}),
        (
            "services/new/",
            {
                "kind": ServiceKind.MEDICAL,
                "delivered_on": today.isoformat(),
                "quantity": "1",
                "note": values["cases.servicerecord.note"],
            },
        ),
        ("consent/", {"scope": ConsentScope.SHARING, "partner": partner.pk, "given": "yes"}),
        (
            "referrals/new/",
            {
                "partner": partner.pk,
                "area": NeedArea.MEDICAL,
                "referred_on": today.isoformat(),
                "note": values["cases.referral.note"],
            },
        ),
        (
            "tasks/new/",
            {
                "kind": TaskKind.CONTACT,
                "due_on": (today + dt.timedelta(days=2)).isoformat(),
                "assigned_to": assignee.pk,
                "detail": values["cases.followuptask.detail"],
            },
        ),
        ("notes/new/", {"text": values["cases.casenote.text"]}),
        (
            "episodes/new/",
            {"exploitation_type": htcds.ExploitationType.values[0], "note": values["cases.exploitationepisode.note"]},
        ),
        ("move/", {"to_station": destination.code_name, "note": values["network.movement.note"]}),
    ]
    for path, data in posts:
        if path != "photo/":
            client.get(f"{case}/{path}")
        _posted(client.submit(f"{case}/{path}", data), path)
    return code
