"""The coordinator's review of duplicates: the queue, a pair side by side, the merges (with undo).

Each view: check access (``linkage.access``: coordinators only, 403 for everyone else on every route), call one
service, render. Changes are POSTs with the CSRF token. A merge is not behind ``accounts.reauth``: unlike a shred or
an import it destroys and writes nothing but one pointer, and it can be undone from the merges page; the pair page,
which shows both records, reveals through the vault (audited) as the case page does, and is no more gated than it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from waystation.cases.access import person_fields_for
from waystation.cases.models import Person
from waystation.lib.errors import ServiceError
from waystation.linkage import services
from waystation.linkage.access import can_review, candidate_for_user, merge_for_user, merges_for, reviewable
from waystation.linkage.models import Candidate, CandidateStatus
from waystation.linkage.reasons import reason_words
from waystation.network.models import Station
from waystation.network.selectors import current_station_id
from waystation.vault.reveal import reveal_onto
from waystation.web.types import AuthedHttpRequest

QUEUE_SIZE = 200
MERGES_SHOWN = 200


def _check(request: AuthedHttpRequest) -> None:
    if not can_review(request.user):
        raise PermissionDenied


def _done(request: AuthedHttpRequest, service: Callable[..., object], **kwargs: Any) -> bool:
    """Call a service; a refusal becomes an error message (in the user's language) and False."""
    try:
        service(actor=request.user, **kwargs)
    except ServiceError as exc:
        messages.error(request, exc.message)
        return False
    return True


def _with_words(candidate: Candidate) -> Candidate:
    """The pair's reasons in words, for and against (``reasons`` holds ``[code, weight]``)."""
    candidate.for_words = reason_words(code for code, weight in candidate.reasons if weight > 0)  # type: ignore[attr-defined]
    candidate.against_words = reason_words(code for code, weight in candidate.reasons if weight <= 0)  # type: ignore[attr-defined]
    return candidate


@require_safe
def queue(request: AuthedHttpRequest) -> HttpResponse:
    _check(request)
    pairs = reviewable(request.user).filter(
        status=CandidateStatus.OPEN, person_a__merged_into__isnull=True, person_b__merged_into__isnull=True
    )
    candidates = [_with_words(c) for c in pairs.select_related("person_a", "person_b")[:QUEUE_SIZE]]
    return render(request, "linkage/queue.html", {"candidates": candidates, "more": pairs.count() > QUEUE_SIZE})


@require_POST
def refresh(request: AuthedHttpRequest) -> HttpResponse:
    _check(request)
    counts = services.candidates_refresh(actor=request.user)
    messages.success(
        request,
        _("%(persons)d records compared: %(pairs)d possible duplicate pair(s), %(new)d of them new.") % counts,
    )
    return redirect("linkage:queue")


def _side(person: Person) -> Person:
    """One record of the pair as the page shows it besides its details: its place, and how much history it holds."""
    station_id = current_station_id(person.pk)
    person.station = Station.objects.filter(pk=station_id).first() if station_id else None  # type: ignore[attr-defined]
    person.history = [  # type: ignore[attr-defined]
        (_("Movements"), person.movements.count()),
        (_("Exploitation episodes"), person.episodes.count()),
        (_("Services"), person.services.count()),
        (_("Notes"), person.notes.count()),
        (_("Records merged into it"), person.merged_records.count()),
    ]
    return person


@require_safe
def pair(request: AuthedHttpRequest, candidate_id: int) -> HttpResponse:
    candidate = _with_words(candidate_for_user(request.user, candidate_id))
    persons = Person.objects.defer("photo")
    left = _side(persons.get(pk=candidate.person_a_id))
    right = _side(persons.get(pk=candidate.person_b_id))
    # One audited reveal for the page, naming both records (as the case list does for its rows).
    fields = list(person_fields_for(request.user))
    reveal_onto(user=request.user, items=[(left, fields), (right, fields)], purpose="duplicate_review")
    decidable = (
        candidate.status == CandidateStatus.OPEN and left.merged_into_id is None and right.merged_into_id is None
    )
    context = {"candidate": candidate, "left": left, "right": right, "decidable": decidable}
    return render(request, "linkage/pair.html", context)


class KeepForm(forms.Form):
    keep = forms.ChoiceField(choices=[("a", "a"), ("b", "b")])


@require_POST
def merge(request: AuthedHttpRequest, candidate_id: int) -> HttpResponse:
    candidate = candidate_for_user(request.user, candidate_id)
    form = KeepForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose which record to keep."))
        return redirect("linkage:pair", candidate.pk)
    pair_ = (candidate.person_a, candidate.person_b)
    kept, absorbed = pair_ if form.cleaned_data["keep"] == "a" else pair_[::-1]
    if not _done(request, services.merge, kept=kept, absorbed=absorbed):
        return redirect("linkage:pair", candidate.pk)
    messages.success(
        request,
        _("Case %(absorbed)s was merged into case %(kept)s.")
        % {"absorbed": absorbed.case_code, "kept": kept.case_code},
    )
    return redirect("linkage:queue")


@require_POST
def not_same(request: AuthedHttpRequest, candidate_id: int) -> HttpResponse:
    candidate = candidate_for_user(request.user, candidate_id)
    if not _done(request, services.mark_not_same, candidate=candidate):
        return redirect("linkage:pair", candidate.pk)
    messages.success(request, _("Marked as two different persons: this pair will not be proposed again."))
    return redirect("linkage:queue")


@require_safe
def merges(request: AuthedHttpRequest) -> HttpResponse:
    _check(request)
    records = merges_for(request.user).select_related("kept", "absorbed", "by", "undone_by")[:MERGES_SHOWN]
    return render(request, "linkage/merges.html", {"merges": records})


@require_POST
def undo(request: AuthedHttpRequest, merge_id: int) -> HttpResponse:
    record = merge_for_user(request.user, merge_id)
    if _done(request, services.undo_merge, merge=record):
        messages.success(
            request,
            _("The merge was undone: case %(absorbed)s is a record of its own again.")
            % {"absorbed": record.absorbed.case_code},
        )
    return redirect("linkage:merges")
