"""The signed-in user's own API tokens: create one (shown once), list them, revoke one. Creating needs a recent
password and code (``require_recent_auth``): a token opens the user's keys, as a sign-in does."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST, require_safe

from waystation.accounts.reauth import require_recent_auth
from waystation.api import tokens
from waystation.api.models import ApiToken
from waystation.vault.agent import AGENT, handle_for
from waystation.web.forms import run_service
from waystation.web.types import AuthedHttpRequest


class TokenForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name (the device or script that uses it)"), max_length=60)
    days = forms.IntegerField(
        label=gettext_lazy("Valid for (days)"), min_value=1, max_value=tokens.MAX_DAYS, initial=tokens.DEFAULT_DAYS
    )
    scopes = forms.MultipleChoiceField(
        label=gettext_lazy("Scopes (none ticked: all your role allows)"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args: Any, allowed: frozenset[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["scopes"].choices = [(s, s) for s in sorted(allowed)]  # type: ignore[attr-defined]


def _list(request: AuthedHttpRequest, form: TokenForm | None) -> HttpResponse:
    context = {"form": form, "tokens": ApiToken.objects.filter(user=request.user)}
    return render(request, "api/token_list.html", context)


@require_safe
def token_list(request: AuthedHttpRequest) -> HttpResponse:
    allowed = tokens.scopes_for(request.user)
    return _list(request, TokenForm(allowed=allowed) if allowed else None)


@require_POST
@require_recent_auth(back="api_tokens:list")
def token_create(request: AuthedHttpRequest) -> HttpResponse:
    """The token is made with the keys this session holds; it is shown once, on the answer to this POST."""
    user = request.user
    allowed = tokens.scopes_for(user)
    if not allowed:
        raise PermissionDenied
    form = TokenForm(request.POST, allowed=allowed)
    entry = AGENT.get(handle_for(str(request.session.session_key)))
    if form.is_valid() and entry is not None and entry.user_id == user.pk:
        data = form.cleaned_data
        created = run_service(form, tokens.token_create, actor=user, private_key=entry.private_key, **data)
        if created is not None:
            context = {"token": created.token, "plaintext": created.plaintext}
            return render(request, "api/token_created.html", context)
    return _list(request, form)


@require_POST
def token_revoke(request: AuthedHttpRequest) -> HttpResponse:
    """Revoke one of one's own tokens (not behind re-authentication: ending access gives an intruder nothing)."""
    token_id = request.POST.get("token", "")
    well_formed = token_id.isascii() and token_id.isdigit() and len(token_id) <= 9  # SQLite compares 64-bit ints
    token = ApiToken.objects.filter(user=request.user, pk=int(token_id)).first() if well_formed else None
    if token is None:
        raise Http404
    form = forms.Form()
    if run_service(form, tokens.token_revoke, actor=request.user, token=token) is not None:
        messages.success(request, _("The token is revoked: it opens nothing any more."))
    else:
        messages.error(request, " ".join(str(e) for e in form.non_field_errors()))
    return redirect("api_tokens:list")


app_name = "api_tokens"
urlpatterns = [
    path("", token_list, name="list"),
    path("new/", token_create, name="create"),
    path("revoke/", token_revoke, name="revoke"),
]
