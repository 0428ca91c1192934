"""Who holds a case's data key, kept equal to who is entitled to read the case.

Entitled (as ``cases.access.visible_persons`` decides who sees a case): the coordinators, the caseworkers
assigned to it, and the keepers of the station the person is at or heading to (not a compromised or closed one);
and always the organisation's recovery key. :func:`sync` makes the wraps match after anything that changes
entitlement (a new case, an assignment, a movement, a station's keepers or status, a user's role or activity).

Removing a wrap needs no key. Adding one needs the case key at hand; when the actor does not hold it (an
administrator adding a keeper, say), a :class:`PendingGrant` records the debt and the next signed-in holder of the
key pays it (:func:`fulfil`, run at every sign-in).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable

from django.db.models import Q

from waystation.accounts.models import Role, User
from waystation.vault import crypto
from waystation.vault.keyring import Keyring
from waystation.vault.models import CaseKeyWrap, IndexKeyWrap, PendingGrant, RecoveryKey, UserKey

CHUNK = 2000
KEY_ROLES = (Role.COORDINATOR, Role.CASEWORKER, Role.KEEPER)


def _chunks(ids: list[uuid.UUID]) -> Iterable[list[uuid.UUID]]:
    for i in range(0, len(ids), CHUNK):
        yield ids[i : i + CHUNK]


def holders(person_ids: list[uuid.UUID]) -> dict[uuid.UUID, set[int]]:
    """The users entitled to each case's key (active, with a key pair)."""
    from waystation.cases.models import Assignment, Person
    from waystation.network.models import OPEN_MOVEMENT_STATUSES, Movement, Station, StationStatus
    from waystation.network.selectors import GONE_STATUSES

    with_keys = UserKey.objects.values("user_id")
    coordinators = set(
        User.objects.filter(role=Role.COORDINATOR, is_active=True, pk__in=with_keys).values_list("pk", flat=True)
    )
    keepers_of: dict[int, set[int]] = defaultdict(set)
    usable = Station.objects.filter(status__in=[StationStatus.ACTIVE, StationStatus.SUSPENDED])
    for station_id, keeper_id in usable.filter(
        keepers__role=Role.KEEPER, keepers__is_active=True, keepers__in=with_keys
    ).values_list("pk", "keepers"):
        keepers_of[station_id].add(keeper_id)
    result: dict[uuid.UUID, set[int]] = {pid: set(coordinators) for pid in person_ids}
    for chunk in _chunks(person_ids):
        for pid, worker in Assignment.objects.filter(
            person_id__in=chunk,
            ended_at__isnull=True,
            worker__role=Role.CASEWORKER,
            worker__is_active=True,
            worker__in=with_keys,
        ).values_list("person_id", "worker_id"):
            result[pid].add(worker)
        if not keepers_of:
            continue
        here = Person.objects.filter(id__in=chunk).exclude(status__in=GONE_STATUSES)
        for pid, place in here.values_list("id", "place_id"):
            result[pid] |= keepers_of.get(place, set())
        for pid, station in Movement.objects.filter(person_id__in=chunk, status__in=OPEN_MOVEMENT_STATUSES).values_list(
            "person_id", "to_station_id"
        ):
            result[pid] |= keepers_of.get(station, set())
    return result


def recovery_public_key() -> bytes:
    key = RecoveryKey.objects.order_by("-pk").values_list("public_key", flat=True).first()
    if key is None:
        raise crypto.VaultError(
            "The vault is not set up: run `waystation vault init` once, which prints the recovery shares."
        )
    return bytes(key)


def sync(keyring: Keyring, person_ids: Iterable[uuid.UUID]) -> None:
    """Make the wraps of these cases match who is entitled to them now."""
    from waystation.vault.userkeys import public_keys

    ids = list(dict.fromkeys(person_ids))
    if not ids:
        return
    wanted = holders(ids)
    keys = public_keys({uid for users in wanted.values() for uid in users})
    recovery: bytes | None = None
    sealer = crypto.Sealer()  # one ephemeral key pair for this call's wraps (``crypto.Sealer``: what that shows)
    for chunk in _chunks(ids):
        have: dict[uuid.UUID, set[int | None]] = defaultdict(set)
        for pid, holder in CaseKeyWrap.objects.filter(person_id__in=chunk).values_list("person_id", "holder_id"):
            have[pid].add(holder)
        stale = Q()
        for pid in chunk:
            gone = {h for h in have[pid] if h is not None and h not in wanted[pid]}
            if gone:
                stale |= Q(person_id=pid, holder_id__in=gone)
        if stale:
            CaseKeyWrap.objects.filter(stale).delete()
        pending = PendingGrant.objects.filter(person_id__in=chunk).values_list("pk", "person_id", "user_id")
        unwanted = [pk for pk, pid, uid in pending if uid not in wanted[pid]]
        if unwanted:
            PendingGrant.objects.filter(pk__in=unwanted).delete()
        new_wraps: list[CaseKeyWrap] = []
        owed: list[PendingGrant] = []
        for pid in chunk:
            missing = [uid for uid in wanted[pid] if uid not in have[pid]]
            needs_recovery = None not in have[pid]
            if not missing and not needs_recovery:
                continue
            try:
                dek = keyring.case_key(pid)
            except crypto.Locked:
                owed.extend(PendingGrant(person_id=pid, user_id=uid) for uid in missing)
                continue
            for uid in missing:
                new_wraps.append(CaseKeyWrap(person_id=pid, holder_id=uid, sealed=sealer.seal_to(keys[uid], dek)))
            if needs_recovery:
                recovery = recovery or recovery_public_key()
                new_wraps.append(CaseKeyWrap(person_id=pid, holder_id=None, sealed=sealer.seal_to(recovery, dek)))
        CaseKeyWrap.objects.bulk_create(new_wraps, batch_size=1000)
        PendingGrant.objects.bulk_create(owed, ignore_conflicts=True, batch_size=1000)


def sync_station(keyring: Keyring, station_id: int) -> None:
    """After a change to a station's keepers or status: the people there and heading there."""
    from waystation.cases.models import Person
    from waystation.network.models import OPEN_MOVEMENT_STATUSES, Movement

    here = Person.objects.filter(place_id=station_id).values_list("id", flat=True)
    heading = Movement.objects.filter(to_station_id=station_id, status__in=OPEN_MOVEMENT_STATUSES).values_list(
        "person_id", flat=True
    )
    sync(keyring, [*here, *heading])


def wrap_new_cases(keyring: Keyring) -> None:
    """Wrap the keys of the cases created with this keyring; the recovery wrap is not optional."""
    created = sorted(keyring.new_cases)
    keyring.new_cases.clear()
    recovery_public_key()  # refuse before anything is written for a vault that is not set up
    sync(keyring, created)


def sync_user(keyring: Keyring, user: User) -> None:
    """After a change to ``user`` (role, activity, key pair): their wraps match what they are entitled to."""
    from waystation.cases.access import visible_persons

    held = set(CaseKeyWrap.objects.filter(holder=user).values_list("person_id", flat=True))
    entitled: set[uuid.UUID] = set()
    if user.is_active and user.role in KEY_ROLES:
        entitled = set(visible_persons(user).values_list("id", flat=True))
    sync(keyring, held | entitled)
    if user.is_active:
        grant_index_key(keyring, user)
    else:
        IndexKeyWrap.objects.filter(holder=user).delete()
        PendingGrant.objects.filter(user=user).delete()


def grant_index_key(keyring: Keyring, user: User) -> None:
    if IndexKeyWrap.objects.filter(holder=user).exists():
        return
    public = UserKey.objects.filter(user=user).values_list("public_key", flat=True).first()
    if public is None:
        return
    try:
        key = keyring.index_key()
    except crypto.Locked:
        PendingGrant.objects.get_or_create(person=None, user=user)
        return
    IndexKeyWrap.objects.create(holder=user, sealed=crypto.seal_to(bytes(public), key))
    PendingGrant.objects.filter(person=None, user=user).delete()


def fulfil(keyring: Keyring) -> int:
    """Pay the grants this user can pay (cases whose key they hold; the index key if they hold it)."""
    from waystation.vault.userkeys import public_keys

    if keyring.user is None or keyring.private_key is None:
        return 0
    paid = 0
    owed = PendingGrant.objects.filter(person__isnull=True)
    if owed.exists() and IndexKeyWrap.objects.filter(holder=keyring.user).exists():
        for grant in list(owed.select_related("user")):
            grant_index_key(keyring, grant.user)
            paid += 1
    held = CaseKeyWrap.objects.filter(holder=keyring.user).values("person_id")
    grants = list(PendingGrant.objects.filter(person_id__in=held).values_list("pk", "person_id", "user_id"))
    keys = public_keys({uid for _pk, _pid, uid in grants})
    sealer = crypto.Sealer()
    wraps = []
    for _pk, pid, uid in grants:
        if uid in keys:
            sealed = sealer.seal_to(keys[uid], keyring.case_key(pid))
            wraps.append(CaseKeyWrap(person_id=pid, holder_id=uid, sealed=sealed))
    CaseKeyWrap.objects.bulk_create(wraps, ignore_conflicts=True, batch_size=1000)
    PendingGrant.objects.filter(pk__in=[pk for pk, _pid, _uid in grants]).delete()
    return paid + len(wraps)


def fulfil_if_owed(keyring: Keyring) -> None:
    """Any action by a key holder pays the debts it can pay (cheap when there are none)."""
    if keyring.private_key is not None and PendingGrant.objects.exists():
        fulfil(keyring)
