"""Shared form helpers: run a service from a form, and month inputs people really use."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any, TypeVar

from django import forms
from django.utils.translation import gettext_lazy as _

from waystation.lib.errors import ServiceError
from waystation.vault.crypto import Locked

T = TypeVar("T")


def run_service(form: forms.Form, service: Callable[..., T], **kwargs: Any) -> T | None:
    """Call a service; a refusal becomes a form error (on its field when the form has it) and None."""
    try:
        return service(**kwargs)
    except ServiceError as exc:
        field = exc.field if exc.field in form.fields else None
        form.add_error(field, exc.message)
        return None
    except Locked:
        form.add_error(None, KEY_NOT_HELD)
        return None


# Shown when a change needs a case key the user does not hold yet (after a move or an assignment, until a holder of
# the key signs in), and on pages whose sensitive fields cannot be opened for that reason.
KEY_NOT_HELD = _(
    "You do not hold the key to this case's details yet. It is given to you the next time a coordinator "
    "(or another holder of the key) signs in. Nothing was changed."
)


MONTH_RE = re.compile(r"^\s*(\d{4})\s*[-./년]\s*(\d{1,2})\s*월?\s*$")


class MonthField(forms.CharField):
    """A month, typed as YYYY-MM (an ``<input type=month>`` where the browser has one)."""

    widget = forms.TextInput(attrs={"type": "month", "placeholder": "YYYY-MM"})
    default_error_messages = {"invalid": _("Enter a month as YYYY-MM, for example 2019-03.")}

    def to_python(self, value: Any) -> dt.date | None:  # type: ignore[override]
        text = super().to_python(value)
        if not text:
            return None
        match = MONTH_RE.match(text)
        if not match:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        year, month = int(match.group(1)), int(match.group(2))
        if not 1 <= month <= 12 or year < dt.MINYEAR:  # year 0 does not exist (dt.date would raise)
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return dt.date(year, month, 1)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, dt.date):
            return value.strftime("%Y-%m")
        return value


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%Y-%m-%d", **kwargs)


def errors_text(form: forms.Form) -> str:
    """All of a form's errors as one line, for a message after a redirect."""
    return " ".join(str(e) for errs in form.errors.values() for e in errs)
