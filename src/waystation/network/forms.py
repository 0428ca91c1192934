from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

from waystation.accounts.models import Role, User
from waystation.cases.forms import StationChoiceField
from waystation.network.models import (
    CODE_NAME_MESSAGE,
    CODE_NAME_PATTERN,
    MAX_CAPACITY,
    RESERVED_CODE_NAME_MESSAGE,
    RESERVED_CODE_NAMES,
    Country,
    MovementStatus,
    Station,
    StationKind,
    StationStatus,
)


class MoveForm(forms.Form):
    to_station = StationChoiceField(label=_("To station"), queryset=Station.objects.none(), to_field_name="code_name")
    depart_now = forms.BooleanField(label=_("Leaving now"), required=False)
    expected_arrival = forms.DateTimeField(
        label=_("Expected arrival"), required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    note = forms.CharField(label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, stations: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["to_station"].queryset = stations  # type: ignore[attr-defined]


class MovementUpdateForm(forms.Form):
    action = forms.ChoiceField(
        choices=[
            ("depart", _("Departed")),
            (MovementStatus.ARRIVED, _("Arrived")),
            (MovementStatus.FAILED, _("Failed")),
            (MovementStatus.INTERCEPTED, _("Intercepted")),
        ]
    )
    # For "depart": needed only when none was set when planning and the leg has no usual duration.
    expected_arrival = forms.DateTimeField(
        label=_("Expected arrival"), required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )


def validate_not_reserved(value: str) -> None:
    if value.lower() in RESERVED_CODE_NAMES:
        raise ValidationError(RESERVED_CODE_NAME_MESSAGE, code="reserved")


class StationForm(forms.Form):
    # The same rules as network.services.station_create, checked here first so the page can say so at once.
    code_name = forms.CharField(
        label=_("Code name"),
        max_length=40,
        validators=[RegexValidator(CODE_NAME_PATTERN, CODE_NAME_MESSAGE), validate_not_reserved],
    )
    country = forms.ChoiceField(label=_("Country"), choices=Country.choices)
    region = forms.CharField(label=_("Region (coarse, never an address)"), max_length=80)
    kind = forms.ChoiceField(label=_("Kind"), choices=StationKind.choices)
    capacity = forms.IntegerField(label=_("Capacity"), min_value=0, max_value=MAX_CAPACITY, initial=0)
    keepers = forms.ModelMultipleChoiceField(
        label=_("Keepers"), required=False, queryset=User.objects.none(), widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["keepers"].queryset = User.objects.filter(  # type: ignore[attr-defined]
            role=Role.KEEPER, is_active=True
        ).order_by("username")


class StationStatusForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=StationStatus.choices)


class LegForm(forms.Form):
    to_station = StationChoiceField(label=_("To station"), queryset=Station.objects.all(), to_field_name="code_name")
    usual_days = forms.IntegerField(label=_("Usual duration (days)"), min_value=1, max_value=365)
