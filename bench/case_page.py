"""Goal: "Opening a case page with all its sensitive fields costs at most 2x the same page with those fields in
plaintext."

A coordinator opens the real case page (GET /cases/<code>/, then the photo it shows, as a browser does) of a
person with every sensitive field filled: names, aliases, date of birth, contacts, narrative, a photo, episodes,
movements with notes, needs assessments, goals, services, referrals, tasks and notes. Three such persons are made
through the services, with the same content, in a fresh database:

- ``vault``: as the app stores them (AES-256-GCM fields, case key sealed to the coordinator's X25519 key);
- ``field``: the fields encrypted as the app does, the case key wraps replaced by identity (``seal_to``/``unseal``,
  and the batch wraps' ``Sealer.seal_to``/``Opener.open``);
- ``plain``: ``encrypt``/``decrypt`` and ``seal_to``/``unseal`` all replaced by identity: the same page with the
  ciphertext step gone.

The app has no plaintext switch (and must not have one): the pass-through functions are monkeypatched onto
``waystation.vault.crypto`` here, in this process only, while that variant's person is written and while its
page is fetched. Everything else (access checks, the audit event of the reveal, templates) is the app's own. The
variants take turns in a random order, round after round; the ratios are of medians.

Results also go to ``bench/results-case_page.json``.

    .venv/bin/python bench/case_page.py [--rounds 30] [--per-round 5]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import random
import shutil
import statistics
import time
from collections.abc import Iterator
from typing import Any

from _bench import (
    BENCH_DIR,
    DATA_DIR,
    fetch,
    interleaved,
    log,
    ms,
    quartiles,
    setup_django,
    signed_in_client,
    verdict,
)

GOAL = 2.0
HOME = DATA_DIR / "case-page"  # rebuilt on every run: three persons, made in a few seconds
RESULTS = BENCH_DIR / "results-case_page.json"
PHOTO_BYTES = 150 * 1024  # a phone photo scaled down for a record
COUNTS = {"episodes": 4, "moves": 6, "assessments": 3, "goals": 6, "services": 40, "referrals": 4, "tasks": 10}
COUNTS["notes"] = 60
VARIANTS = ("vault", "field", "plain")


# --- the pass-through functions: the "plaintext" variants only --------------------------------------------------------


def _encrypt_identity(key: bytes, plaintext: bytes, ad: bytes) -> bytes:
    return plaintext


def _decrypt_identity(key: bytes, blob: bytes, ad: bytes) -> bytes:
    return blob


def _seal_identity(public_key: bytes, secret: bytes) -> bytes:
    return secret


def _unseal_identity(private_key: Any, sealed: bytes) -> bytes:
    return bytes(sealed)


def _batch_seal_identity(sealer: Any, public_key: bytes, secret: bytes) -> bytes:
    return secret


def _open_identity(opener: Any, sealed: bytes) -> bytes:
    return bytes(sealed)


@contextlib.contextmanager
def crypto_as(variant: str) -> Iterator[None]:
    """``vault``: the app's crypto; ``field``: key wraps by identity; ``plain``: fields and key wraps by identity."""
    from waystation.vault import crypto

    # (owner, name, replacement): the module's functions, and the batch wraps' classes (grants wrap with a Sealer,
    # keyrings open with an Opener), whose methods take the object first.
    patches: list[tuple[Any, str, Any]] = []
    if variant in ("field", "plain"):
        patches += [(crypto, "seal_to", _seal_identity), (crypto, "unseal", _unseal_identity)]
        patches += [(crypto.Sealer, "seal_to", _batch_seal_identity), (crypto.Opener, "open", _open_identity)]
    if variant == "plain":
        patches += [(crypto, "encrypt", _encrypt_identity), (crypto, "decrypt", _decrypt_identity)]
    saved = [(owner, name, getattr(owner, name)) for owner, name, _function in patches]
    for owner, name, function in patches:
        setattr(owner, name, function)
    try:
        yield
    finally:
        for owner, name, function in saved:
            setattr(owner, name, function)


# --- the data ------------------------------------------------------------------------------------------------------


WORDS = ("river", "lantern", "morning", "road", "station", "border", "shelter", "clinic", "papers", "bus", "night")


def _text(rng: random.Random, words: int) -> str:
    return "[SYNTHETIC] " + " ".join(rng.choice(WORDS) for _ in range(words))


def _photo() -> bytes:
    rng = random.Random(3)  # noqa: S311 - filler bytes behind a JPEG header, not a secret
    return b"\xff\xd8\xff\xe0" + rng.randbytes(PHOTO_BYTES - 4)


def route(coordinator: Any) -> tuple[Any, Any, Any]:
    from waystation.cases.models import Partner
    from waystation.network import services as network
    from waystation.network.models import Country, StationKind

    def station(code: str, kind: str) -> Any:
        return network.station_create(
            actor=coordinator, code_name=code, country=Country.CHINA, region="Jilin", kind=kind, capacity=50
        )

    alder, birch = station("ALDER", StationKind.SAFE_HOUSE), station("BIRCH", StationKind.SAFE_HOUSE)
    network.leg_set(actor=coordinator, from_station=alder, to_station=birch, usual_days=3)
    network.leg_set(actor=coordinator, from_station=birch, to_station=alder, usual_days=3)
    partner = Partner.objects.create(name="Harbour Legal Aid (fictional)", country=Country.THAILAND)
    return alder, birch, partner


def full_case(coordinator: Any, stations: tuple[Any, Any], partner: Any) -> str:
    """A person with every sensitive field filled, through the services; returns the case code."""
    from waystation.cases import care_services as care
    from waystation.cases import htcds, services
    from waystation.cases.choices import ConsentScope, NeedArea, RiskLevel, ServiceKind, TaskKind
    from waystation.network import services as network

    rng = random.Random(11)  # noqa: S311 - the same content for every variant
    today = dt.date.today()  # noqa: DTZ011 - dates of synthetic records
    person = services.person_register(
        actor=coordinator,
        station=stations[0],
        sex="F",
        birth_year=1994,
        origin_province="north_hamgyong",
        left_nk_month=dt.date(2019, 3, 1),
        first_contact_month=dt.date(2024, 5, 1),
        languages=["ko", "zh"],
        name_hangul="가상 하나",
        name_romanized="Gasang Hana (fictional)",
        name_chinese="假想一",
        aliases="Hana (fictional)\nGasang (fictional)\nAlias Three (fictional)",
        date_of_birth="1994-02-11",
        contacts="[SYNTHETIC] phone +00 000 0000, messenger id fictional-hana",
        narrative=_text(rng, 450),
    )
    services.consent_record(actor=coordinator, person=person, scope=ConsentScope.PHOTOS, given=True)
    services.consent_record(actor=coordinator, person=person, scope=ConsentScope.SHARING, given=True, partner=partner)
    services.person_set_photo(actor=coordinator, person=person, data=_photo())
    kinds = list(htcds.ExploitationType.values)
    for i in range(COUNTS["episodes"]):
        services.episode_add(
            actor=coordinator, person=person, exploitation_type=kinds[i % len(kinds)], note=_text(rng, 70)
        )
    for i in range(COUNTS["moves"]):
        movement = network.movement_plan(
            actor=coordinator, person=person, to_station=stations[(i + 1) % 2], depart_now=True, note=_text(rng, 30)
        )
        if i < COUNTS["moves"] - 1:  # the last one is under way
            network.movement_arrive(actor=coordinator, movement=movement)
    areas = list(NeedArea.values)
    for _ in range(COUNTS["assessments"]):
        levels = {area: rng.randint(0, 3) for area in areas}
        care.needs_assess(
            actor=coordinator,
            person=person,
            assessed_on=today,
            levels=levels,
            risk_level=RiskLevel.MEDIUM,
            note=_text(rng, 60),
        )
    for i in range(COUNTS["goals"]):
        care.goal_add(actor=coordinator, person=person, area=areas[i % len(areas)], description=_text(rng, 20))
    service_kinds = list(ServiceKind.values)
    for i in range(COUNTS["services"]):
        care.service_record(
            actor=coordinator,
            person=person,
            kind=service_kinds[i % len(service_kinds)],
            delivered_on=today,
            note=_text(rng, 40),
        )
    for i in range(COUNTS["referrals"]):
        care.referral_make(
            actor=coordinator,
            person=person,
            partner=partner,
            area=areas[i % len(areas)],
            referred_on=today,
            note=_text(rng, 40),
        )
    for i in range(COUNTS["tasks"]):
        care.task_add(
            actor=coordinator,
            person=person,
            kind=list(TaskKind.values)[i % len(TaskKind.values)],
            due_on=today + dt.timedelta(days=i + 1),
            assigned_to=coordinator,
            detail=_text(rng, 25),
        )
    for _ in range(COUNTS["notes"]):
        care.note_add(actor=coordinator, person=person, text=_text(rng, 90))
    return str(person.case_code)


def sensitive_values(code: str) -> int:
    """How many sensitive values the page reveals (the photo counted apart)."""
    from waystation.cases.models import Person

    person = Person.objects.get(case_code=code)
    related: list[Any] = [
        person.movements,
        person.episodes,
        person.assessments,
        person.goals,
        person.services,
        person.referrals,
        person.tasks,
        person.notes,
    ]
    return 7 + sum(manager.count() for manager in related)


def check_storage(codes: dict[str, str]) -> None:
    """Each variant stored what it claims: ciphertext or plaintext narrative, sealed or bare case key."""
    from waystation.cases.models import Person
    from waystation.vault import crypto
    from waystation.vault.models import CaseKeyWrap

    for variant, code in codes.items():
        person = Person.objects.get(case_code=code)
        encrypted = person.narrative.blob.startswith(crypto.FORMAT)
        wrapped = all(len(bytes(w.sealed)) > crypto.KEY_BYTES for w in CaseKeyWrap.objects.filter(person=person))
        if encrypted != (variant != "plain") or wrapped != (variant == "vault"):
            raise SystemExit(f"bench: the {variant} person is not stored as that variant says")


# --- the run -------------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--per-round", type=int, default=5)
    args = parser.parse_args()

    shutil.rmtree(HOME, ignore_errors=True)
    setup_django(HOME)
    from _bench import coordinator_ensure

    log("bench: making three persons with every sensitive field filled ...")
    coordinator = coordinator_ensure("coordinator")
    alder, birch, partner = route(coordinator)
    codes: dict[str, str] = {}
    for variant in VARIANTS:
        with crypto_as(variant):
            codes[variant] = full_case(coordinator, (alder, birch), partner)
    check_storage(codes)
    client = signed_in_client(coordinator)

    pages: dict[str, bytes] = {}
    for variant in VARIANTS:  # the page is complete in every variant: the same names and notes shown
        with crypto_as(variant):
            page = fetch(client, f"/cases/{codes[variant]}/")
            photo = fetch(client, f"/cases/{codes[variant]}/photo/")
        if "Gasang Hana (fictional)" not in page.decode() or len(photo) != PHOTO_BYTES:
            raise SystemExit(f"bench: the {variant} page does not show the decrypted case")
        pages[variant] = page

    html: dict[str, list[float]] = {v: [] for v in VARIANTS}

    def opener(variant: str) -> Any:
        def open_page() -> None:
            with crypto_as(variant):
                start = time.perf_counter()
                fetch(client, f"/cases/{codes[variant]}/")
                html[variant].append(time.perf_counter() - start)
                fetch(client, f"/cases/{codes[variant]}/photo/")

        return open_page

    log(f"bench: {args.rounds} rounds of {args.per_round} page opens per variant, interleaved ...")
    samples = interleaved({v: opener(v) for v in VARIANTS}, rounds=args.rounds, per_round=args.per_round)
    warm = args.per_round  # the warm-up round's HTML timings are not counted either
    html = {v: t[warm:] for v, t in html.items()}

    print(
        f"Case page (GET /cases/<code>/ + its photo), coordinator, {sensitive_values(codes['vault'])} sensitive "
        f"values + a {PHOTO_BYTES // 1024} KiB photo; {args.rounds} rounds x {args.per_round}, interleaved"
    )
    print(f"  page size (HTML): {len(pages['vault']):,} bytes")
    print("  variant                                   median        IQR")
    labels = {
        "vault": "vault (field crypto + key unwrap)",
        "field": "field crypto only (key wraps identity)",
        "plain": "plaintext (all crypto identity)",
    }
    for v in VARIANTS:
        low, high = quartiles(samples.times[v])
        print(f"  {labels[v]:<40} {ms(samples.median(v))}  {ms(low).strip()}-{ms(high).strip()}")
    for v in VARIANTS:
        print(f"  {('  HTML only: ' + v):<40} {ms(statistics.median(html[v]))}")
    print()
    results = []
    for v, what in (("vault", "full crypto incl. key unwrap"), ("field", "field crypto only")):
        ratio = samples.ratio(v, "plain")
        per_round = samples.round_ratios(v, "plain")
        html_ratio = statistics.median(html[v]) / statistics.median(html["plain"])
        print(
            f"  {what:<30} ratio {ratio:.3f}x  (per-round ratios: median {statistics.median(per_round):.3f}, "
            f"range {per_round[0]:.3f}-{per_round[-1]:.3f}; HTML only {html_ratio:.3f}x)  {verdict(ratio, GOAL)}"
        )
        results.append(
            {
                "name": f"case_page_{v}_vs_plain",
                f"{v}_median_s": round(samples.median(v), 5),
                "plain_median_s": round(samples.median("plain"), 5),
                "html_only_ratio": round(html_ratio, 4),
                "sensitive_values": sensitive_values(codes["vault"]),
                "rounds": args.rounds,
                "per_round": args.per_round,
                "ratio": round(ratio, 4),
                "goal": GOAL,
                "meets": ratio <= GOAL,
            }
        )
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    print(f"  results written to {RESULTS.relative_to(BENCH_DIR.parent)}")


if __name__ == "__main__":
    main()
