"""A referral moves from made to accepted or declined, and from accepted to completed or declined; nothing else."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from django.urls import reverse

from waystation.audit.models import AuditEvent
from waystation.cases.care_services import referral_set_status
from waystation.lib.errors import ServiceError

REFUSED = "A referral is first accepted or declined, and an accepted one then completed or declined."


def test_a_caseworker_marks_a_referral_accepted_then_completed_from_the_case_page(
    world: SimpleNamespace, client_for: Any
) -> None:
    referral = world.referral_a
    url = reverse("cases:referral_status", kwargs={"code": world.person_at_a.case_code, "referral_id": referral.pk})
    client = client_for(world.caseworker)
    page = client.get(reverse("cases:detail", kwargs={"code": world.person_at_a.case_code})).content.decode()
    assert 'value="accepted"' in page and 'value="completed"' not in page
    assert client.submit(url, {"status": "accepted"}).status_code == 302
    referral.refresh_from_db()
    assert referral.status == "accepted"
    assert client.submit(url, {"status": "completed"}).status_code == 302
    referral.refresh_from_db()
    assert referral.status == "completed"
    event = AuditEvent.objects.filter(action="referral.status").latest("id")
    assert event.details == {"from": "accepted", "to": "completed"}


@pytest.mark.parametrize(
    ("path", "refused"),
    [
        ([], "completed"),  # made -> completed skips acceptance
        (["accepted"], "made"),  # no way back
        (["declined"], "accepted"),  # declined is final
        (["accepted", "completed"], "declined"),  # completed is final
    ],
)
def test_other_moves_are_refused_and_change_nothing(world: SimpleNamespace, path: list[str], refused: str) -> None:
    referral = world.referral_a
    for status in path:
        referral_set_status(actor=world.coordinator, referral=referral, status=status)
    before = (referral.status, AuditEvent.objects.count())
    with pytest.raises(ServiceError) as refusal:
        referral_set_status(actor=world.coordinator, referral=referral, status=refused)
    assert refusal.value.message == REFUSED and refusal.value.field == "status"
    referral.refresh_from_db()
    assert (referral.status, AuditEvent.objects.count()) == before


def test_an_unknown_status_from_the_form_is_a_message_not_an_error(world: SimpleNamespace, client_for: Any) -> None:
    url = reverse(
        "cases:referral_status", kwargs={"code": world.person_at_a.case_code, "referral_id": world.referral_a.pk}
    )
    client = client_for(world.coordinator)
    response = client.submit(url, {"status": "teleported"}, follow=True)
    assert response.status_code == 200
    assert "teleported is not one of the available choices" in response.content.decode()
    world.referral_a.refresh_from_db()
    assert world.referral_a.status == "made"
