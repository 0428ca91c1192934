"""The auditor's page: filters (action, case, actor, dates), chain status on request, the signed checkpoint."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from audit_helpers import tamper
from django.utils import timezone

from waystation.accounts.models import User
from waystation.audit import chain
from waystation.audit.checkpoint import check_signature, installation_verifier, parse
from waystation.audit.models import AuditEvent
from waystation.audit.verify import current_leaves


def seqs(page: Any) -> list[int]:
    return [e.seq for e in page.context["page"]]


def test_filters(client_for: Callable[..., Any], auditor: User, coordinator: User,
                 write_events: Callable[..., list[AuditEvent]]) -> None:  # fmt: skip
    write_events(2, actor=auditor, action="a.one")
    write_events(3, actor=coordinator, action="a.two")
    client = client_for(auditor)
    everything = client.get("/audit/")
    assert everything.status_code == 200
    total = AuditEvent.objects.count()
    assert len(seqs(everything)) == min(total, 100)

    by_actor = client.get("/audit/", {"actor": coordinator.username.upper()})
    assert {e.actor_id for e in by_actor.context["page"]} == {coordinator.pk}
    assert client.get("/audit/", {"actor": "nobody-of-that-name"}).context["page"].paginator.count == 0
    by_both = client.get("/audit/", {"actor": auditor.username, "action": "a.one"})
    assert by_both.context["page"].paginator.count == 2

    today = timezone.localdate()
    around = {"from": str(today - dt.timedelta(days=1)), "to": str(today + dt.timedelta(days=1))}
    in_range = client.get("/audit/", around)
    assert in_range.context["page"].paginator.count == total
    future = client.get("/audit/", {"from": str(today + dt.timedelta(days=2))})
    assert future.context["page"].paginator.count == 0
    past = client.get("/audit/", {"to": str(today - dt.timedelta(days=2))})
    assert past.context["page"].paginator.count == 0
    bad = client.get("/audit/", {"from": "28/11/2026"})
    assert bad.status_code == 200 and bad.context["page"].paginator.count == 0
    assert "YYYY-MM-DD" in bad.content.decode()


def test_chain_status_on_request(client_for: Callable[..., Any], auditor: User,
                                 write_events: Callable[..., list[AuditEvent]]) -> None:  # fmt: skip
    write_events(4)
    client = client_for(auditor)
    plain = client.get("/audit/")
    n = AuditEvent.objects.count()  # signing in is audited too
    assert plain.context["status"] is None
    assert "?verify=1" in plain.content.decode()
    checked = client.get("/audit/", {"verify": "1"})
    assert checked.context["status"]["ok"] is True
    assert f"Chain verified up to #{n}." in checked.content.decode()

    tamper("UPDATE audit_auditevent SET action = 'forged' WHERE seq = 2")
    broken = client.get("/audit/", {"verify": "1"})
    assert broken.context["status"]["ok"] is False
    assert "The chain is broken at event #2 (verified up to #1)." in broken.content.decode().replace("&#x27;", "'")


def test_checkpoint_download(client_for: Callable[..., Any], auditor: User,
                             write_events: Callable[..., list[AuditEvent]]) -> None:  # fmt: skip
    write_events(3)
    client = client_for(auditor)
    page = client.get("/audit/")
    assert 'href="?download=checkpoint"' in page.content.decode()
    response = client.get("/audit/", {"download": "checkpoint"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert response["Content-Disposition"].startswith('attachment; filename="audit-checkpoint-')
    checkpoint = parse(response.content)
    check_signature(checkpoint, installation_verifier())
    assert checkpoint.size == AuditEvent.objects.count()
    assert checkpoint.root == chain.tree_head(current_leaves())


def test_only_the_auditor(client_for: Callable[..., Any], coordinator: User, administrator: User,
                          write_events: Callable[..., list[AuditEvent]]) -> None:  # fmt: skip
    write_events(1)
    for user in (coordinator, administrator):
        for params in ({}, {"verify": "1"}, {"download": "checkpoint"}):
            assert client_for(user).get("/audit/", params).status_code == 403
    anonymous = client_for(None).get("/audit/", {"download": "checkpoint"})
    assert anonymous.status_code == 302


def test_a_long_log_is_counted_a_few_pages_ahead_and_every_event_reached(
    client_for: Callable[..., Any], auditor: User, write_events: Callable[..., list[AuditEvent]], monkeypatch: Any
) -> None:
    write_events(7, actor=auditor, action="a.many")
    monkeypatch.setattr("waystation.audit.views.PAGE_SIZE", 2)
    monkeypatch.setattr("waystation.lib.paging.AHEAD", 1)
    client = client_for(auditor)
    first = client.get("/audit/", {"action": "a.many"})
    assert "Page 1 of more than 1" in first.content.decode()
    pages = [seqs(client.get("/audit/", {"action": "a.many", "page": n})) for n in range(1, 5)]
    assert sorted(seq for page in pages for seq in page) == sorted(
        AuditEvent.objects.filter(action="a.many").values_list("seq", flat=True)
    )
    assert "Page 4 of 4" in client.get("/audit/", {"action": "a.many", "page": 4}).content.decode()
