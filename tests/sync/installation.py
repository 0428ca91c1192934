"""One Waystation installation for the end-to-end sync test (tests/sync/test_end_to_end.py), driven step by step
in a process of its own: Django is bound to one data folder a process, and a hub and a station are two.

    python tests/sync/installation.py STEP [ARGUMENTS...]     (WAYSTATION_HOME names the installation)

Steps print one line of JSON. The accounts and persons are clearly fictional; the installations are throwaway
folders of the test.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "waystation.settings")
    os.environ["WAYSTATION_DEV_HTTP"] = "1"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _acting_as(username: str, password: str) -> Any:
    """The user's keys opened as a sign-in opens them, and a context that acts with them."""
    from waystation.accounts.models import User
    from waystation.vault import userkeys
    from waystation.vault.agent import AGENT
    from waystation.vault.keyring import acting, keyring_for

    user = User.objects.get(username=username)
    AGENT.put(f"e2e:{user.pk}", user.pk, userkeys.unlock(user, password))
    return user, acting(user, keyring_for(user))


def setup(username: str, password: str) -> dict[str, Any]:
    """A new installation: its coordinator (password given), the vault set up, the sync identity made."""
    from waystation.accounts.models import Role
    from waystation.accounts.services import user_create
    from waystation.sync.identity import identity_ensure
    from waystation.vault import setup as vault_setup

    user, _ = user_create(actor=None, username=username, role=Role.COORDINATOR, password=password)
    vault_setup.initialise(actor=user, shares=3, threshold=2)
    public = identity_ensure(actor=user)
    return {"key": public.key_string(), "fingerprint": public.fingerprint()}


def station(username: str, password: str, code_name: str) -> dict[str, Any]:
    from waystation.network.services import station_create

    user, acts = _acting_as(username, password)
    with acts:
        made = station_create(
            actor=user, code_name=code_name, country="CN", region="Fictional north", kind="safe_house"
        )
    return {"uid": str(made.uid)}


def register(username: str, password: str, code_name: str, name: str) -> dict[str, Any]:
    from waystation.cases.services import person_register
    from waystation.network.models import Station

    user, acts = _acting_as(username, password)
    with acts:
        person = person_register(
            actor=user, station=Station.objects.get(code_name=code_name), sex="F", birth_year=1990, name_hangul=name
        )
    return {"id": str(person.id), "case_code": person.case_code}


def read(username: str, password: str, person_id: str) -> dict[str, Any]:
    """What this installation holds of the person, her name decrypted with the user's keys (None if absent)."""
    from waystation.cases.models import Person
    from waystation.vault.reveal import reveal

    user, acts = _acting_as(username, password)
    person = Person.objects.filter(pk=person_id).first()
    if person is None:
        return {"person": None}
    with acts:
        (shown,) = reveal(user=user, items=[(person, ["name_hangul"])], purpose="e2e_check")
    return {
        "person": person_id,
        "name_hangul": str(shown["name_hangul"]),
        "locked": shown.locked,
        "sex": person.sex,
        "birth_year": person.birth_year,
    }


def kill(username: str, password: str) -> dict[str, Any]:
    """The kill switch, pulled as the dashboard pulls it: by a coordinator whose keys are open."""
    from waystation.sync.identity import IdentityKeyWrap
    from waystation.vault.models import CaseKeyWrap
    from waystation.vault.shred import kill_switch

    user, _acts = _acting_as(username, password)
    kill_switch(actor=user)
    left = CaseKeyWrap.objects.filter(holder__isnull=False).count()
    return {"user_wraps": left + IdentityKeyWrap.objects.filter(holder__isnull=False).count()}


def edit(username: str, password: str, person_id: str, birth_year: str) -> dict[str, Any]:
    from waystation.cases.models import Person
    from waystation.cases.services import person_update

    user, acts = _acting_as(username, password)
    with acts:
        person_update(actor=user, person=Person.objects.get(pk=person_id), birth_year=int(birth_year))
    return {"birth_year": int(birth_year)}


def conflicts(person_id: str) -> dict[str, Any]:
    """The open conflicts on the person's fields, and the value this installation shows meanwhile."""
    from waystation.cases.models import Person
    from waystation.sync.changes.models import Conflict

    open_ = Conflict.objects.filter(gid=person_id, resolved_at__isnull=True)
    return {
        "fields": sorted(open_.values_list("field", flat=True)),
        "birth_year": Person.objects.get(pk=person_id).birth_year,
    }


def stations() -> dict[str, Any]:
    from waystation.network.models import Station

    return {"stations": {s.code_name: str(s.uid) for s in Station.objects.all()}}


STEPS = {
    "setup": setup,
    "station": station,
    "register": register,
    "read": read,
    "edit": edit,
    "conflicts": conflicts,
    "kill": kill,
    "stations": stations,
}

if __name__ == "__main__":
    _django()
    print(json.dumps(STEPS[sys.argv[1]](*sys.argv[2:])))
