"""Who may do what with sync. Enrolling and revoking peers handles public keys only: coordinators and
administrators. Exchanging bundles opens this installation's private keys and every case a bundle carries:
coordinators only (``sync.identity``)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404

from waystation.accounts.models import Role, User
from waystation.sync.models import Peer


def can_manage_peers(user: User) -> bool:
    return user.is_active and user.role in (Role.COORDINATOR, Role.ADMINISTRATOR)


def can_exchange(user: User) -> bool:
    return user.is_active and user.role == Role.COORDINATOR and not user.under_duress


def require_manage_peers(user: User) -> None:
    if not can_manage_peers(user):
        raise PermissionDenied


def peer_for_user(user: User, name: str) -> Peer:
    require_manage_peers(user)
    peer = Peer.objects.filter(name=name).first()
    if peer is None:
        raise Http404
    return peer
