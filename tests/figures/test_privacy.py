"""Differentially private series and the privacy budget ledger (``figures.privacy``), over synthetic data.

The noise is OpenDP's and random: statistical checks use bounds of five standard errors or more, so a correct
implementation fails them with a negligible probability, while a missing or mis-scaled noise fails them for sure.
"""

from __future__ import annotations

import datetime as dt
import io
import json
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
from waystation.cases.choices import ENDED_STATUSES, ConsentScope
from waystation.cases.models import Person
from waystation.cases.selectors import consenting
from waystation.cases.services import consent_record
from waystation.figures import privacy
from waystation.figures.disclosure import Policy
from waystation.figures.models import ImmutableSpendError, PrivacySpend
from waystation.figures.privacy import BudgetExhausted, dp_release_create, privacy_ledger

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


def budget(settings: Any, epsilon: str | float) -> None:
    settings.WAYSTATION_DP_BUDGET = {"epsilon_per_period": epsilon}


def counts_now() -> tuple[int, int]:
    return PrivacySpend.objects.count(), AuditEvent.objects.count()


def published(spend: PrivacySpend) -> list[int | None]:
    return [cell["value"] for cell in spend.cells]


def in_care_counted() -> int:
    return consenting(Person.objects.exclude(status__in=ENDED_STATUSES), ConsentScope.STATISTICS).count()


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
    budget(settings, 1000)
    true = in_care_counted()
    assert true > 60  # far enough from 0 that clamping does not bias the mean
    draws = 200
    spends = [
        dp_release_create(series="persons_in_care_now", epsilon="0.2", actor=None, policy=NO_ROUNDING)
        for _ in range(draws)
    ]
    scale = spends[0].method["scale"]
    assert scale == pytest.approx(5.0, rel=0.01)  # OpenDP's scale for epsilon 0.2 at sensitivity 1
    values = [value for spend in spends for value in published(spend)]
    assert all(isinstance(v, int) for v in values)
    expected_sd = scale * 2**0.5  # Laplace: standard deviation = scale * sqrt(2)
    mean, sd = statistics.fmean(values), statistics.stdev(values)
    assert abs(mean - true) < 6 * expected_sd / draws**0.5
    assert 0.7 * expected_sd < sd < 1.3 * expected_sd
    assert sd > 3  # not noiseless


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
def test_only_consenting_persons_count(population: SimpleNamespace, settings: Any) -> None:
    budget(settings, 100_000)
    everyone_in_care = Person.objects.exclude(status__in=ENDED_STATUSES).count()
    counted = in_care_counted()
    assert counted < everyone_in_care  # the synthetic data has persons who did not consent
    before = dp_release_create(series="persons_in_care_now", epsilon=EXACT, actor=None, policy=NO_ROUNDING)
    assert published(before) == [counted]

    person = consenting(Person.objects.exclude(status__in=ENDED_STATUSES), ConsentScope.STATISTICS).first()
    assert person is not None
    consent_record(actor=population.coordinator, person=person, scope=ConsentScope.STATISTICS, given=False)
    after = dp_release_create(series="persons_in_care_now", epsilon=EXACT, actor=None, policy=NO_ROUNDING)
    assert published(after) == [counted - 1]


@pytest.mark.django_db
def test_first_contacts_are_counted_for_each_of_the_last_twelve_full_months(
    population: SimpleNamespace, settings: Any
) -> None:
    budget(settings, 100_000)
    spend = dp_release_create(series="first_contacts_per_month", epsilon=EXACT, actor=None, policy=NO_ROUNDING)
    today = timezone.now().astimezone(dt.UTC).date()
    months = []
    year, month = today.year, today.month
    for _ in range(12):
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
        months.append(f"{year:04d}-{month:02d}")
    expected = dict.fromkeys(months, 0)
    counted = consenting(Person.objects.all(), ConsentScope.STATISTICS)
    for first_contact in counted.values_list("first_contact_month", flat=True):
        if first_contact is not None and f"{first_contact:%Y-%m}" in expected:
            expected[f"{first_contact:%Y-%m}"] += 1
    got = {cell["key"]["month"]: cell["value"] for cell in spend.cells}
    assert list(got) == sorted(months)  # oldest first, the current month left out
    assert got == expected
    assert sum(expected.values()) > 0


# --- the budget and the ledger --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_ledger_adds_up_what_each_release_spent(population: SimpleNamespace, settings: Any) -> None:
    budget(settings, "1.5")
    asked = ["0.1", "0.25", "0.05", "0.333333"]
    for epsilon, series in zip(asked, ["persons_in_care_now", "women_safe_now", *privacy.SERIES][:4], strict=False):
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
    dp_release_create(series="persons_in_care_now", epsilon="0.4", actor=None)
    dp_release_create(series="women_safe_now", epsilon="0.4", actor=None)
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
        dp_release_create(series="persons_in_care_now", epsilon="0.000001", actor=None)


@pytest.mark.django_db
def test_a_new_month_brings_a_new_budget(
    population: SimpleNamespace, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    budget(settings, "0.5")
    clock = {"now": dt.datetime(2026, 11, 30, 23, 59, 30, tzinfo=dt.UTC)}
    monkeypatch.setattr(timezone, "now", lambda: clock["now"])
    dp_release_create(series="persons_in_care_now", epsilon="0.5", actor=None)
    with pytest.raises(BudgetExhausted, match="2026-12-01 00:00 UTC"):
        dp_release_create(series="persons_in_care_now", epsilon="0.1", actor=None)

    clock["now"] = dt.datetime(2026, 12, 1, 0, 0, 1, tzinfo=dt.UTC)
    spend = dp_release_create(series="persons_in_care_now", epsilon="0.5", actor=None)
    assert spend.period == "2026-12"
    ledger = privacy_ledger()
    assert (ledger.period, ledger.spent, ledger.remaining) == ("2026-12", Decimal("0.5"), Decimal(0))
    assert ledger.renews_at == dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    assert PrivacySpend.objects.filter(period="2026-11").count() == 1  # November's spend is kept


@pytest.mark.django_db
@pytest.mark.parametrize("bad", ["abc", "0", "-0.1", "nan", "inf", "0.0000001", ""])
def test_a_bad_epsilon_is_refused_and_changes_nothing(population: SimpleNamespace, settings: Any, bad: str) -> None:
    budget(settings, 1)
    before = counts_now()
    with pytest.raises(ValueError, match="Epsilon must be a number above 0"):
        dp_release_create(series="persons_in_care_now", epsilon=bad, actor=None)
    with pytest.raises(CommandError, match="Epsilon must be a number above 0"):
        figures("dp", "--series", "persons_in_care_now", "--epsilon", bad)
    assert counts_now() == before


@pytest.mark.django_db
def test_an_unknown_series_or_a_bad_budget_setting_is_refused(population: SimpleNamespace, settings: Any) -> None:
    from django.core.exceptions import ImproperlyConfigured

    before = counts_now()
    with pytest.raises(ValueError, match="Unknown series"):
        dp_release_create(series="persons_ever", actor=None)  # an indicator, but not a series released with noise
    with pytest.raises(CommandError, match="Unknown series"):
        privacy.dp_command({"series": "everyone", "epsilon": "0.1"}, actor=None, stdout=io.StringIO())
    with pytest.raises(CommandError, match="invalid choice"):  # the command line offers the series by name
        figures("dp", "--series", "everyone")
    with pytest.raises(CommandError, match="needs --series"):
        figures("dp")
    with pytest.raises(CommandError, match="--threshold do not go with `waystation figures dp`"):
        figures("dp", "--series", "women_safe_now", "--threshold", "20")
    budget(settings, "-1")
    with pytest.raises(ImproperlyConfigured, match="WAYSTATION_DP_BUDGET"):
        dp_release_create(series="persons_in_care_now", actor=None)
    with pytest.raises(CommandError, match="WAYSTATION_DP_BUDGET"):  # a message, not a traceback
        figures("budget")
    assert counts_now() == before


@pytest.mark.django_db
def test_ledger_rows_cannot_be_changed_or_removed(population: SimpleNamespace, settings: Any) -> None:
    budget(settings, 1)
    spend = dp_release_create(series="women_safe_now", epsilon="0.1", actor=None)
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
            dp_release_create(series="persons_in_care_now", epsilon="0.1", actor=None)
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
            dp_release_create(series="persons_in_care_now", epsilon="0.1", actor=None)
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

    text = figures("dp", "--series", "women_safe_now", "--epsilon", "0.3")
    assert "Women safe in the network now (women_safe_now)" in text
    assert "epsilon 0.3 spent" in text and "0.5 of 1 spent, 0.5 left" in text
    total = next(line for line in text.splitlines() if "Total:" in line).split("Total:")[1].strip()
    assert total == "fewer than 10" or (int(total) >= 10 and int(total) % 5 == 0)

    with pytest.raises(CommandError, match="only 0.5 of 1 is left"):
        figures("dp", "--series", "women_safe_now", "--epsilon", "0.6")

    ledger = json.loads(figures("budget", "--json"))
    assert (ledger["spent"], ledger["remaining"], len(ledger["spends"])) == ("0.5", "0.5", 2)
    latest = privacy.latest_dp_releases()
    assert set(latest) == {"first_contacts_per_month", "women_safe_now"}
    assert latest["women_safe_now"].epsilon == Decimal("0.3")

    text = figures("budget")
    assert "women_safe_now" in text and "first_contacts_per_month" in text


# --- the analyst's dashboard ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_dashboard_shows_the_latest_noisy_releases_and_the_budget_without_spending(
    population: SimpleNamespace, settings: Any, client_for: Any
) -> None:
    budget(settings, 1)
    client = client_for(population.analyst)
    assert "None released yet." in client.get("/").content.decode()
    spend = dp_release_create(series="women_safe_now", epsilon="0.25", actor=None)
    spent_before = counts_now()
    page = client.get("/").content.decode()
    assert counts_now()[0] == spent_before[0]  # looking spends nothing
    assert "Privacy budget for" in page and "0.25 of 1 spent, 0.75 left" in page
    shown = spend.cells[0]["value"]
    assert ("fewer than 10" if shown is None else f"<strong>{shown}</strong>") in page
    assert "Epsilon 0.25 spent" in page
