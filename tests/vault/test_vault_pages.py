"""The vault from the web: shredding a case, the kill switch, and exact name search by blind index."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from waystation.audit.models import AuditEvent
from waystation.cases.models import Person
from waystation.vault.crypto import Locked
from waystation.vault.fields import open_value
from waystation.vault.keyring import keyring_for
from waystation.vault.models import CaseKeyWrap, IndexKeyWrap, NameIndex, ShredRecord

pytestmark = pytest.mark.django_db


def test_a_coordinator_shreds_a_case_after_typing_its_code(
    world: SimpleNamespace, client_for: Callable[..., Any]
) -> None:
    person: Person = world.person_at_a
    url = f"/cases/{person.case_code}/shred/"
    client = client_for(world.coordinator)
    page = client.get(url)
    assert page.status_code == 200 and "cannot be undone" in page.content.decode()

    wrong = client.submit(url, {"confirm": "AAAA-AAAA", "purpose": "asked"})
    assert wrong.status_code == 200 and "not this case" in wrong.content.decode()
    assert CaseKeyWrap.objects.filter(person=person).exists() and not ShredRecord.objects.exists()

    done = client.submit(url, {"confirm": person.case_code.lower(), "purpose": "asked"})
    assert done.status_code == 302
    assert not CaseKeyWrap.objects.filter(person=person).exists()  # the recovery wrap too
    assert not NameIndex.objects.filter(person=person).exists()
    case_page = client.get(f"/cases/{person.case_code}/").content.decode()
    assert "was shredded" in case_page and "Gasang Hana" not in case_page
    assert "Shred this case" not in case_page
    stored = Person.objects.get(pk=person.pk)
    assert stored.sex == "F" and stored.birth_year == 1994  # coded facts stay for the statistics
    assert stored.name_romanized == "" and stored.photo is None  # ciphertexts blanked
    event = AuditEvent.objects.get(action="vault.shred")
    assert event.case_id == person.id and event.purpose == "asked"


def test_shredding_needs_a_recent_proof_and_the_coordinator_role(
    world: SimpleNamespace, client_for: Callable[..., Any]
) -> None:
    url = f"/cases/{world.person_at_a.case_code}/shred/"
    stale = client_for(world.coordinator, recent_auth=False).get(url)
    assert stale.status_code == 302 and stale["Location"].startswith("/accounts/confirm/")
    assert client_for(world.caseworker).get(url).status_code == 403
    keeper = client_for(world.keeper_a)
    refused = keeper.submit(url, {"confirm": world.person_at_a.case_code, "purpose": "asked"})
    assert refused.status_code == 403
    assert CaseKeyWrap.objects.filter(person=world.person_at_a).exists()


def test_the_kill_switch_needs_a_recent_proof_and_the_right_role(
    world: SimpleNamespace, client_for: Callable[..., Any]
) -> None:
    stale = client_for(world.personas["administrator"], recent_auth=False)
    response = stale.submit("/vault/kill/", {"confirm": "DESTROY ALL KEYS"})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/confirm/")
    refused = client_for(world.caseworker).submit("/vault/kill/", {"confirm": "DESTROY ALL KEYS"})
    assert refused.status_code == 403
    assert CaseKeyWrap.objects.filter(holder__isnull=False).exists()  # nothing destroyed
    assert not AuditEvent.objects.filter(action="vault.kill_switch").exists()


def test_the_kill_switch_leaves_nobody_able_to_read(
    world: SimpleNamespace, client_for: Callable[..., Any], sign_in_fully: Callable[..., Any]
) -> None:
    coordinator_client = client_for(world.coordinator)
    admin = client_for(world.personas["administrator"])
    refused = admin.submit("/vault/kill/", {"confirm": "destroy some keys"})
    assert refused.status_code == 200 and CaseKeyWrap.objects.filter(holder__isnull=False).exists()

    killed = admin.submit("/vault/kill/", {"confirm": "destroy  all keys"})
    assert killed.status_code == 200 and "Keys destroyed" in killed.content.decode()
    assert not CaseKeyWrap.objects.filter(holder__isnull=False).exists()
    assert not IndexKeyWrap.objects.filter(holder__isnull=False).exists()
    assert CaseKeyWrap.objects.filter(holder__isnull=True).count() == Person.objects.count()  # recovery only
    assert AuditEvent.objects.filter(action="vault.kill_switch").count() == 1
    # Every session ended, every key dropped: the coordinator's next request is a sign-in page.
    assert coordinator_client.get("/cases/")["Location"].startswith("/accounts/login/")
    # Signing in again opens the coordinator's key pair, which now opens no case.
    fresh = client_for(None)
    sign_in_fully(fresh, world.coordinator.username)
    listing = fresh.get("/cases/").content.decode()
    assert "key not yet held" in listing and "Gasang Hana" not in listing
    with pytest.raises(Locked):
        open_value(keyring_for(world.coordinator), world.person_at_a, "name_romanized")


@pytest.mark.parametrize("typed", ["Gasang Hana (fictional)", "  gasang-hana (FICTIONAL) ", "가상 하나", "가상하나"])
def test_exact_name_search_finds_the_person_by_blind_index(
    world: SimpleNamespace, client_for: Callable[..., Any], typed: str
) -> None:
    page = client_for(world.coordinator).get("/cases/", {"q": typed}).content.decode()
    assert world.person_at_a.case_code in page
    assert world.person_at_b.case_code not in page


def test_name_search_stays_inside_what_the_user_may_see(world: SimpleNamespace, client_for: Callable[..., Any]) -> None:
    keeper_b = client_for(world.keeper_b)
    assert world.person_at_b.case_code in keeper_b.get("/cases/", {"q": "Gasang Dul (fictional)"}).content.decode()
    elsewhere = keeper_b.get("/cases/", {"q": "Gasang Hana (fictional)"}).content.decode()
    assert world.person_at_a.case_code not in elsewhere and "No case matches." in elsewhere
    partial = client_for(world.coordinator).get("/cases/", {"q": "Gasang"}).content.decode()
    assert "No case matches." in partial  # exact names only: a digest reveals nothing about parts


def test_no_plaintext_name_column_stands_beside_the_digests(world: SimpleNamespace) -> None:
    rows = NameIndex.objects.filter(person=world.person_at_a)
    names = set(rows.filter(kind="name").values_list("digest", flat=True))
    assert len(names) == 2  # her two names; the name-key digests for duplicate detection are rows of other kinds
    digests = set(rows.values_list("digest", flat=True))
    assert len(digests) > len(names) and all(len(d) == 32 and int(d, 16) >= 0 for d in digests)
    assert not any("Gasang" in d or "가상" in d or "gasang" in d for d in digests)


def test_a_user_without_the_index_key_still_finds_by_code(
    world: SimpleNamespace, client_for: Callable[..., Any]
) -> None:
    IndexKeyWrap.objects.filter(holder=world.coordinator).delete()
    client = client_for(world.coordinator)
    assert world.person_at_a.case_code in client.get("/cases/", {"q": world.person_at_a.case_code}).content.decode()
    assert "No case matches." in client.get("/cases/", {"q": "Gasang Hana (fictional)"}).content.decode()
