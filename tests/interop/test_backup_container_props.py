"""Property tests of the backup container: any payload comes back exactly; any change to any byte is refused."""

from __future__ import annotations

import pytest
from backup_helpers import FAST
from hypothesis import given, settings
from hypothesis import strategies as st

from waystation.interop.backup import (
    COMPRESS_LZMA,
    COMPRESS_ZLIB,
    HEADER_SIZE,
    MAGIC,
    PRODUCTION_KDF,
    BackupError,
    read_header,
    seal,
    unseal,
)

passphrases = st.text(min_size=12, max_size=40).filter(lambda s: "\x00" not in s)


@settings(max_examples=60, deadline=None)
@given(
    payload=st.binary(max_size=4096),
    passphrase=passphrases,
    compression=st.sampled_from([COMPRESS_ZLIB, COMPRESS_LZMA]),
)
def test_round_trip(payload: bytes, passphrase: str, compression: int) -> None:
    sealed = seal(payload, passphrase, kdf=FAST, compression=compression)
    assert sealed.startswith(MAGIC)
    assert unseal(sealed, passphrase, kdf_floor=FAST) == payload


@settings(max_examples=60, deadline=None)
@given(payload=st.binary(min_size=1, max_size=512), passphrase=passphrases, data=st.data())
def test_any_changed_byte_or_truncation_is_refused(payload: bytes, passphrase: str, data: st.DataObject) -> None:
    sealed = seal(payload, passphrase, kdf=FAST)
    index = data.draw(st.integers(0, len(sealed) - 1))
    flip = data.draw(st.integers(1, 255))
    damaged = sealed[:index] + bytes([sealed[index] ^ flip]) + sealed[index + 1 :]
    with pytest.raises(BackupError):
        unseal(damaged, passphrase, kdf_floor=FAST)
    cut = data.draw(st.integers(0, len(sealed) - 1))
    with pytest.raises(BackupError):
        unseal(sealed[:cut], passphrase, kdf_floor=FAST)


@settings(max_examples=20, deadline=None)
@given(payload=st.binary(max_size=256), passphrase=passphrases, other=passphrases)
def test_another_passphrase_is_refused(payload: bytes, passphrase: str, other: str) -> None:
    sealed = seal(payload, passphrase, kdf=FAST)
    if other != passphrase:
        with pytest.raises(BackupError, match="passphrase is wrong"):
            unseal(sealed, other, kdf_floor=FAST)


def test_fresh_salt_and_nonce_every_time() -> None:
    a, b = seal(b"same", "same-passphrase-1", kdf=FAST), seal(b"same", "same-passphrase-1", kdf=FAST)
    assert a[: len(MAGIC) + 14] == b[: len(MAGIC) + 14]  # magic, version, compression, parameters
    assert a[HEADER_SIZE - 36 : HEADER_SIZE - 8] != b[HEADER_SIZE - 36 : HEADER_SIZE - 8]  # salt and nonce
    assert a[HEADER_SIZE:] != b[HEADER_SIZE:]


def test_production_parameters_are_the_default_and_the_floor() -> None:
    assert PRODUCTION_KDF.time_cost >= 3 and PRODUCTION_KDF.memory_kib == 64 * 1024
    sealed = seal(b"x", "a-long-passphrase", kdf=FAST)
    with pytest.raises(BackupError, match="out of range"):
        read_header(sealed)  # the default floor is production's


def test_short_passphrase_refused() -> None:
    with pytest.raises(BackupError, match="at least 12"):
        seal(b"x", "short", kdf=FAST)
