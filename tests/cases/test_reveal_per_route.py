"""Every page that shows case content writes exactly one reveal event; every other page writes none."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from django.urls import reverse

from waystation.audit.models import AuditEvent

# The routes whose GET shows sensitive values (names, notes, a photo) to a coordinator.
SHOWS_CASE_CONTENT = {"cases:list", "cases:detail", "cases:edit", "cases:photo", "linkage:pair"}
SIGNS_OUT = {"quick_exit", "accounts:logout"}


def test_each_route_reveals_exactly_once_when_it_shows_case_content(
    world: SimpleNamespace, url_routes: list[Any], client_for: Any
) -> None:
    client = client_for(world.coordinator)
    values = world.route_values
    problems = []
    for route in url_routes:
        if route.name in SIGNS_OUT:
            continue
        url = reverse(route.name, kwargs={k: values[k] for k in route.kwargs})
        before = AuditEvent.objects.filter(action="reveal").count()
        status = client.get(url).status_code
        reveals = AuditEvent.objects.filter(action="reveal").count() - before
        expected = 1 if route.name in SHOWS_CASE_CONTENT else 0
        if status == 200 and reveals != expected:
            problems.append(f"{route.name} ({url}): {reveals} reveal events, expected {expected}")
        if route.name in SHOWS_CASE_CONTENT and status != 200:
            problems.append(f"{route.name} ({url}): answered {status}, so its reveal was not checked")
    assert not problems, "\n".join(problems)
