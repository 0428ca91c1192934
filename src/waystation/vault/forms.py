from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from waystation.cases.models.person import normalise_case_code

KILL_PHRASE = "DESTROY ALL KEYS"


class ShredPurpose:
    CHOICES = [
        ("asked", _("The person asked to be forgotten")),
        ("danger", _("The record puts the person in danger")),
        ("retention", _("No longer needed")),
    ]


class ShredForm(forms.Form):
    confirm = forms.CharField(
        label=_("Type the case code to confirm"), max_length=20, help_text=_("This cannot be undone.")
    )
    purpose = forms.ChoiceField(label=_("Why"), choices=ShredPurpose.CHOICES)

    def __init__(self, *args: Any, case_code: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.case_code = case_code

    def clean_confirm(self) -> str:
        typed = normalise_case_code(self.cleaned_data["confirm"])
        if typed != self.case_code:
            raise forms.ValidationError(_("That is not this case's code."))
        return typed


class KillForm(forms.Form):
    # The phrase stays in English in every language: it is typed, not read.
    confirm = forms.CharField(label=_("Type DESTROY ALL KEYS to confirm"), max_length=40)

    def clean_confirm(self) -> str:
        typed = " ".join(self.cleaned_data["confirm"].split()).upper()
        if typed != KILL_PHRASE:
            raise forms.ValidationError(_("The phrase does not match: nothing was done."))
        return typed
