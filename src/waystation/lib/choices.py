"""Checks of coded values (Django ``Choices``) in services: an unknown code is a refusal, never a 500.

Forms already offer only the listed codes; services check again because they are also called by imports, sync and
scripts, and because a stored unknown code would break every list, filter and figure that reads it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partialmethod
from typing import Any, TypeVar

from django.db.models import Choices, Field, Model
from django.utils.encoding import force_str
from django.utils.hashable import make_hashable
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


# --- labels of coded values on pages -------------------------------------------------------------------------------


def _display_of(field: Field[Any, Any]) -> Callable[[Model], Any]:
    # The labels stay lazy: each is translated when shown, in the language active then.
    labels = {make_hashable(value): label for value, label in field.flatchoices}

    def display(instance: Model) -> Any:
        value = getattr(instance, field.attname)
        return force_str(labels.get(make_hashable(value), value), strings_only=True)

    display.__name__ = f"get_{field.name}_display"
    display.__doc__ = f"The label of {field.name}'s coded value, in the active language (Django's, from a table)."
    return display


def install_fast_displays(models: Iterable[type[Model]]) -> int:
    """Give every coded field of ``models`` a ``get_FOO_display`` that looks its label up in a table made once.

    Django's own builds a dict of every choice on each call and hashes each label, which translates it: a list of
    50 cases showed about a thousand labels, ten thousand translations and a third of the page's rendering time.
    The result is the same (the label of the value in the active language, or the value itself when it is not one
    of the choices). A ``get_FOO_display`` that a model defines itself is left alone. Returns how many were set.
    """
    installed = 0
    for model in models:
        for field in model._meta.concrete_fields:
            name = f"get_{field.name}_display"
            if field.choices and isinstance(model.__dict__.get(name), partialmethod):  # Django's, not the model's
                setattr(model, name, _display_of(field))
                installed += 1
    return installed
