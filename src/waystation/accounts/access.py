from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404

from waystation.accounts.models import Role, User


def can_manage_users(user: User) -> bool:
    return user.is_active and user.role == Role.ADMINISTRATOR


def managed_user_for(actor: User, user_id: int) -> User:
    if not can_manage_users(actor):
        raise PermissionDenied
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise Http404
    return user
