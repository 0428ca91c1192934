"""Forms of the case pages. Forms parse and check types; the services enforce the rules."""

from __future__ import annotations

import functools
from typing import Any

from django import forms
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from waystation.accounts.models import Role, User
from waystation.cases import htcds
from waystation.cases.choices import (
    CaseStatus,
    ConsentScope,
    GoalStatus,
    Language,
    NeedArea,
    NeedLevel,
    Province,
    ReferralStatus,
    Relation,
    RiskLevel,
    ServiceKind,
    Sex,
    TaskKind,
)
from waystation.cases.models import Partner, Person
from waystation.network.models import Station, StationStatus
from waystation.web.forms import DateInput, MonthField


class StationChoiceField(forms.ModelChoiceField):
    default_error_messages = {"invalid_choice": _("Unknown station. Choose one from the list.")}

    def label_from_instance(self, obj: Station) -> str:
        return f"{obj.code_name} ({obj.get_country_display()})"


class CaseFilterForm(forms.Form):
    q = forms.CharField(label=_("Case code or exact name"), required=False, max_length=100)
    status = forms.ChoiceField(label=_("Status"), required=False, choices=[("", _("Any")), *CaseStatus.choices])
    station = StationChoiceField(
        label=_("Station"),
        required=False,
        queryset=Station.objects.none(),
        to_field_name="code_name",
        empty_label=_("Any"),
    )
    sex = forms.ChoiceField(label=_("Sex"), required=False, choices=[("", _("Any")), *Sex.choices])
    year = forms.IntegerField(label=_("Year of first contact"), required=False, min_value=1900, max_value=2100)

    def __init__(self, *args: Any, stations: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["station"].queryset = stations  # type: ignore[attr-defined]


class PersonCodedFieldsForm(forms.Form):
    sex = forms.ChoiceField(label=_("Sex"), choices=Sex.choices)
    birth_year = forms.IntegerField(label=_("Birth year"), required=False)
    origin_province = forms.ChoiceField(label=_("Province of origin"), choices=Province.choices, initial="unknown")
    left_nk_month = MonthField(label=_("Month left North Korea"), required=False)
    first_contact_month = MonthField(label=_("Month of first contact"), required=False)
    languages = forms.MultipleChoiceField(
        label=_("Languages"), choices=Language.choices, required=False, widget=forms.CheckboxSelectMultiple
    )


class IdentityFieldsForm(forms.Form):
    name_hangul = forms.CharField(label=_("Name in Hangul"), required=False, max_length=100)
    name_romanized = forms.CharField(label=_("Romanized name"), required=False, max_length=100)
    name_chinese = forms.CharField(label=_("Chinese name"), required=False, max_length=100)
    aliases = forms.CharField(
        label=_("Aliases (one per line)"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    date_of_birth = forms.CharField(label=_("Exact date of birth"), required=False, widget=DateInput())
    contacts = forms.CharField(label=_("Contacts"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    narrative = forms.CharField(label=_("Narrative"), required=False, widget=forms.Textarea)


class RegisterArrivalForm(PersonCodedFieldsForm, IdentityFieldsForm):
    station = StationChoiceField(
        label=_("Arrived at station"), queryset=Station.objects.none(), to_field_name="code_name"
    )
    field_order = [
        "station",
        "name_hangul",
        "name_romanized",
        "name_chinese",
        "sex",
        "birth_year",
        "origin_province",
        "left_nk_month",
        "first_contact_month",
        "languages",
    ]

    def __init__(self, *args: Any, stations: Any, full: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["station"].queryset = stations.filter(status=StationStatus.ACTIVE)  # type: ignore[attr-defined]
        if not full:  # a keeper records only what is needed to recognise and shelter the person
            for name in ("aliases", "date_of_birth", "contacts", "narrative"):
                del self.fields[name]


class PersonEditForm(PersonCodedFieldsForm, IdentityFieldsForm):
    pass


class StatusForm(forms.Form):
    status = forms.ChoiceField(label=_("New status"), choices=CaseStatus.choices)


class ConsentForm(forms.Form):
    scope = forms.ChoiceField(label=_("Consent to"), choices=ConsentScope.choices)
    partner = forms.ModelChoiceField(label=_("Partner (for sharing)"), queryset=Partner.objects.all(), required=False)
    given = forms.TypedChoiceField(
        label=_("Decision"),
        coerce=lambda v: v == "yes",
        choices=[("yes", _("Given")), ("no", _("Withdrawn or refused"))],
    )


class FamilyLinkForm(forms.Form):
    relative = forms.CharField(label=_("Case code of the relative"), max_length=20)
    relation = forms.ChoiceField(label=_("This person is the relative's"), choices=Relation.choices)
    stateless = forms.BooleanField(label=_("The relative is stateless"), required=False)


class EpisodeForm(forms.Form):
    exploitation_type = forms.ChoiceField(label=_("Type of exploitation"), choices=htcds.ExploitationType.choices)
    start_month = MonthField(label=_("Start month"), required=False)
    end_month = MonthField(label=_("End month"), required=False)
    province_in_china = forms.ChoiceField(
        label=_("Province in China"), required=False, choices=[("", "—"), *htcds.CHINA_PROVINCES.choices]
    )
    was_sold = forms.BooleanField(label=_("She was sold into this"), required=False)
    perpetrator_roles = forms.MultipleChoiceField(
        label=_("Perpetrator roles"),
        required=False,
        choices=htcds.PerpetratorRole.choices,
        widget=forms.CheckboxSelectMultiple,
    )
    control_methods = forms.MultipleChoiceField(
        label=_("Methods of control"),
        required=False,
        choices=htcds.ControlMethod.choices,
        widget=forms.CheckboxSelectMultiple,
    )
    recruitment_method = forms.ChoiceField(
        label=_("Recruitment method"), required=False, choices=[("", "—"), *htcds.RecruitmentMethod.choices]
    )
    trafficker_relation = forms.ChoiceField(
        label=_("Relation to the trafficker"), required=False, choices=[("", "—"), *htcds.TraffickerRelation.choices]
    )
    note = forms.CharField(label=_("Note"), required=False, widget=forms.Textarea)


class NeedsForm(forms.Form):
    assessed_on = forms.DateField(label=_("Assessed on"), widget=DateInput())
    risk_level = forms.ChoiceField(label=_("Overall risk"), choices=RiskLevel.choices)
    note = forms.CharField(label=_("Note"), required=False, widget=forms.Textarea)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for code, label in NeedArea.choices:
            self.fields[code] = forms.TypedChoiceField(label=label, choices=NeedLevel.choices, coerce=int, initial=0)
        self.order_fields(["assessed_on", *NeedArea.values, "risk_level", "note"])


class GoalForm(forms.Form):
    area = forms.ChoiceField(label=_("Area"), choices=NeedArea.choices)
    description = forms.CharField(label=_("Goal"), widget=forms.Textarea(attrs={"rows": 2}))
    target_date = forms.DateField(label=_("Target date"), required=False, widget=DateInput())


class GoalStatusForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=GoalStatus.choices)


class ReferralStatusForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=ReferralStatus.choices)


class ServiceForm(forms.Form):
    kind = forms.ChoiceField(label=_("Service"), choices=ServiceKind.choices)
    delivered_on = forms.DateField(label=_("Date"), widget=DateInput())
    quantity = forms.IntegerField(
        label=_("Quantity (nights, sessions or visits)"), initial=1, min_value=1, max_value=366
    )
    partner = forms.ModelChoiceField(label=_("Partner organisation"), queryset=Partner.objects.all(), required=False)
    note = forms.CharField(label=_("Note"), required=False, widget=forms.Textarea)


class ReferralForm(forms.Form):
    partner = forms.ModelChoiceField(label=_("Partner organisation"), queryset=Partner.objects.all())
    area = forms.ChoiceField(label=_("Area"), choices=NeedArea.choices)
    referred_on = forms.DateField(label=_("Referred on"), widget=DateInput())
    note = forms.CharField(label=_("Note"), required=False, widget=forms.Textarea)


class TaskForm(forms.Form):
    kind = forms.ChoiceField(label=_("Task"), choices=TaskKind.choices)
    due_on = forms.DateField(label=_("Due on"), widget=DateInput())
    assigned_to = forms.ModelChoiceField(label=_("Assigned to"), queryset=User.objects.none())
    detail = forms.CharField(label=_("Detail"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, person: Person, **kwargs: Any) -> None:
        from waystation.cases.care_services import works_on_case

        super().__init__(*args, **kwargs)
        staff = User.objects.filter(is_active=True, role__in=[Role.CASEWORKER, Role.COORDINATOR, Role.KEEPER])
        ids = [user.pk for user in staff if works_on_case(user, person)]  # only who can see and act on this case
        self.fields["assigned_to"].queryset = User.objects.filter(pk__in=ids).order_by("username")  # type: ignore[attr-defined]


class NoteForm(forms.Form):
    text = forms.CharField(label=_("Note"), widget=forms.Textarea)


class AssignForm(forms.Form):
    worker = forms.ModelChoiceField(label=_("Caseworker"), queryset=User.objects.none())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["worker"].queryset = User.objects.filter(  # type: ignore[attr-defined]
            is_active=True, role=Role.CASEWORKER
        ).order_by("username")


class PhotoForm(forms.Form):
    photo = forms.FileField(
        label=_("Photo"),
        required=False,
        help_text=_("JPEG or PNG, at most 2 MB. Only with the person's consent to photos."),
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png"}),
    )
    remove = forms.BooleanField(label=_("Remove the photo"), required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("photo") and not data.get("remove"):
            raise forms.ValidationError(_("Choose a JPEG or PNG photo of at most 2 MB."))
        return data


@functools.cache
def _unbound_photo_form(language: str | None) -> str:
    return PhotoForm().as_div()


def photo_form_html() -> str:
    """The photo form's fields as the case page shows them. The page never shows it bound (an upload's errors come
    back as a message), so its HTML is the same for everyone in one language: made once per language, instead of
    through the form templates on every case page (about a twentieth of the page's time)."""
    return _unbound_photo_form(get_language())
