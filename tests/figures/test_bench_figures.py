"""The figures benchmark compares like with like: its pandas side (bench/figures.py), given a CSV export of the
records, computes every number a release counts. If an indicator changes and the pandas side is not changed with
it, this fails here, in the normal suite, instead of the benchmark timing two different computations."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest

from waystation.cases.choices import ConsentScope
from waystation.cases.models import Person
from waystation.cases.selectors import consenting
from waystation.cases.services import consent_record
from waystation.figures.indicators import INDICATORS

pytestmark = pytest.mark.django_db

BENCH = Path(__file__).resolve().parents[2] / "bench" / "figures.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_figures", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def population(synthetic: Callable[[int, int], SimpleNamespace]) -> SimpleNamespace:
    """The personas' world (consents with and without partners, withdrawals) plus 300 synthetic persons."""
    return synthetic(300, 47)


def test_pandas_computes_every_number_the_release_counts(
    population: SimpleNamespace, bench: ModuleType, tmp_path: Path
) -> None:
    bench.export(tmp_path)
    app = bench.app_figures()
    assert set(app) == {indicator.name for indicator in INDICATORS}
    assert bench.differences(app, bench.pandas_figures(tmp_path)) == []
    # Not an empty comparison: the tables have cells and people were counted.
    assert all(figures["cells"] for figures in app.values())
    assert app["persons_ever"]["cells"][()] > 250


def test_the_comparison_sees_one_person_withdrawing_consent(
    population: SimpleNamespace, bench: ModuleType, tmp_path: Path
) -> None:
    bench.export(tmp_path)  # the records before she withdraws
    before = bench.pandas_figures(tmp_path)["persons_ever"]["cells"][()]
    person = consenting(Person.objects.all(), ConsentScope.STATISTICS).filter(sex="F").first()
    assert person is not None
    consent_record(actor=population.coordinator, person=person, scope=ConsentScope.STATISTICS, given=False)
    found = bench.differences(bench.app_figures(), bench.pandas_figures(tmp_path))
    assert f"persons_ever total: app {before - 1}, pandas {before}" in found
    assert any(line.startswith("share_women {'group': 'yes'}") for line in found)
