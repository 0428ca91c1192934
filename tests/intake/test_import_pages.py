"""The coordinator's import pages with Django's test client: upload -> map -> preview -> import -> result.

The import runs in a thread of the server with its own database connection, so the flow tests commit their data
(``transaction=True``), as the real server would see it.
"""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.core.files.uploadedfile import SimpleUploadedFile
from intake_helpers import MESSY_ROWS

from waystation.accounts.models import User
from waystation.cases.models import Person
from waystation.intake import uploads
from waystation.intake.models import ImportRun, SavedMapping
from waystation.network.models import Station
from waystation.testing.spreadsheets import csv_bytes, xlsx_bytes


@pytest.fixture(autouse=True)
def _no_uploads_from_other_tests() -> None:
    """The tests share one data folder: each starts without the pending uploads earlier ones left on purpose."""
    for path in uploads.upload_dir().glob(uploads.PREFIX + "*"):
        path.unlink()


def leftover_uploads() -> list[Path]:
    return list(uploads.upload_dir().glob(uploads.PREFIX + "*"))


def upload(client: Any, name: str, data: bytes) -> Any:
    """As the page's script sends it: the file as the body; the answer says where to go next (as a redirect would)
    or what is wrong."""
    client.get("/import/")
    return client.post(
        "/import/",
        data=data,
        content_type="application/octet-stream",
        HTTP_X_CSRFTOKEN=client.csrf_token,
        HTTP_X_FILE_NAME=quote(name),
    )


def mapping_post(client: Any, choices: dict[int, str], **extra: str) -> Any:
    page = client.get("/import/mapping/")
    assert page.status_code == 200
    return client.submit("/import/mapping/", {f"col_{i}": f for i, f in choices.items()} | extra)


AUTO = {0: "external_id", 1: "name", 2: "sex", 3: "birth_year", 4: "origin_province", 5: "left_nk_month"}
AUTO |= {6: "first_contact_month", 7: "languages", 8: "narrative", 9: "station"}


def register_field(page: str) -> str:
    """The value of the mapping page's register field, as the coordinator sees it filled in."""
    found = re.search(r'<input type="text" name="source" value="([^"]*)"', page)
    assert found is not None, "no register field"
    return html.unescape(found.group(1))


def wait_for_the_import(client: Any) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        data: dict[str, Any] = client.get("/import/status/").json()
        if data["state"] != "running":
            return data
        time.sleep(0.1)
    raise AssertionError("the import did not end within a minute")


@pytest.mark.django_db(transaction=True)
def test_upload_map_preview_import_result(
    coordinator: User, station_a: Station, station_b: Station, client_for: Callable[..., Any]
) -> None:
    client = client_for(coordinator)
    before = Person.objects.count()

    answer = upload(client, "명부.xlsx", xlsx_bytes(MESSY_ROWS))
    assert answer.json() == {"next": "/import/mapping/"}
    page = client.get("/import/mapping/").content.decode()
    assert '<option value="birth_year" selected>' in page  # 출생년도 recognised
    answer = mapping_post(client, AUTO, source="명부", save_as="ALDER register")
    assert answer.status_code == 302 and answer["Location"] == "/import/preview/"
    assert SavedMapping.objects.filter(name="ALDER register").exists()

    preview = client.get("/import/preview/").content.decode()
    assert "Persons to create: 5." in preview and "No consent is recorded" in preview
    assert "탈북 시기" in preview  # the year-only warning, with its column
    assert Person.objects.count() == before  # the preview writes nothing

    answer = client.submit("/import/start/", {"next": "/import/preview/"})
    assert answer.status_code == 302 and answer["Location"] == "/import/progress/"
    status = wait_for_the_import(client)
    assert status["state"] == "done" and status["next"] == "/import/result/"
    result = client.get("/import/result/").content.decode()
    assert "Persons created: 5." in result

    assert Person.objects.count() == before + 5
    run = ImportRun.objects.get()
    assert (run.actor, run.created) == (coordinator, 5)
    assert leftover_uploads() == []  # the temporary file went with the import

    # The same file again, with the saved mapping: nothing new.
    upload(client, "명부 (2).xlsx", xlsx_bytes(MESSY_ROWS))
    saved = SavedMapping.objects.get(name="ALDER register")
    page = client.get(f"/import/mapping/?saved={saved.pk}").content.decode()
    assert register_field(page) == "ALDER register"  # the saved mapping's name becomes the register's
    mapping_post(client, AUTO, source="명부")
    preview = client.get("/import/preview/").content.decode()
    assert "Persons to create: 0." in preview and "Rows imported before, left as they are: 5." in preview
    assert 'id="start-import"' not in preview


@pytest.mark.django_db(transaction=True)
def test_an_error_on_the_last_row_is_listed_and_nothing_can_be_imported(
    coordinator: User, station_a: Station, station_b: Station, client_for: Callable[..., Any]
) -> None:
    client = client_for(coordinator)
    rows = [*MESSY_ROWS, ["A-006", "가상육", "여", "1985", "함경북도", "2018.13", "", "", "", "ALDER"]]
    upload(client, "r.csv", csv_bytes(rows))
    mapping_post(client, AUTO)
    preview = client.get("/import/preview/").content.decode()
    assert "Problems to fix: 1." in preview
    assert "<td>7</td><td>탈북 시기</td><td>2018.13</td>" in preview
    assert 'id="start-import"' not in preview
    before = Person.objects.count()
    # Posting the form anyway (the button is not there, the request can still be made): refused as a whole.
    answer = client.submit("/import/start/", {"next": "/import/preview/"})
    assert answer.status_code == 302 and answer["Location"] == "/import/progress/"
    assert wait_for_the_import(client)["state"] == "refused"
    assert Person.objects.count() == before
    result = client.get("/import/result/")
    assert result.status_code == 200
    text = result.content.decode()
    assert "Nothing was imported: 1 problem(s) to fix in the file first." in text
    assert "<td>7</td><td>탈북 시기</td><td>2018.13</td>" in text


def test_bad_files_get_a_clear_message_and_leave_nothing(
    coordinator: User, station_a: Station, client_for: Callable[..., Any]
) -> None:
    client = client_for(coordinator)
    client.raise_request_exception = False
    for name, data, expected in [
        ("photo.csv", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "This is not a CSV or XLSX file."),
        ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512, "old Excel file"),
        ("huge-cell.csv", b"name,sex\n" + b"a" * 20_000 + b",F\n", "longer than 10000 characters"),
        ("blank.csv", b"\r\n\r\n", "The file is empty."),
    ]:
        answer = upload(client, name, data)
        assert answer.status_code == 400, name
        assert expected in answer.json()["error"], name
        assert leftover_uploads() == [], name


def test_a_cp949_csv_is_read(coordinator: User, station_a: Station, client_for: Callable[..., Any]) -> None:
    client = client_for(coordinator)
    rows = [row for row in MESSY_ROWS if "假想" not in row[1]]
    assert upload(client, "k.csv", csv_bytes(rows, encoding="cp949")).json() == {"next": "/import/mapping/"}
    assert "Text encoding: cp949" in client.get("/import/mapping/").content.decode()


def test_a_file_over_the_limit_is_refused_before_it_is_read(coordinator: User, client_for: Callable[..., Any]) -> None:
    client = client_for(coordinator)
    client.get("/import/")
    answer = client.post(
        "/import/",
        data=b"x",
        content_type="application/octet-stream",
        CONTENT_LENGTH=str(100 * 1024 * 1024),
        HTTP_X_CSRFTOKEN=client.csrf_token,
    )
    assert answer.status_code == 413
    assert "larger than 50 MB" in answer.json()["error"]
    assert leftover_uploads() == []


def test_without_the_script_the_form_takes_small_files_and_says_why_not_big_ones(
    coordinator: User, station_a: Station, client_for: Callable[..., Any]
) -> None:
    client = client_for(coordinator)
    client.get("/import/")
    answer = client.submit("/import/", {"file": SimpleUploadedFile("r.csv", csv_bytes(MESSY_ROWS))})
    assert answer.status_code == 302 and answer["Location"] == "/import/mapping/"
    client.submit("/import/cancel/")
    big = csv_bytes(MESSY_ROWS) + b"\r\n" * (4 * 1024 * 1024)  # blank lines: over the 3 MB a form may carry
    answer = client.submit("/import/", {"file": SimpleUploadedFile("big.csv", big)})
    assert answer.status_code == 200
    assert "allow JavaScript for this site" in answer.content.decode()
    assert leftover_uploads() == []


def test_a_column_mapped_twice_is_a_clear_message(
    coordinator: User, station_a: Station, client_for: Callable[..., Any]
) -> None:
    client = client_for(coordinator)
    upload(client, "r.csv", csv_bytes(MESSY_ROWS))
    answer = mapping_post(client, AUTO | {8: "sex"})
    assert answer.status_code == 200
    text = answer.content.decode()
    assert "both mapped to" in text and "(C)" in text and "(I)" in text
    client.submit("/import/cancel/")
    assert leftover_uploads() == []


@pytest.mark.parametrize("role", ["keeper", "caseworker", "analyst", "auditor", "administrator"])
def test_others_may_not_upload(role: str, personas: dict[str, User], client_for: Callable[..., Any]) -> None:
    client = client_for(personas[role])
    client.raise_request_exception = False
    token = client.fetch_token()
    answer = client.post(
        "/import/", {"file": SimpleUploadedFile("r.csv", csv_bytes(MESSY_ROWS)), "csrfmiddlewaretoken": token}
    )
    assert answer.status_code == 403
    assert leftover_uploads() == []


@pytest.mark.parametrize("role", ["keeper", "caseworker", "analyst", "auditor", "administrator"])
def test_others_get_a_403_for_starting_an_import_not_the_password_page(
    role: str, personas: dict[str, User], client_for: Callable[..., Any]
) -> None:
    client = client_for(personas[role], recent_auth=False)
    client.raise_request_exception = False
    answer = client.post("/import/start/", {"next": "/import/preview/", "csrfmiddlewaretoken": client.fetch_token()})
    assert answer.status_code == 403


def test_the_session_keeps_the_files_name_sealed_yet_the_pages_show_it(
    coordinator: User, station_a: Station, client_for: Callable[..., Any]
) -> None:
    client = client_for(coordinator)
    upload(client, "gasang_younghee_hyesan.csv", csv_bytes(MESSY_ROWS))
    page = client.get("/import/mapping/").content.decode()
    assert "“gasang_younghee_hyesan.csv”" in page  # she recognises her upload
    assert register_field(page) == "gasang_younghee_hyesan"
    mapping_post(client, AUTO, source="gasang_younghee register")
    assert "register “gasang_younghee register”" in client.get("/import/preview/").content.decode()
    stored = SessionStore(session_key=client.session.session_key).load()  # as the database holds it, decoded
    assert stored["intake_upload"]["mapping"]  # the session does hold the upload...
    assert "gasang_younghee" not in json.dumps(stored, ensure_ascii=False)  # ...but none of its names
    uploads._KEYS.clear()  # a restart: the names cannot be read any more, and the upload is gone
    assert client.get("/import/mapping/")["Location"] == "/import/"


def test_starting_an_import_needs_a_recent_password(
    coordinator: User, station_a: Station, client_for: Callable[..., Any]
) -> None:
    client = client_for(coordinator, recent_auth=False)
    upload(client, "r.csv", csv_bytes(MESSY_ROWS))
    mapping_post(client, AUTO)
    before = Person.objects.count()
    answer = client.submit("/import/start/", {"next": "/import/preview/"})
    assert answer.status_code == 302 and answer["Location"].startswith("/accounts/confirm/")
    assert Person.objects.count() == before


def test_a_waiting_upload_is_ciphertext_whose_key_lives_only_in_memory(
    coordinator: User, station_a: Station, client_for: Callable[..., Any]
) -> None:
    canary_name, canary_phone = "가상카나리아", "010-5555-0199"
    rows = [MESSY_ROWS[0], [*MESSY_ROWS[1][:1], canary_name, *MESSY_ROWS[1][2:8], canary_phone, MESSY_ROWS[1][9]]]
    client = client_for(coordinator)
    upload(client, "register.csv", csv_bytes(rows))
    [waiting] = leftover_uploads()
    on_disk = waiting.read_bytes()
    for secret in (canary_name, canary_phone, "성명"):
        for encoding in ("utf-8", "utf-16-le", "cp949"):
            assert secret.encode(encoding) not in on_disk
    assert client.get("/import/mapping/").status_code == 200  # the server reads it back
    uploads._KEYS.clear()  # what a restart does to the keys
    with pytest.raises(uploads.SpreadsheetError, match="no longer available"):
        uploads.opened(waiting)
    uploads.discard_stale()  # the next upload sweeps files whose key is gone
    assert not waiting.exists()


def test_a_changed_upload_file_is_refused(coordinator: User, client_for: Callable[..., Any]) -> None:
    upload(client_for(coordinator), "register.csv", csv_bytes(MESSY_ROWS))
    [waiting] = leftover_uploads()
    data = bytearray(waiting.read_bytes())
    data[-1] ^= 1
    waiting.write_bytes(bytes(data))
    with pytest.raises(uploads.SpreadsheetError, match="could not be read back"):
        uploads.opened(waiting)


@pytest.mark.parametrize("leave", ["/accounts/logout/", "/exit/"])
def test_signing_out_or_quick_exit_deletes_the_waiting_upload(
    leave: str, coordinator: User, client_for: Callable[..., Any]
) -> None:
    client = client_for(coordinator)
    upload(client, "register.csv", csv_bytes(MESSY_ROWS))
    assert len(leftover_uploads()) == 1
    if leave == "/exit/":
        client.get(leave)  # quick exit: a plain link, it must work from anywhere
    else:
        client.submit(leave, {})
    assert leftover_uploads() == []
