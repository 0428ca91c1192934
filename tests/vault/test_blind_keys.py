"""The stored digests of name keys link spellings of one name, and never group people by surname alone."""

from __future__ import annotations

import uuid

from waystation.vault import blind

KEY = b"k" * 32  # a fixed index key: these tests look at the rows, not at the key's protection


def digests_of(*names: str) -> set[str]:
    return {row.digest for row in blind.rows(uuid.uuid4(), KEY, names)}


def test_two_spellings_of_one_name_share_a_stored_digest() -> None:
    assert digests_of("김명희") & digests_of("Kim Myong Hui")


def test_women_who_share_only_a_surname_share_no_stored_digest() -> None:
    # A surname digest would fall to counting (one in five a Kim): none is stored, so two Kims look unrelated.
    kims = [digests_of(name) for name in ("김영희", "김철순", "김가상", "Kim Sunhui")]
    for i, one in enumerate(kims):
        for other in kims[i + 1 :]:
            assert not one & other
    kinds = {row.kind for row in blind.rows(uuid.uuid4(), KEY, ["김영희", "Kim Sunhui"])}
    assert kinds <= {"name", "h", "p"}
