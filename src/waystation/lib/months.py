"""Months: most dates in a case are coarsened to the month (stored as the first day of that month)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from django.utils.translation import gettext as _

from waystation.lib.errors import ServiceError

EARLIEST_YEAR = 1900


def this_month() -> dt.date:
    return timezone.localdate().replace(day=1)


def check_month(value: dt.date | None, *, field: str) -> dt.date | None:
    if value is None:
        return None
    month = value.replace(day=1)
    if month > this_month():
        raise ServiceError(_("This month is in the future."), field=field)
    if month.year < EARLIEST_YEAR:
        raise ServiceError(_("This month is too long ago to be right."), field=field)
    return month


def check_birth_year(value: int | None) -> int | None:
    if value is None:
        return None
    if not EARLIEST_YEAR <= value <= timezone.localdate().year:
        raise ServiceError(
            _("Birth year must be between %(first)s and %(last)s.")
            % {"first": EARLIEST_YEAR, "last": timezone.localdate().year},
            field="birth_year",
        )
    return value


def check_not_future(value: dt.date | None, *, field: str) -> dt.date | None:
    if value is not None and value > timezone.localdate():
        raise ServiceError(_("This date is in the future."), field=field)
    return value
