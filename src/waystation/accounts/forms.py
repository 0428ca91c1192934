from django import forms
from django.utils.translation import gettext_lazy as _

from waystation.accounts.models import Role


class UserCreateForm(forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150, help_text=_("A work alias, never a real name."))
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)
