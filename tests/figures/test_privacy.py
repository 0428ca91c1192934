"""Differentially private series and the privacy budget ledger (``figures.privacy``), over synthetic data.

The noise is OpenDP's and random: statistical checks use bounds of five standard errors or more, so a correct
implementation fails them with a negligible probability, while a missing or mis-scaled noise fails them for sure.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import statistics
import threading
from collections.abc import Callable
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from waystation.audit.models import AuditEvent
from waystation.cases.choices import ConsentScope
from waystation.cases.models import Person
from waystation.cases.selectors import consenting
from waystation.cases.services import consent_record
from waystation.figures import privacy
from waystation.figures.disclosure import Policy
from waystation.figures.indicators import INDICATORS
from waystation.figures.models import ImmutableSpendError, PrivacySpend
from waystation.figures.privacy import BudgetExhausted, dp_release_create, privacy_ledger
from waystation.network.models import Country, MovementStatus

# Post-processing that changes nothing but the clamp at 0, so the statistics see OpenDP's noise itself.
NO_ROUNDING = Policy(threshold=1, rounding_base=1)
# An epsilon so large that the noise is 0 but with a negligible probability: the true counts, for checking who counts.
EXACT = "5000"


def figures(*args: str) -> str:
    """``waystation figures ARGS`` as the command line runs it; what it printed."""
    out = io.StringIO()
    call_command("figures", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def population(synthetic: Callable[[int, int], SimpleNamespace]) -> SimpleNamespace:
    """The personas' small world plus 300 synthetic persons."""
    return synthetic(300, 45)


def budget(settings: Any, epsilon: str | float, per_year: str | float | None = None) -> None:
    """The monthly budget, and the yearly cap if given (otherwise its default, 6)."""
    settings.WAYSTATION_DP_BUDGET = {"epsilon_per_period": epsilon}
    if per_year is not None:
        settings.WAYSTATION_DP_BUDGET["epsilon_per_year"] = per_year


def counts_now() -> tuple[int, int]:
    return PrivacySpend.objects.count(), AuditEvent.objects.count()


def published(spend: PrivacySpend) -> list[int | None]:
    return [cell["value"] for cell in spend.cells]


def last_twelve_months() -> list[str]:
    """The 12 calendar months before this one (UTC), oldest first, as "2026-10"."""
    today = timezone.now().astimezone(dt.UTC).date()
    months = []
    year, month = today.year, today.month
    for _ in range(12):
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
        months.append(f"{year:04d}-{month:02d}")
    return months[::-1]


def first_contact_months() -> dict[int, str]:
    """Each consenting person's month of first contact, the obvious way."""
    counted = consenting(Person.objects.all(), ConsentScope.STATISTICS)
    return {pk: f"{month:%Y-%m}" for pk, month in counted.values_list("pk", "first_contact_month") if month}


def first_arrival_months() -> dict[int, str]:
    """Each consenting person's month (UTC) of first arrival at a South Korean station, from her movements one by
    one (the slow, obvious way)."""
    found = {}
    for person in consenting(Person.objects.all(), ConsentScope.STATISTICS).prefetch_related("movements__to_station"):
        arrivals = [
            m.arrived_at
            for m in person.movements.all()
            if m.status == MovementStatus.ARRIVED and m.to_station.country == Country.SOUTH_KOREA
        ]
        if arrivals:
            found[person.pk] = f"{min(arrivals).astimezone(dt.UTC):%Y-%m}"
    return found


def per_month(months_of: dict[int, str]) -> dict[str, int]:
    expected = dict.fromkeys(last_twelve_months(), 0)
    for month in months_of.values():
        if month in expected:
            expected[month] += 1
    return expected


def exact(series: str) -> dict[str, int | None]:
    """A release so precise (epsilon 5000, nothing withheld but 0) that it shows the true counts."""
    spend = dp_release_create(series=series, epsilon=EXACT, actor=None, policy=NO_ROUNDING)
    return {cell["key"]["month"]: cell["value"] or 0 for cell in spend.cells}


# --- the noise ------------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_repeated_releases_of_the_same_data_differ(population: SimpleNamespace, settings: Any) -> None:
    budget(settings, 10)
    releases = [
        dp_release_create(series="first_contacts_per_month", epsilon="0.1", actor=None, policy=NO_ROUNDING)
        for _ in range(4)
    ]
    assert all(len(spend.cells) == 12 for spend in releases)
    # Twelve cells with noise of scale 10: four identical releases would mean no noise at all.
    assert len({tuple(published(spend)) for spend in releases}) > 1


@pytest.mark.django_db
def test_the_noise_is_centred_on_the_true_count_with_the_spread_opendp_reports(
    population: SimpleNamespace, settings: Any
) -> None:
    budget(settings, 1000, per_year=1000)
    true = per_month(first_contact_months())
    far_from_zero = [month for month, n in true.items() if n >= 10]  # where clamping at 0 cannot bias the mean
    assert len(far_from_zero) >= 3
    draws = 200
    spends = [
        dp_release_create(series="first_contacts_per_month", epsilon="0.5", actor=None, policy=NO_ROUNDING)
        for _ in range(draws)
    ]
    scale = spends[0].method["scale"]
    assert scale == pytest.approx(2.0, rel=0.01)  # OpenDP's scale for epsilon 0.5 at sensitivity 1
    # A value withheld under NO_ROUNDING is a noisy count clamped to 0; at 10 or more and scale 2 that is rare
    # (about 1 in 300 draws) and moves the mean by under 0.01, far inside the bound below.
    noise = [
        (cell["value"] or 0) - true[cell["key"]["month"]]
        for spend in spends
        for cell in spend.cells
        if cell["key"]["month"] in far_from_zero
    ]
    expected_sd = scale * 2**0.5  # Laplace: standard deviation = scale * sqrt(2)
    mean, sd = statistics.fmean(noise), statistics.stdev(noise)
    assert abs(mean) < 6 * expected_sd / len(noise) ** 0.5
    assert 0.8 * expected_sd < sd < 1.2 * expected_sd  # not noiseless, and not the noise of another scale


@pytest.mark.django_db
def test_post_processing_withholds_small_noisy_counts_and_rounds_the_rest(
    population: SimpleNamespace, settings: Any
) -> None:
    budget(settings, 100)
    spend = dp_release_create(series="first_contacts_per_month", epsilon="0.5", actor=None)
    item = privacy.public_dp_release(spend)
    assert len(item["cells"]) == 12 and item["value"] is None
    for cell in item["cells"]:
        value = cell["value"]
        assert (value is None and cell["status"] == "fewer_than_threshold") or (
            value >= 10 and value % 5 == 0 and cell["status"] == "shown"
        )
    text = json.dumps(item)
    assert '"raw"' not in text and '"noisy"' not in text


# --- who counts -----------------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("series", "months_of"),
    [("first_contacts_per_month", first_contact_months), ("arrivals_kr_per_month", first_arrival_months)],
)
def test_each_series_counts_consenting_persons_in_each_of_the_last_twelve_full_months(
    population: SimpleNamespace, settings: Any, series: str, months_of: Callable[[], dict[int, str]]
) -> None:
    budget(settings, 100_000, per_year=100_000)
    before = exact(series)
    expected = per_month(months_of())
    assert list(before) == last_twelve_months()  # oldest first, the current month left out
    assert before == expected and sum(expected.values()) > 0

    # One person in a counted month withdraws her consent: that month counts one fewer, the others do not change.
    pk, month = next((pk, month) for pk, month in months_of().items() if month in expected)
    consent_record(
        actor=population.coordinator, person=Person.objects.get(pk=pk), scope=ConsentScope.STATISTICS, given=False
    )
    after = exact(series)
    assert after == {**before, month: before[month] - 1}
    assert after == per_month(months_of())


# --- the budget and the ledger --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_ledger_adds_up_what_each_release_spent(population: SimpleNamespace, settings: Any) -> None:
    budget(settings, "1.5")
    asked = ["0.1", "0.25", "0.05", "0.333333"]
    for epsilon, series in zip(asked, [*privacy.SERIES, *privacy.SERIES], strict=False):
        dp_release_create(series=series, epsilon=epsilon, actor=population.analyst)
    ledger = privacy_ledger()
    assert ledger.period == f"{timezone.now().astimezone(dt.UTC):%Y-%m}"
    assert ledger.spent == sum(Decimal(e) for e in asked)
    assert ledger.remaining == Decimal("1.5") - ledger.spent
    assert [str(spend.epsilon.normalize()) for spend in ledger.spends] == asked[::-1]  # newest first
    for spend in ledger.spends:
        event = AuditEvent.objects.get(pk=spend.audit_event_id)
        assert event.action == "figures.dp_release" and event.actor == population.analyst
        assert event.details["series"] == spend.series and Decimal(event.details["epsilon"]) == spend.epsilon
        assert event.details["method"] == "laplace" and float(event.details["scale"]) == spend.method["scale"]
    shown = privacy.public_ledger(ledger)
    assert shown["spent"] == str(ledger.spent.normalize()) and len(shown["spends"]) == 4


@pytest.mark.django_db
def test_a_release_past_the_budget_is_refused_and_changes_nothing(population: SimpleNamespace, settings: Any) -> None:
    budget(settings, 1)
    dp_release_create(series="first_contacts_per_month", epsilon="0.4", actor=None)
    dp_release_create(series="arrivals_kr_per_month", epsilon="0.4", actor=None)
    before = counts_now()
    with CaptureQueriesContext(connection) as queries, pytest.raises(BudgetExhausted) as refused:
        dp_release_create(series="first_contacts_per_month", epsilon="0.3", actor=population.analyst)
    message = str(refused.value)
    assert "0.2" in message and "0.3" in message  # what is left, what was asked
    assert f"{privacy.renewal_of(timezone.now()):%Y-%m-%d}" in message  # when it renews
    assert counts_now() == before
    assert not [q for q in queries.captured_queries if '"cases_' in q["sql"]]  # not even a count was read
    # What is left can still be spent, to the last digit.
    dp_release_create(series="first_contacts_per_month", epsilon="0.2", actor=None)
    assert privacy_ledger().remaining == 0
    with pytest.raises(BudgetExhausted):
        dp_release_create(series="first_contacts_per_month", epsilon="0.000001", actor=None)


@pytest.mark.django_db
def test_a_new_month_brings_a_new_budget(
    population: SimpleNamespace, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    budget(settings, "0.5")
    clock = {"now": dt.datetime(2026, 11, 30, 23, 59, 30, tzinfo=dt.UTC)}
    monkeypatch.setattr(timezone, "now", lambda: clock["now"])
    dp_release_create(series="first_contacts_per_month", epsilon="0.5", actor=None)
    with pytest.raises(BudgetExhausted, match="2026-12-01 00:00 UTC"):
        dp_release_create(series="first_contacts_per_month", epsilon="0.1", actor=None)

    clock["now"] = dt.datetime(2026, 12, 1, 0, 0, 1, tzinfo=dt.UTC)
    spend = dp_release_create(series="first_contacts_per_month", epsilon="0.5", actor=None)
    assert spend.period == "2026-12"
    ledger = privacy_ledger()
    assert (ledger.period, ledger.spent, ledger.remaining) == ("2026-12", Decimal("0.5"), Decimal(0))
    assert ledger.renews_at == dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    assert PrivacySpend.objects.filter(period="2026-11").count() == 1  # November's spend is kept


@pytest.mark.django_db
def test_the_yearly_cap_refuses_what_fresh_monthly_budgets_would_allow(
    population: SimpleNamespace, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Monthly budgets add up over a year: the cap stops them, with its own message, until the next year."""
    budget(settings, 1, per_year="1.5")
    clock = {"now": dt.datetime(2027, 1, 15, 12, 0, tzinfo=dt.UTC)}
    monkeypatch.setattr(timezone, "now", lambda: clock["now"])
    dp_release_create(series="first_contacts_per_month", epsilon="1", actor=None)
    clock["now"] = dt.datetime(2027, 2, 10, tzinfo=dt.UTC)
    dp_release_create(series="arrivals_kr_per_month", epsilon="0.5", actor=None)

    clock["now"] = dt.datetime(2027, 3, 1, 9, 0, tzinfo=dt.UTC)  # March's budget is untouched, the year's is spent
    ledger = privacy_ledger()
    assert (ledger.spent, ledger.remaining) == (Decimal(0), Decimal(1))
    assert (ledger.year.year, ledger.year.spent, ledger.year.remaining) == ("2027", Decimal("1.5"), Decimal(0))
    before = counts_now()
    with CaptureQueriesContext(connection) as queries, pytest.raises(BudgetExhausted) as refused:
        dp_release_create(series="first_contacts_per_month", epsilon="0.1", actor=population.analyst)
    message = str(refused.value)
    assert "yearly privacy budget for 2027" in message and "only 0 of 1.5 is left this year" in message
    assert "renews on 2028-01-01 00:00 UTC" in message
    assert counts_now() == before
    assert not [q for q in queries.captured_queries if '"cases_' in q["sql"]]
    with pytest.raises(CommandError, match="yearly privacy budget for 2027"):
        figures("dp", "--series", "arrivals_kr_per_month", "--epsilon", "0.1")
    assert "Yearly cap for 2027: 1.5 of 1.5 spent, 0 left; it renews on 2028-01-01 00:00 UTC." in figures("budget")

    clock["now"] = dt.datetime(2028, 1, 1, 0, 0, 1, tzinfo=dt.UTC)
    spend = dp_release_create(series="first_contacts_per_month", epsilon="1", actor=None)
    assert spend.period == "2028-01" and privacy_ledger().year.spent == Decimal(1)


@pytest.mark.django_db
@pytest.mark.parametrize("setting", [{"epsilon_per_period": 1, "epsilon_per_year": "0"}, {"epsilon_per_year": 6}, [1]])
def test_a_bad_budget_setting_is_refused_and_changes_nothing(
    population: SimpleNamespace, settings: Any, setting: Any
) -> None:
    from django.core.exceptions import ImproperlyConfigured

    settings.WAYSTATION_DP_BUDGET = setting
    before = counts_now()
    with pytest.raises(ImproperlyConfigured, match="WAYSTATION_DP_BUDGET"):
        dp_release_create(series="first_contacts_per_month", actor=None)
    with pytest.raises(CommandError, match="WAYSTATION_DP_BUDGET"):
        figures("dp", "--series", "first_contacts_per_month")
    assert counts_now() == before


def test_no_series_is_a_number_also_released_exactly() -> None:
    """A noisy copy of a number released exactly protects nothing: no series may share an indicator's name, and
    the guard run at import refuses one that would."""
    from django.core.exceptions import ImproperlyConfigured

    assert not set(privacy.SERIES) & {indicator.name for indicator in INDICATORS}
    privacy.check_not_released_exactly(privacy.SERIES)
    with pytest.raises(ImproperlyConfigured, match="women_safe_now would be released both exactly"):
        privacy.check_not_released_exactly([*privacy.SERIES, "women_safe_now"])


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's transaction mode")
@pytest.mark.django_db
def test_sqlite_without_immediate_transactions_is_refused(
    population: SimpleNamespace, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A DEFERRED transaction reads the sum before it holds the write lock: two releases could overspend."""
    from django.core.exceptions import ImproperlyConfigured

    budget(settings, 1)
    monkeypatch.setattr(connection, "transaction_mode", None)  # as if OPTIONS had no "transaction_mode"
    before = counts_now()
    with pytest.raises(ImproperlyConfigured, match='"transaction_mode": "IMMEDIATE"'):
        dp_release_create(series="first_contacts_per_month", epsilon="0.1", actor=None)
    assert counts_now() == before


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's isolation levels")
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("level", ["REPEATABLE READ", "SERIALIZABLE"])
def test_postgresql_above_read_committed_is_refused(settings: Any, level: str) -> None:
    """Under a snapshot older than the advisory lock, the sum could miss a spend committed while waiting."""
    from django.core.exceptions import ImproperlyConfigured

    budget(settings, 1)
    before = counts_now()
    with pytest.raises(ImproperlyConfigured, match="READ COMMITTED"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"SET TRANSACTION ISOLATION LEVEL {level}")
        dp_release_create(series="first_contacts_per_month", epsilon="0.1", actor=None)
    assert counts_now() == before
    dp_release_create(series="first_contacts_per_month", epsilon="0.1", actor=None)  # READ COMMITTED: released
    assert counts_now()[0] == before[0] + 1


@pytest.mark.django_db
@pytest.mark.parametrize("bad", ["abc", "0", "-0.1", "nan", "inf", "0.0000001", ""])
def test_a_bad_epsilon_is_refused_and_changes_nothing(population: SimpleNamespace, settings: Any, bad: str) -> None:
    budget(settings, 1)
    before = counts_now()
    with pytest.raises(ValueError, match="Epsilon must be a number above 0"):
        dp_release_create(series="first_contacts_per_month", epsilon=bad, actor=None)
    with pytest.raises(CommandError, match="Epsilon must be a number above 0"):
        figures("dp", "--series", "first_contacts_per_month", "--epsilon", bad)
    assert counts_now() == before


@pytest.mark.django_db
def test_an_unknown_series_or_a_bad_budget_setting_is_refused(population: SimpleNamespace, settings: Any) -> None:
    from django.core.exceptions import ImproperlyConfigured

    before = counts_now()
    with pytest.raises(ValueError, match="Unknown series"):
        dp_release_create(series="persons_ever", actor=None)  # an indicator, but not a series released with noise
    with pytest.raises(ValueError, match="Unknown series"):  # released exactly: never with noise too
        dp_release_create(series="women_safe_now", actor=None)
    with pytest.raises(CommandError, match="invalid choice"):  # the command line offers the series by name
        figures("dp", "--series", "everyone")
    with pytest.raises(CommandError, match="needs --series"):
        figures("dp")
    with pytest.raises(CommandError, match="--threshold do not go with `waystation figures dp`"):
        figures("dp", "--series", "arrivals_kr_per_month", "--threshold", "20")
    budget(settings, "-1")
    with pytest.raises(ImproperlyConfigured, match="WAYSTATION_DP_BUDGET"):
        dp_release_create(series="first_contacts_per_month", actor=None)
    with pytest.raises(CommandError, match="WAYSTATION_DP_BUDGET"):  # a message, not a traceback
        figures("budget")
    assert counts_now() == before


@pytest.mark.django_db
def test_ledger_rows_cannot_be_changed_or_removed(population: SimpleNamespace, settings: Any) -> None:
    budget(settings, 1)
    spend = dp_release_create(series="arrivals_kr_per_month", epsilon="0.1", actor=None)
    spend.epsilon = Decimal(0)
    with pytest.raises(ImmutableSpendError):
        spend.save()
    with pytest.raises(ImmutableSpendError):
        spend.delete()
    with pytest.raises(ImmutableSpendError):
        PrivacySpend.objects.filter(pk=spend.pk).update(epsilon=0)
    with pytest.raises(ImmutableSpendError):
        PrivacySpend.objects.filter(pk=spend.pk).delete()
    for sql in (
        "UPDATE figures_privacyspend SET epsilon = 0 WHERE id = %s",
        "DELETE FROM figures_privacyspend WHERE id = %s",
    ):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [spend.pk])
    assert PrivacySpend.objects.get(pk=spend.pk).epsilon == Decimal("0.1")
    assert privacy_ledger().spent == Decimal("0.1")


# --- concurrency ----------------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_releases_never_overspend_one_after_another(settings: Any) -> None:
    """The sum invariant on every database: however releases interleave with refusals, the ledger stays within."""
    budget(settings, "0.35")
    outcomes = []
    for _ in range(6):
        try:
            dp_release_create(series="first_contacts_per_month", epsilon="0.1", actor=None)
            outcomes.append("released")
        except BudgetExhausted:
            outcomes.append("refused")
    assert outcomes == ["released"] * 3 + ["refused"] * 3
    assert privacy_ledger().spent == Decimal("0.3") <= Decimal("0.35")


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite serialises writers itself (transaction_mode IMMEDIATE): only PostgreSQL has concurrent writers",
)
@pytest.mark.django_db(transaction=True)
def test_concurrent_releases_never_overspend(settings: Any) -> None:
    budget(settings, "0.35")
    writers = 8
    barrier = threading.Barrier(writers)
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            barrier.wait()
            dp_release_create(series="first_contacts_per_month", epsilon="0.1", actor=None)
            outcomes.append("released")
        except BudgetExhausted:
            outcomes.append("refused")
        except BaseException as exc:  # noqa: BLE001 (reported to the main thread)
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer) for _ in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert sorted(outcomes) == ["refused"] * 5 + ["released"] * 3
    assert PrivacySpend.objects.count() == 3
    assert privacy_ledger().spent == Decimal("0.3")
    assert AuditEvent.objects.filter(action="figures.dp_release").count() == 3


# --- command line ---------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_commands_print_the_release_and_the_budget(population: SimpleNamespace, settings: Any) -> None:
    budget(settings, 1)
    printed = figures("dp", "--series", "first_contacts_per_month", "--epsilon", "0.2", "--json")
    item = json.loads(printed)
    assert item["series"] == "first_contacts_per_month" and item["method"]["epsilon"] == "0.2"
    assert len(item["cells"]) == 12 and "raw" not in printed

    text = figures("dp", "--series", "arrivals_kr_per_month", "--epsilon", "0.3")
    assert "Arrivals in South Korea per month (arrivals_kr_per_month)" in text
    assert "epsilon 0.3 spent" in text and "0.5 of 1 spent, 0.5 left" in text
    assert f"Yearly cap for {timezone.now().astimezone(dt.UTC):%Y}: 0.5 of 6 spent, 5.5 left" in text
    rows = [line.split(maxsplit=1) for line in text.splitlines() if line.strip()[:4].isdigit()]
    assert [month for month, _value in rows] == last_twelve_months()
    for _month, value in rows:
        assert value.strip() == "fewer than 10" or (int(value) >= 10 and int(value) % 5 == 0)

    with pytest.raises(CommandError, match="only 0.5 of 1 is left"):
        figures("dp", "--series", "arrivals_kr_per_month", "--epsilon", "0.6")

    ledger = json.loads(figures("budget", "--json"))
    assert (ledger["spent"], ledger["remaining"], len(ledger["spends"])) == ("0.5", "0.5", 2)
    assert (ledger["year"]["spent"], ledger["year"]["budget"], ledger["year"]["remaining"]) == ("0.5", "6", "5.5")
    latest = privacy.latest_dp_releases()
    assert set(latest) == {"first_contacts_per_month", "arrivals_kr_per_month"}
    assert latest["arrivals_kr_per_month"].epsilon == Decimal("0.3")

    text = figures("budget")
    assert "arrivals_kr_per_month" in text and "first_contacts_per_month" in text and "Yearly cap for" in text


# --- the analyst's dashboard ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_dashboard_shows_the_latest_noisy_releases_and_the_budget_without_spending(
    population: SimpleNamespace, settings: Any, client_for: Any
) -> None:
    budget(settings, 1)
    client = client_for(population.analyst)
    assert "None released yet." in client.get("/").content.decode()
    spend = dp_release_create(series="arrivals_kr_per_month", epsilon="0.25", actor=None)
    spent_before = counts_now()
    page = client.get("/").content.decode()
    assert counts_now()[0] == spent_before[0]  # looking spends nothing
    assert "Privacy budget for" in page and "0.25 of 1 spent, 0.75 left" in page
    assert f"Yearly cap for {timezone.now().astimezone(dt.UTC):%Y}: 0.25 of 6 spent, 5.75 left" in page
    assert "Arrivals in South Korea per month" in page
    for cell in spend.cells:
        shown = "fewer than 10" if cell["value"] is None else str(cell["value"])
        assert re.search(rf"<td>{cell['key']['month']}</td>\s*<td>{shown}</td>", page)
    assert "Epsilon 0.25 spent" in page


@pytest.mark.django_db
@pytest.mark.parametrize("setting", [{"epsilon_per_period": "-1"}, {"epsilon_per_period": 1, "epsilon_per_year": "x"}])
def test_a_bad_budget_setting_shows_a_plain_line_on_the_dashboard(
    population: SimpleNamespace, settings: Any, client_for: Any, setting: dict[str, Any]
) -> None:
    budget(settings, 1)
    spend = dp_release_create(series="first_contacts_per_month", epsilon="0.25", actor=None)
    settings.WAYSTATION_DP_BUDGET = setting
    response = client_for(population.analyst).get("/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "The privacy budget setting is not valid: ask the administrator." in page
    assert "Privacy budget for" not in page
    assert "First contacts per month" in page and f"<td>{spend.cells[0]['key']['month']}</td>" in page
