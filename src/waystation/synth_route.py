"""The synthetic route and staff of ``waystation synth``: stations with fictional code names along the way out of
China, the legs between them, the accounts the demo needs and a few partner organisations.

Stations are known by code name and a coarse region only. Stations, legs and partners are created directly (one
audit event is written for the whole generation by ``waystation.synth``); staff accounts through
``accounts.services.user_create``, so that each has a key pair and can be given the keys of its cases. Everything is
reused when it exists already.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import NamedTuple

from waystation.accounts.models import Role, User
from waystation.accounts.services import user_create
from waystation.cases.choices import NeedArea
from waystation.cases.models import Partner
from waystation.network.models import Country, Leg, Station, StationKind


class Spec(NamedTuple):
    code_name: str
    country: str
    region: str
    kind: str
    lane: str  # "china" for safe houses, else the lane out of China: "south" (Southeast Asia) or "north" (Mongolia)
    capacity: int


_CN, _SH, _TR = Country.CHINA, StationKind.SAFE_HOUSE, StationKind.TRANSIT
# In this order: any prefix of four or more stations is a complete route from a safe house to South Korea.
CATALOGUE = [
    Spec("Magpie", _CN, "Jilin", _SH, "china", 8),
    Spec("Lantern", _CN, "Yunnan", _TR, "south", 6),
    Spec("Lotus", Country.THAILAND, "Central Thailand", StationKind.PROCESSING, "south", 40),
    Spec("Harbour", Country.SOUTH_KOREA, "Gyeonggi", StationKind.DESTINATION, "south", 60),
    Spec("Pine", _CN, "Liaoning", _SH, "china", 6),
    Spec("Willow", _CN, "Shandong", _SH, "china", 5),
    Spec("River", Country.LAOS, "Northern Laos", StationKind.PARTNER, "south", 10),
    Spec("Steppe", Country.MONGOLIA, "Central Mongolia", StationKind.PARTNER, "north", 12),
    Spec("Orchid", Country.VIETNAM, "Northern Vietnam", StationKind.PARTNER, "south", 8),
    Spec("Dune", _CN, "Inner Mongolia", _TR, "north", 4),
    Spec("Bamboo", _CN, "Guangxi", _TR, "south", 5),
    Spec("Crane", _CN, "Jilin", _SH, "china", 6),
    Spec("Cedar", _CN, "Heilongjiang", _SH, "china", 5),
    Spec("Jasmine", Country.THAILAND, "Northern Thailand", StationKind.PARTNER, "south", 10),
    Spec("Heron", _CN, "Liaoning", _SH, "china", 6),
    Spec("Plum", _CN, "Hebei", _SH, "china", 5),
    Spec("Kite", _CN, "Yunnan", _TR, "south", 4),
]
EXTRA_NAMES = [
    "Sparrow",
    "Acorn",
    "Birch",
    "Bell",
    "Brook",
    "Camellia",
    "Chestnut",
    "Cloud",
    "Cricket",
    "Daisy",
    "Ember",
    "Fern",
    "Finch",
    "Flint",
    "Gull",
    "Hazel",
    "Ivy",
    "Juniper",
    "Kestrel",
    "Lark",
    "Linden",
    "Maple",
    "Meadow",
    "Moss",
    "Nettle",
    "Oriole",
    "Pebble",
    "Poppy",
    "Quail",
    "Reed",
    "Rowan",
    "Sage",
    "Thistle",
]
EXTRA_REGIONS = ["Jilin", "Liaoning", "Shandong", "Heilongjiang", "Hebei", "Jilin", "Liaoning"]
EXTRA_TRANSIT_REGIONS = ["Yunnan", "Guangxi"]

# Usual days of a leg by (from kind, to kind); never under two days, so that "not yet overdue" is a real state.
LEG_DAYS: dict[tuple[str, str], int] = {
    (_SH, _SH): 2,
    (_SH, _TR): 4,
    (_TR, StationKind.PARTNER): 5,
    (_SH, StationKind.PARTNER): 8,
    (_TR, StationKind.PROCESSING): 7,
    (_SH, StationKind.PROCESSING): 10,
    (StationKind.PARTNER, StationKind.PARTNER): 3,
    (StationKind.PARTNER, StationKind.PROCESSING): 3,
    (StationKind.PARTNER, StationKind.DESTINATION): 2,
    (StationKind.PROCESSING, StationKind.DESTINATION): 2,
}

PARTNERS = [
    ("Sapling Trauma Care (fictional)", Country.THAILAND, [NeedArea.MENTAL_HEALTH, NeedArea.MEDICAL]),
    ("Wayfarer Clinic (fictional)", Country.LAOS, [NeedArea.MEDICAL]),
    ("Lighthouse Legal Desk (fictional)", Country.SOUTH_KOREA, [NeedArea.DOCUMENTS_LEGAL, NeedArea.LIVELIHOOD]),
    ("Greenfield Resettlement Aid (fictional)", Country.SOUTH_KOREA, [NeedArea.LIVELIHOOD, NeedArea.CHILDREN]),
]


def station_specs(count: int) -> list[Spec]:
    """The first ``count`` stations: the catalogue, then more safe houses, transit points and partners."""
    specs = CATALOGUE[:count]
    for i in range(count - len(specs)):
        name = EXTRA_NAMES[i] if i < len(EXTRA_NAMES) else f"Station {i + 1}"
        if i % 5 == 3:
            specs.append(Spec(name, _CN, EXTRA_TRANSIT_REGIONS[i % 2], _TR, "south", 4))
        elif i % 5 == 4:
            specs.append(Spec(name, Country.LAOS, "Northern Laos", StationKind.PARTNER, "south", 6))
        else:
            specs.append(Spec(name, _CN, EXTRA_REGIONS[i % len(EXTRA_REGIONS)], _SH, "china", 5))
    return specs


@dataclass
class Route:
    stations: list[Station]
    created: set[int]  # the stations this run created (their capacities are set from the generated occupancy)
    safe_houses: list[Station]
    intake_weights: list[float]
    lanes: list[list[list[Station]]]  # per lane, the stages after the safe houses; each stage a list of choices
    lane_weights: list[float]
    leg_days: dict[tuple[int, int], int] = field(default_factory=dict)

    def path(self, rng: random.Random) -> list[Station]:
        """A journey: a safe house (sometimes a second one), then one station per stage of a lane."""
        first = rng.choices(self.safe_houses, self.intake_weights)[0]
        path = [first]
        if len(self.safe_houses) > 1 and rng.random() < 0.2:
            i = self.safe_houses.index(first)
            path.append(self.safe_houses[i + 1] if i + 1 < len(self.safe_houses) else self.safe_houses[i - 1])
        lane = rng.choices(self.lanes, self.lane_weights)[0]
        path.extend(rng.choice(stage) for stage in lane)
        return path


def _lanes(stations: list[Station], specs: list[Spec]) -> tuple[list[list[list[Station]]], list[float]]:
    by_lane_kind: dict[tuple[str, str], list[Station]] = {}
    for station, spec in zip(stations, specs, strict=True):
        by_lane_kind.setdefault((spec.lane, spec.kind), []).append(station)
    destination = by_lane_kind[("south", StationKind.DESTINATION)]
    south = [by_lane_kind.get(("south", kind), []) for kind in (_TR, StationKind.PARTNER, StationKind.PROCESSING)]
    lanes = [[stage for stage in south if stage] + [destination]]
    weights = [0.85]
    north_partners = by_lane_kind.get(("north", StationKind.PARTNER))
    if north_partners:
        lanes.append([stage for stage in (by_lane_kind.get(("north", _TR), []), north_partners) if stage])
        lanes[-1].append(destination)
        weights.append(0.15)
    return lanes, weights


def route_ensure(count: int) -> Route:
    """The stations and legs of a ``count``-station route, created where missing."""
    specs = station_specs(count)
    existing = {s.code_name: s for s in Station.objects.filter(code_name__in=[spec.code_name for spec in specs])}
    stations, created = [], set()
    for spec in specs:
        station = existing.get(spec.code_name)
        if station is None:
            station = Station.objects.create(
                code_name=spec.code_name, country=spec.country, region=spec.region, kind=spec.kind, capacity=0
            )
            created.add(station.pk)
        stations.append(station)
    safe_houses = [s for s in stations if s.kind == _SH]
    intake = [0.4, 0.3] + [0.3 / max(1, len(safe_houses) - 2)] * (len(safe_houses) - 2)
    lanes, lane_weights = _lanes(stations, specs)
    route = Route(stations, created, safe_houses, intake[: len(safe_houses)], lanes, lane_weights)
    for a, b in _leg_pairs(route):
        route.leg_days[(a.pk, b.pk)] = LEG_DAYS.get((a.kind, b.kind), 4)
    known = {
        (leg.from_station_id, leg.to_station_id): leg
        for leg in Leg.objects.filter(from_station__in=stations, to_station__in=stations)
    }
    Leg.objects.bulk_create(
        [
            Leg(from_station_id=a, to_station_id=b, usual_days=d)
            for (a, b), d in route.leg_days.items()
            if (a, b) not in known
        ]
    )
    # Journeys follow the usual durations of legs that existed already (at least two days, see LEG_DAYS).
    for pair, leg in known.items():
        if pair in route.leg_days:
            route.leg_days[pair] = max(2, leg.usual_days)
    return route


def _leg_pairs(route: Route) -> list[tuple[Station, Station]]:
    pairs: list[tuple[Station, Station]] = []
    houses = route.safe_houses
    pairs += [(a, b) for a, b in zip(houses, houses[1:], strict=False)]
    pairs += [(b, a) for a, b in zip(houses, houses[1:], strict=False)]
    for lane in route.lanes:
        pairs += [(house, first) for house in houses for first in lane[0]]
        for stage, following in zip(lane, lane[1:], strict=False):
            pairs += [(a, b) for a in stage for b in following]
    return list(dict.fromkeys(pairs))


def set_capacities(route: Route, occupancy: dict[int, int], rng: random.Random) -> None:
    """Capacities of the stations created by this run, from how many people the run placed there: the first
    safe house is exactly full (the demo shows a full station), the others have room."""
    specs = station_specs(len(route.stations))
    for i, (station, spec) in enumerate(zip(route.stations, specs, strict=True)):
        if station.pk not in route.created:
            continue
        present = occupancy.get(station.pk, 0)
        factor = 1.0 if i == 0 else rng.uniform(1.15, 1.8)
        station.capacity = max(spec.capacity if i else 2, math.ceil(present * factor)) if present else spec.capacity
        station.save(update_fields=["capacity"])


# --- staff ---------------------------------------------------------------------------------------------------------

ROLE_ACCOUNTS = [
    ("keeper", Role.KEEPER),
    ("caseworker", Role.CASEWORKER),
    ("coordinator", Role.COORDINATOR),
    ("analyst", Role.ANALYST),
    ("auditor", Role.AUDITOR),
    ("admin", Role.ADMINISTRATOR),
]
MAX_KEEPERS = 20
MAIN_CASEWORKER_CASES = 36  # "caseworker" has a few dozen cases, whatever the size of the data


@dataclass
class Staff:
    users: dict[str, User]
    keeper_of: dict[int, User]  # station id -> its (first) keeper
    caseworkers: list[User]  # the others besides "caseworker"
    main_share: float  # chance that a new case goes to "caseworker"

    @property
    def coordinator(self) -> User:
        return self.users["coordinator"]

    def pick_caseworker(self, rng: random.Random) -> User:
        if rng.random() < self.main_share or not self.caseworkers:
            return self.users["caseworker"]
        return rng.choice(self.caseworkers)


def _user(username: str, role: str) -> User:
    """The user of this name; created when missing, with a key pair and a random password that nobody is told
    (an administrator sets one; the demo creates its own accounts first)."""
    user = User.objects.filter(username__iexact=username).first()
    if user is None:
        user, _password = user_create(actor=None, username=username, role=role)
    return user


def staff_ensure(route: Route, persons: int) -> Staff:
    users = {name: _user(name, role) for name, role in ROLE_ACCOUNTS}
    open_cases = max(1.0, persons * 0.85)
    extra = min(40, max(2, math.ceil((open_cases - MAIN_CASEWORKER_CASES) / 45)))
    caseworkers = [_user(f"caseworker{i}", Role.CASEWORKER) for i in range(2, extra + 2)]
    # "keeper" keeps the first two safe houses (where most people arrive); every other station has its own.
    houses = route.safe_houses[:2]
    others = [s for s in route.stations if s not in houses]
    keepers = [_user(f"keeper{i}", Role.KEEPER) for i in range(2, min(MAX_KEEPERS, len(others) + 1) + 1)]
    assigned: dict[int, User] = {s.pk: users["keeper"] for s in houses}
    assigned.update({s.pk: keepers[i % len(keepers)] for i, s in enumerate(others)})
    keeper_of: dict[int, User] = {}
    for station in route.stations:
        current = list(station.keepers.order_by("pk"))
        if not current:
            station.keepers.add(assigned[station.pk])
            current = [assigned[station.pk]]
        keeper_of[station.pk] = current[0]
    return Staff(users, keeper_of, caseworkers, min(1.0, MAIN_CASEWORKER_CASES / open_cases))


def partners_ensure() -> list[Partner]:
    found = []
    for name, country, services in PARTNERS:
        partner, _created = Partner.objects.get_or_create(
            name=name, defaults={"country": country, "services": [str(s) for s in services]}
        )
        found.append(partner)
    return found
