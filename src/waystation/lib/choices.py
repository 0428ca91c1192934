"""Checks of coded values (Django ``Choices``) in services: an unknown code is a refusal, never a 500.

Forms already offer only the listed codes; services check again because they are also called by imports, sync and
scripts, and because a stored unknown code would break every list, filter and figure that reads it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from django.db.models import Choices
from django.utils.translation import gettext as _

from waystation.lib.errors import ServiceError

V = TypeVar("V")


def _invalid(value: object, *, field: str, message: str | None) -> ServiceError:
    # The same words as Django's own choice fields, so that a form and a service refuse alike.
    text = message or _("Select a valid choice. %(value)s is not one of the available choices.")
    return ServiceError(text % {"value": value}, field=field)


def is_choice(value: object, choices: type[Choices]) -> bool:
    if isinstance(value, bool):  # True == 1: not a level, not a code
        return False
    return value in choices.values


def check_choice(value: V, choices: type[Choices], *, field: str, blank: bool = False, message: str | None = None) -> V:
    """``value`` when it is one of ``choices`` (or ``""`` with ``blank``); otherwise a ServiceError on ``field``.

    ``message``, if given, is a translated text with a ``%(value)s`` placeholder.
    """
    if blank and value == "":
        return value
    if not is_choice(value, choices):
        raise _invalid(value, field=field, message=message)
    return value


def check_choices(values: object, choices: type[Choices], *, field: str, message: str | None = None) -> list[Any]:
    """The codes of a multiple choice, each one of ``choices``, without repeats and sorted. None is no codes;
    anything but a list (or other iterable) of codes is refused, a bare string included."""
    if values is None:
        return []
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise _invalid(values, field=field, message=message)
    items = list(values)
    unknown = [item for item in items if not is_choice(item, choices)]
    if unknown:
        raise _invalid(", ".join(sorted({str(item) for item in unknown})), field=field, message=message)
    return sorted(set(items))
