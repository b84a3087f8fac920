"""AES-256-GCM sealing (vaultkernel.sealing): what is sealed opens only with its key and its
associated data, and any damage fails loudly, naming what failed but never its value."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vaultkernel.sealing import KEY_BYTES, NONCE_BYTES, Sealer, TamperedCiphertext, new_key

SECRET = b"janelle.qv@example.org"
WHERE = b"member:42/email"


@pytest.fixture
def sealer() -> Sealer:
    return Sealer(new_key())


def refused(sealer: Sealer, sealed: bytes, aad: bytes = WHERE) -> str:
    with pytest.raises(TamperedCiphertext) as caught:
        sealer.open(sealed, aad, "email address")
    message = str(caught.value)
    assert "email address" in message
    assert SECRET.decode() not in message and "janelle" not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    return message


@given(st.binary(max_size=2048), st.binary(max_size=64) | st.none())
def test_what_is_sealed_opens_to_the_same_bytes(plaintext: bytes, aad: bytes | None) -> None:
    sealer = Sealer(b"k" * KEY_BYTES)
    sealed = sealer.seal(plaintext, aad)
    assert sealer.open(sealed, aad) == plaintext


def test_a_sealed_value_hides_its_plaintext_and_carries_nonce_and_tag(sealer: Sealer) -> None:
    sealed = sealer.seal(SECRET, WHERE)
    assert SECRET not in sealed
    assert len(sealed) == NONCE_BYTES + len(SECRET) + 16


def test_the_same_value_seals_differently_each_time(sealer: Sealer) -> None:
    sealed = {sealer.seal(SECRET, WHERE) for _ in range(20)}
    assert len(sealed) == 20
    assert len({s[:NONCE_BYTES] for s in sealed}) == 20


def test_a_value_moved_to_another_place_does_not_open(sealer: Sealer) -> None:
    sealed = sealer.seal(SECRET, WHERE)
    refused(sealer, sealed, b"member:43/email")
    refused(sealer, sealed, b"")


def test_another_key_does_not_open_it(sealer: Sealer) -> None:
    refused(Sealer(new_key()), sealer.seal(SECRET, WHERE))


@pytest.mark.parametrize("position", [0, NONCE_BYTES, NONCE_BYTES + 5, -1])
def test_a_flipped_byte_anywhere_is_detected(sealer: Sealer, position: int) -> None:
    sealed = bytearray(sealer.seal(SECRET, WHERE))
    sealed[position] ^= 0x01
    refused(sealer, bytes(sealed))


@pytest.mark.parametrize("length", [0, 5, NONCE_BYTES, NONCE_BYTES + 15, -1])
def test_a_truncated_value_is_detected(sealer: Sealer, length: int) -> None:
    refused(sealer, sealer.seal(SECRET, WHERE)[:length])


def test_the_message_names_what_failed(sealer: Sealer) -> None:
    assert refused(sealer, b"") == "sealed email address failed authentication"


def test_sealing_at_a_given_nonce_opens_only_at_that_nonce(sealer: Sealer) -> None:
    nonce = b"\x00" * NONCE_BYTES
    sealed = sealer.seal_at(nonce, SECRET, WHERE)
    assert sealer.open_at(nonce, sealed, WHERE) == SECRET
    with pytest.raises(TamperedCiphertext, match="archive chunk") as caught:
        sealer.open_at(b"\x01" + nonce[1:], sealed, WHERE, "archive chunk")
    assert "janelle" not in str(caught.value)
    with pytest.raises(TamperedCiphertext):
        sealer.open_at(nonce, sealed, b"another chunk")


def test_keys_are_fresh_and_of_aes_256_size() -> None:
    keys = {new_key() for _ in range(10)}
    assert len(keys) == 10 and {len(k) for k in keys} == {KEY_BYTES}
