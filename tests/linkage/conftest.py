"""One fictional woman registered three times, for the review of duplicates."""

from __future__ import annotations

import pytest
from merge_helpers import NAMES, TWICE

from waystation.accounts.models import User
from waystation.cases.models import Person
from waystation.cases.services import person_register
from waystation.network.models import Station


@pytest.fixture
def three(keeper_a: User, station_a: Station) -> list[Person]:
    """One fictional woman registered three times, under three spellings of her name."""
    persons = []
    for name in NAMES:
        field = "name_hangul" if any("가" <= ch <= "힣" for ch in name) else "name_romanized"
        persons.append(person_register(actor=keeper_a, station=station_a, **TWICE, **{field: name}))
    return persons
