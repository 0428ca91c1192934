"""Role-mixed traffic for ``bench/load.py`` (run by it, headless; not on its own).

Each simulated user signs in once through the real forms (password, then a code from its authenticator) as one of
the benchmark's accounts, then works like its role: keepers register arrivals and look at their cases,
caseworkers read their cases and write notes, coordinators open cases and plan movements, analysts open the
figures. After every page a user thinks (reads it, chooses, types) before the next click, as people do: between
``WAYSTATION_LOAD_THINK`` seconds ("low,high", 3 to 10 by default; ``bench/load.py`` says why).

Every request is recorded (name, time taken, when, whether it failed) and written to the file named by
``WAYSTATION_LOAD_OUT`` when the run stops, with the moment each user finished signing in: the runner computes its
percentiles from the requests made once every user had signed in, the sign-ins left out (each is two Argon2id
derivations on purpose).
"""

from __future__ import annotations

import json
import os
import random
import re
import threading
import time
from itertools import count
from pathlib import Path
from typing import Any

import gevent
from django_otp.oath import TOTP  # pure Python (hmac, struct): no Django settings needed
from locust import HttpUser, events, task

ACCOUNTS: dict[str, list[dict[str, str]]] = json.loads(Path(os.environ["WAYSTATION_LOAD_ACCOUNTS"]).read_text())
OUT = Path(os.environ["WAYSTATION_LOAD_OUT"])
CASE_LINK = re.compile(r'href="/cases/([A-Z0-9]{4}-[A-Z0-9]{4})/"')
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
# The work starts when the last of WAYSTATION_LOAD_USERS has signed in (the sign-ins, one Argon2id gate at a time,
# take as long as they take: locust's --run-time is only a cap): WAYSTATION_LOAD_SECONDS at people's pace
# (WAYSTATION_LOAD_THINK seconds after each page, "low,high"), then, when WAYSTATION_LOAD_STRESS_SECONDS is set, the
# same users at WAYSTATION_LOAD_STRESS_THINK's pace (the capacity run) for the longest think of the first pace (each
# user's last thought at that pace ends within it) and the seconds asked; then the run stops.
USERS = int(os.environ.get("WAYSTATION_LOAD_USERS") or 0)
WORK_SECONDS = float(os.environ.get("WAYSTATION_LOAD_SECONDS") or 0)
STRESS_SECONDS = float(os.environ.get("WAYSTATION_LOAD_STRESS_SECONDS") or 0)
_signed_in = count(1)  # the users signed in so far
RNG = random.Random()  # noqa: S311 - which case to open next, not a secret
SIGNED_IN = "@signed-in"
STRESS = "@stress"  # the moment the pace changes to the capacity run's
RECORDS: list[tuple[str, float, float, bool]] = []  # name, milliseconds, start (epoch seconds), failed
_lock = threading.Lock()
_taken: dict[str, count[int]] = {role: count() for role in ACCOUNTS}


def _pace(name: str, default: str) -> tuple[float, float]:
    low, high = (float(x) for x in (os.environ.get(name) or default).split(","))
    return low, high


THINK = _pace("WAYSTATION_LOAD_THINK", "3,10")
STRESS_THINK = _pace("WAYSTATION_LOAD_STRESS_THINK", "1,3")
PACE = [THINK]  # the pace now: THINK, then STRESS_THINK


@events.request.add_listener
def _record(name: str, response_time: float, exception: Any, start_time: float = 0.0, **_: Any) -> None:
    with _lock:
        RECORDS.append((name, response_time, start_time or time.time(), exception is not None))


@events.test_stop.add_listener
def _write(**_: Any) -> None:
    OUT.write_text(json.dumps(RECORDS))


def _options(html: str, select: str) -> list[str]:
    """The values of the options of the ``<select name=select>`` on the page (stations: their code names)."""
    match = re.search(rf'<select name="{select}"[^>]*>(.*?)</select>', html, re.S)
    return list(re.findall(r'<option value="([^"]+)"', match.group(1))) if match else []


class Worker(HttpUser):
    abstract = True
    role = ""

    def on_start(self) -> None:
        with _lock:
            account = ACCOUNTS[self.role][next(_taken[self.role]) % len(ACCOUNTS[self.role])]
        self.cases: list[str] = []
        page = self.client.get("/accounts/login/", name="sign-in")
        credentials = {"username": account["username"], "password": account["password"]}
        answer = self.post_form("/accounts/login/", page.text, credentials, "sign-in", allow_redirects=False)
        second = answer.headers.get("Location", "/accounts/two-factor/")
        totp = TOTP(bytes.fromhex(account["totp"]), 30, 0, 6, 0)
        totp.time = time.time()
        form = self.client.get(second, name="sign-in")
        self.post_form(second, form.text, {"token": f"{totp.token():06d}"}, "sign-in")
        with _lock:  # when this user could start working: the runner measures once every user could
            RECORDS.append((SIGNED_IN, 0.0, time.time(), False))
            everyone = next(_signed_in) == USERS
        if everyone and WORK_SECONDS:  # the last one in: the work starts now
            if STRESS_SECONDS:
                gevent.spawn_later(WORK_SECONDS + 1, self._stress)
            else:
                gevent.spawn_later(WORK_SECONDS + 1, self.environment.runner.quit)

    def _stress(self) -> None:
        with _lock:
            PACE[0] = STRESS_THINK
            RECORDS.append((STRESS, 0.0, time.time(), False))
        gevent.spawn_later(THINK[1] + STRESS_SECONDS + 1, self.environment.runner.quit)

    def wait_time(self) -> float:
        low, high = PACE[0]
        return RNG.uniform(low, high)

    def post_form(self, path: str, page: str, data: dict[str, str], name: str, **options: Any) -> Any:
        token = CSRF_INPUT.search(page)
        data = {**data, "csrfmiddlewaretoken": token.group(1) if token else ""}
        return self.client.post(path, data=data, name=name, headers={"Referer": f"{self.host}{path}"}, **options)

    def open_list(self) -> None:
        page = self.client.get("/cases/", name="case list")
        self.cases = CASE_LINK.findall(page.text) or self.cases

    def open_case(self) -> tuple[str, str] | None:
        """One of the cases listed (the list first, read, when none is known yet): its code and its page. A task
        thinks between two pages (``self.wait()``); locust makes the user think after the task's last."""
        if not self.cases:
            self.open_list()
            self.wait()
        if not self.cases:
            return None
        code = RNG.choice(self.cases)
        page = self.client.get(f"/cases/{code}/", name="case page")
        return code, page.text


class Keeper(Worker):
    role = "keeper"
    weight = 10

    @task(2)
    def register(self) -> None:
        form = self.client.get("/cases/register/", name="register form")
        stations = _options(form.text, "station")
        if not stations:
            return
        self.wait()  # filling the form in
        n = RNG.randrange(10**6)
        self.post_form(
            "/cases/register/",
            form.text,
            {
                "station": RNG.choice(stations),
                "name_hangul": "가상 부하",
                "name_romanized": f"Gasang Buha {n} (fictional)",
                "sex": RNG.choice("FFFM"),
                "birth_year": str(RNG.randint(1975, 2005)),
                "origin_province": "north_hamgyong",
                "left_nk_month": "2019-05",
                "first_contact_month": "2025-01",
                "languages": "ko",
            },
            "register",
        )

    @task(3)
    def look(self) -> None:
        self.open_list()
        self.wait()
        self.open_case()


class Caseworker(Worker):
    role = "caseworker"
    weight = 16

    @task(3)
    def read(self) -> None:
        self.open_list()
        self.wait()
        self.open_case()

    @task(1)
    def note(self) -> None:
        opened = self.open_case()
        if opened:
            code, page = opened
            self.wait()  # reading her page, typing the note
            self.post_form(f"/cases/{code}/notes/new/", page, {"text": "[SYNTHETIC] load test note"}, "note")


class Coordinator(Worker):
    role = "coordinator"
    weight = 12

    @task(2)
    def read(self) -> None:
        self.open_list()
        self.wait()
        self.open_case()

    @task(1)
    def move(self) -> None:
        opened = self.open_case()
        if not opened:
            return
        code = opened[0]
        self.wait()
        form = self.client.get(f"/cases/{code}/move/", name="move form")
        stations = _options(form.text, "to_station")
        if stations:  # a refusal (she is already on her way) is a page with a message: a normal answer
            self.wait()  # choosing where to
            self.post_form(f"/cases/{code}/move/", form.text, {"to_station": RNG.choice(stations)}, "move")


class Analyst(Worker):
    role = "analyst"
    weight = 12

    @task
    def figures(self) -> None:
        self.client.get("/", name="figures dashboard")


def _one_each() -> None:
    """The unloaded run: exactly one user of each role (a function: locust takes every user class in the module's
    namespace, a loop variable included)."""
    for role in (Keeper, Caseworker, Coordinator, Analyst):
        role.fixed_count = 1


if os.environ.get("WAYSTATION_LOAD_ONE_EACH"):
    _one_each()
