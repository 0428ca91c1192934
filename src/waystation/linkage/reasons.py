"""What each reason code of a candidate pair (``matching.Reason.code``) means, in words: the level each comparison
reached. Apart from ``matching`` (which loads Splink) so that the review pages can word reasons without it."""

from __future__ import annotations

from collections.abc import Iterable

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

# What the review queue shows for each reason code (``Reason.code``): the level each comparison reached.
REASON_LABELS: dict[str, Promise] = {
    "name.hangul": _("Same name in Hangul"),
    "name.phonetic": _("Names that sound alike"),
    "name.surname": _("Same surname only"),
    "name.different": _("Different names"),
    "birth_year.same": _("Same birth year"),
    "birth_year.close": _("Birth years one year apart"),
    "birth_year.different": _("Different birth years"),
    "sex.same": _("Same sex"),
    "sex.different": _("Different sex"),
    "province.same": _("Same province of origin"),
    "province.different": _("Different provinces of origin"),
    "left_month.same": _("Left North Korea the same month"),
    "left_month.close": _("Left North Korea within three months"),
    "left_month.year": _("Left North Korea within a year"),
    "left_month.different": _("Left North Korea more than a year apart"),
}


def reason_words(codes: Iterable[str]) -> list[str]:
    """The reasons in words, in the order given; an unknown code (from a newer matcher) as itself."""
    return [str(REASON_LABELS.get(code, code)) for code in codes]
