from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from waystation.network.models import Station
from waystation.sync.models import PeerKind


class EnrolForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=60, help_text=_("e.g. ALDER, or hub"))
    kind = forms.ChoiceField(label=_("Kind"), choices=PeerKind.choices)
    station = forms.ModelChoiceField(
        label=_("Station"),
        queryset=Station.objects.all(),
        to_field_name="code_name",
        required=False,
        help_text=_("For a station: which one on the route it is."),
    )
    url = forms.CharField(
        label=_("Address"), max_length=300, required=False, help_text=_("For the hub: https://... where it is served.")
    )
    key = forms.CharField(
        label=_("Key string"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("As the other installation shows it (waystation sync identity, or its Sync page)."),
    )
    fingerprints_match = forms.BooleanField(
        label=_("The fingerprints match"),
        required=False,
        help_text=_("Compare the fingerprint shown here with the one the other installation shows, digit by digit."),
    )
