"""The coordinator's conflict pages: both values side by side through the reveal gate, a choice that is audited and
travels like an edit; every other role 403."""

from __future__ import annotations

import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from django.urls import reverse

from waystation.accounts.models import User
from waystation.audit.models import AuditEvent
from waystation.cases.services import person_update
from waystation.sync.changes import log, merge
from waystation.sync.changes.models import Change, Conflict, RowState
from waystation.sync.changes.payload import receive_payload
from waystation.vault.keyring import keyring_for

REMOTE = "d0d0d0d0"


def make_conflict(world: SimpleNamespace, field: str, here: Any, there: Any) -> Conflict:
    """``field`` of person_at_a changed here to ``here`` and, concurrently, at another installation to ``there``."""
    person = world.person_at_a
    seen = merge.row_vector(log.versions_of(RowState.objects.get(gid=str(person.id)).fields))
    person_update(actor=world.coordinator, person=person, **{field: here})
    hlc = merge.hlc_format(int(time.time() * 1000) + 5000, 0, REMOTE)
    payload = {"format": "waystation-changes/1", "origin": REMOTE, "bundle": 1, "upto": 1, "ack": None,
               "changes": [{"o": REMOTE, "n": 1, "h": hlc, "m": "cases.person", "g": str(person.id),
                            "c": str(person.id), "x": seen, "f": {field: there}}]}  # fmt: skip
    receive_payload(payload, keyring=keyring_for(world.coordinator), actor=world.coordinator, peer="peer")
    return Conflict.objects.get(field=field, resolved_at__isnull=True)


def test_the_coordinator_sees_both_names_side_by_side_and_keeps_one(
    world: SimpleNamespace, client_for: Callable[..., Any]
) -> None:
    conflict = make_conflict(world, "name_romanized", "Here Hana (fictional)", "There Hana (fictional)")
    client = client_for(world.coordinator)
    listing = client.get(reverse("sync_changes:list")).content.decode()
    assert world.person_at_a.case_code in listing and "Here Hana" not in listing
    page = client.get(reverse("sync_changes:detail", args=[conflict.pk])).content.decode()
    assert "Here Hana (fictional)" in page and "There Hana (fictional)" in page
    assert AuditEvent.objects.filter(action="reveal", actor=world.coordinator, purpose="sync.conflict").exists()
    here = next(v for v in conflict.versions if v[0] != REMOTE)
    before = Change.objects.count()
    response = client.submit(reverse("sync_changes:resolve", args=[conflict.pk]), {"choice": here[2]})
    assert response.status_code == 302
    conflict.refresh_from_db()
    assert conflict.outcome == Conflict.Outcome.CHOSEN and conflict.resolved_by == world.coordinator
    assert AuditEvent.objects.filter(action="sync.conflict_resolved", case_id=world.person_at_a.id).exists()
    # The choice travels: one local write of the field, whose context has seen both versions.
    choice = Change.objects.order_by("-seq").first()
    assert Change.objects.count() == before + 1 and list(choice.fields) == ["name_romanized"]
    assert choice.ctx.get(REMOTE) == 1
    from waystation.vault.reveal import reveal

    shown = reveal(user=world.coordinator, items=[(world.person_at_a.__class__.objects.get(pk=world.person_at_a.pk),
                                                   ["name_romanized"])], purpose="test")  # fmt: skip
    assert shown[0]["name_romanized"] == "Here Hana (fictional)"


def test_until_resolved_the_later_value_is_shown(world: SimpleNamespace) -> None:
    make_conflict(world, "birth_year", 1990, 1980)
    world.person_at_a.refresh_from_db()
    assert world.person_at_a.birth_year == 1980  # the other installation's clock is later


def test_a_choice_that_is_not_one_of_the_values_changes_nothing(
    world: SimpleNamespace, client_for: Callable[..., Any]
) -> None:
    conflict = make_conflict(world, "birth_year", 1990, 1980)
    client = client_for(world.coordinator)
    response = client.submit(reverse("sync_changes:resolve", args=[conflict.pk]), {"choice": "bogus"}, follow=True)
    assert response.status_code == 200 and "Choose one of the values shown." in response.content.decode()
    conflict.refresh_from_db()
    assert conflict.resolved_at is None


@pytest.mark.parametrize("role", ["keeper", "caseworker", "analyst", "auditor", "administrator"])
def test_every_other_role_is_refused(world: SimpleNamespace, client_for: Callable[..., Any], role: str) -> None:
    conflict = make_conflict(world, "birth_year", 1990, 1980)
    client = client_for(world.personas[role])
    assert client.get(reverse("sync_changes:list")).status_code == 403
    assert client.get(reverse("sync_changes:detail", args=[conflict.pk])).status_code == 403
    response = client.submit(reverse("sync_changes:resolve", args=[conflict.pk]), {"choice": conflict.versions[0][2]})
    assert response.status_code == 403
    conflict.refresh_from_db()
    assert conflict.resolved_at is None


def test_the_navigation_links_the_conflicts_for_coordinators_with_the_open_count(
    world: SimpleNamespace, client_for: Callable[..., Any]
) -> None:
    dashboard = reverse("web:dashboard")
    assert "Sync conflicts (" not in client_for(world.coordinator).get(dashboard).content.decode()
    make_conflict(world, "birth_year", 1990, 1980)
    page = client_for(world.coordinator).get(dashboard).content.decode()
    assert f'href="{reverse("sync_changes:list")}">Sync conflicts (1)<' in page
    for role in ("keeper", "caseworker", "administrator"):
        assert reverse("sync_changes:list") not in client_for(world.personas[role]).get(dashboard).content.decode()


def test_under_duress_the_conflicts_look_empty_and_none_opens(
    world: SimpleNamespace, client_for: Callable[..., Any]
) -> None:
    """As the case list and the duplicates queue: an ordinary, empty list (not a refusal that would tell the one
    watching that something is hidden), no count in the navigation, and no conflict opens or can be resolved."""
    conflict = make_conflict(world, "name_romanized", "Here Hana (fictional)", "There Hana (fictional)")
    Conflict.objects.create(
        model="cases.person", gid=str(world.person_at_a.pk), case_id=world.person_at_a.pk, field="birth_year",
        versions=[], opened_at=conflict.opened_at, resolved_at=conflict.opened_at, outcome=Conflict.Outcome.SUPERSEDED,
    )  # fmt: skip
    code = world.person_at_a.case_code
    assert code in client_for(world.coordinator).get(reverse("sync_changes:list")).content.decode()

    User.objects.filter(pk=world.coordinator.pk).update(under_duress=True)
    world.coordinator.refresh_from_db()
    client = client_for(world.coordinator)
    listing = client.get(reverse("sync_changes:list"))
    page = listing.content.decode()
    assert listing.status_code == 200 and "No open conflict." in page
    assert code not in page and "Recently resolved" not in page and "Sync conflicts (" not in page
    assert client.get(reverse("sync_changes:detail", args=[conflict.pk])).status_code == 404
    response = client.submit(reverse("sync_changes:resolve", args=[conflict.pk]), {"choice": conflict.versions[0][2]})
    assert response.status_code == 404
    conflict.refresh_from_db()
    assert conflict.resolved_at is None
    assert not AuditEvent.objects.filter(action="reveal", actor=world.coordinator, purpose="sync.conflict").exists()
