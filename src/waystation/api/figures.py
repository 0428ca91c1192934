"""Figures releases over the API: the stored releases, as ``waystation figures --json`` prints them (disclosure
control already applied, no raw count). Reading makes no new release: that stays with the dashboard and the
figures command, which audit it."""

from __future__ import annotations

from typing import Any

from django.db.models import Max
from django.http import Http404, HttpRequest
from ninja import Query, Router

from waystation.api.auth import Token
from waystation.api.schemas import ERRORS, Code, Id, Input, Release, check_query
from waystation.api.tokens import Scope
from waystation.figures import models
from waystation.figures.releases import public_release

router = Router(tags=["figures"])
LIST_LIMIT = 100


class ReleaseFilter(Input):
    indicator: Code | None = None
    before: Id | None = None  # only releases with a smaller id: the next page after the last one seen


@router.get("/releases", response={200: list[Release], **ERRORS}, auth=Token(Scope.FIGURES_READ), url_name="releases")
def release_list(request: HttpRequest, filters: Query[ReleaseFilter]) -> list[dict[str, Any]]:
    """Stored releases, newest first, at most 100; ``before`` pages on, ``indicator`` narrows to one indicator."""
    check_query(request, ReleaseFilter)
    releases = models.Release.objects.order_by("-id")
    if filters.indicator:
        releases = releases.filter(indicator=filters.indicator)
    if filters.before:
        releases = releases.filter(id__lt=filters.before)
    return [public_release(r) for r in releases[:LIST_LIMIT]]


@router.get(
    "/releases/latest",
    response={200: list[Release], **ERRORS},
    auth=Token(Scope.FIGURES_READ),
    url_name="releases_latest",
)
def release_latest(request: HttpRequest) -> list[dict[str, Any]]:
    """The latest stored release of every indicator."""
    last_ids = models.Release.objects.order_by().values("indicator").annotate(last=Max("id")).values("last")
    return [public_release(r) for r in models.Release.objects.filter(id__in=last_ids).order_by("indicator")]


@router.get(
    "/releases/{release_id}", response={200: Release, **ERRORS}, auth=Token(Scope.FIGURES_READ), url_name="release"
)
def release_detail(request: HttpRequest, release_id: Id) -> dict[str, Any]:
    release = models.Release.objects.filter(pk=release_id).first()
    if release is None:
        raise Http404
    return public_release(release)
