"""The Merkle tree head is RFC 6962's, and appending never changes what an earlier checkpoint committed to."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest
from audit_helpers import run_audit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from waystation.audit import chain
from waystation.audit.models import AuditEvent


def reference_mth(entries: list[bytes]) -> bytes:
    """RFC 6962 section 2.1, written out from the text: MTH over the entries themselves (not leaf hashes)."""
    n = len(entries)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + entries[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + reference_mth(entries[:k]) + reference_mth(entries[k:])).digest()


# The Certificate Transparency test vectors (certificate-transparency merkle_tree_test): roots of the first n entries.
CT_ENTRIES = [bytes.fromhex(h) for h in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                           "606162636465666768696a6b6c6d6e6f"]]  # fmt: skip
CT_ROOTS = {
    1: "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    2: "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    3: "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    4: "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    5: "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    6: "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    7: "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    8: "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}


@pytest.mark.parametrize("n", sorted(CT_ROOTS))
def test_certificate_transparency_vectors(n: int) -> None:
    leaves = [chain.leaf_hash(e) for e in CT_ENTRIES[:n]]
    assert chain.tree_head(leaves).hex() == CT_ROOTS[n]
    assert chain.tree_head_recursive(leaves).hex() == CT_ROOTS[n]


def test_empty_tree() -> None:
    assert chain.tree_head([]).hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


entries_lists = st.lists(st.binary(max_size=40), min_size=1, max_size=200)


@given(entries=entries_lists)
@settings(max_examples=150, deadline=None)
def test_tree_head_matches_the_reference(entries: list[bytes]) -> None:
    leaves = [chain.leaf_hash(e) for e in entries]
    assert chain.tree_head(leaves) == reference_mth(entries)


@given(entries=entries_lists, more=st.lists(st.binary(max_size=40), min_size=1, max_size=50), data=st.data())
@settings(max_examples=100, deadline=None)
def test_appending_never_changes_an_earlier_root(entries: list[bytes], more: list[bytes], data: st.DataObject) -> None:
    m = data.draw(st.integers(min_value=1, max_value=len(entries)), label="checkpoint size")
    leaves = [chain.leaf_hash(e) for e in entries]
    before = chain.tree_head(leaves[:m])
    extended = leaves + [chain.leaf_hash(e) for e in more]
    assert chain.tree_head(extended[:m]) == before == reference_mth(entries[:m])
    assert chain.tree_head(extended) == reference_mth(entries + more)


@given(sizes=st.lists(st.integers(min_value=1, max_value=6), min_size=1, max_size=4))
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_earlier_checkpoint_keeps_verifying_as_the_log_grows(
    write_events: Callable[..., list[AuditEvent]], tmp_path: Path, sizes: list[int]
) -> None:
    start = AuditEvent.objects.count()
    checkpoints: list[Path] = []
    for i, size in enumerate(sizes):
        write_events(size)
        path = tmp_path / f"cp-{start}-{i}.txt"
        assert run_audit("checkpoint", "--out", str(path)).code == 0
        checkpoints.append(path)
    for path in checkpoints:
        result = run_audit("verify", "--checkpoint", str(path))
        assert result.code == 0, result
