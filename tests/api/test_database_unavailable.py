"""While the database cannot be reached, the API answers 503 with its usual JSON refusal, in the caller's language
(the pages: ``tests/web/test_database_unavailable.py``; recovering after a real restart:
``tests/ops/test_pg_restart.py``)."""

from __future__ import annotations

from typing import Any

from waystation.accounts.models import User
from waystation.testing.db import database_down


def test_the_api_answers_a_json_503_while_the_database_is_unreachable(coordinator: User, api_client: Any) -> None:
    client = api_client(coordinator)
    client.raise_request_exception = False
    with database_down():  # fails in the token check already
        response = client.get("/api/v1/cases/", headers={"accept-language": "zh-hans"})
    assert response.status_code == 503
    assert response["Content-Type"].startswith("application/json") and response["Retry-After"] == "30"
    body = response.content.decode()
    assert "数据库" in response.json()["detail"]
    assert not any(leak in body for leak in ("Traceback", "OperationalError", "Connection refused"))
