"""The import pages' forms: the file, and the column mapping (one select per column of the file)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from waystation.interop.columns import FIELD_LABELS, Mapping
from waystation.interop.spreadsheet import column_letter
from waystation.network.models import Station, StationStatus


class UploadForm(forms.Form):
    file = forms.FileField(
        label=_("Spreadsheet (CSV or XLSX)"),
        help_text=_("At most 50 MB. The file is kept only until the import ends, and never stored."),
    )
    sheet = forms.CharField(
        label=_("Sheet (XLSX, optional)"),
        required=False,
        max_length=100,
        help_text=_("The worksheet to read; the first one when blank."),
    )


def column_field(index: int) -> str:
    return f"col_{index}"


class MappingForm(forms.Form):
    """One select per column of ``header`` (initially ``mapping``), then the register, default station, save-as."""

    source = forms.CharField(
        label=_("Register"),
        max_length=200,
        required=False,
        help_text=_("Rows imported before under this register name (with the same id) are not created again."),
    )
    station = forms.ChoiceField(
        label=_("Station for rows that name none"), required=False, help_text=_("Only active stations.")
    )
    save_as = forms.CharField(
        label=_("Save this mapping as"),
        max_length=100,
        required=False,
        help_text=_("Optional: a name to pick this mapping again for the next file."),
    )

    def __init__(self, *args: Any, header: tuple[str, ...], mapping: Mapping, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header = header
        choices = [("", _("(not imported)")), *((name, label) for name, label in FIELD_LABELS.items())]
        columns: dict[str, forms.Field] = {}
        for index, title in enumerate(header):
            columns[column_field(index)] = forms.ChoiceField(
                label=f"{column_letter(index + 1)}: {title.strip() or '—'}",
                choices=choices,
                required=False,
                initial=mapping.columns.get(index, ""),
            )
        # The columns first, in the file's order, then the other fields.
        self.fields = {**columns, **self.fields}
        active = Station.objects.filter(status=StationStatus.ACTIVE).values_list("code_name", flat=True)
        station_field = self.fields["station"]
        assert isinstance(station_field, forms.ChoiceField)  # noqa: S101 - declared above
        station_field.choices = [("", _("(none: every row names its station)")), *((c, c) for c in active)]

    def column_fields(self) -> list[forms.BoundField]:
        return [self[column_field(i)] for i in range(len(self.header))]

    def mapping(self) -> Mapping:
        """The user's choices; a field chosen for two columns stays so (``Mapping.problems`` reports it)."""
        columns = {
            i: self.cleaned_data[column_field(i)]
            for i in range(len(self.header))
            if self.cleaned_data.get(column_field(i))
        }
        return Mapping(columns, {i: self.header[i] for i in columns})
