"""The sealed archive format: chunked AES-256-GCM that detects any change, truncation,
reordering or extension, and never yields an unauthenticated byte."""

from __future__ import annotations

import io
import os
import uuid

import pytest

from export.sealed_files import (
    MAGIC,
    SealedFileError,
    SealedWriter,
    new_file_key,
    open_chunks,
    read_header,
)

CHUNK = 64  # small chunks, so a few bytes make many of them
TAG = 16
WRAPPED = b"wrapped-key-bytes"


def seal(plaintext: bytes, archive_id: uuid.UUID, key: bytes, *, writes: int = 3) -> bytes:
    raw = io.BytesIO()
    writer = SealedWriter(raw, archive_id, key, WRAPPED, chunk_size=CHUNK)
    step = max(1, len(plaintext) // writes)
    for start in range(0, len(plaintext), step):
        writer.write(plaintext[start:start + step])
    writer.close()
    assert writer.size == len(plaintext)
    return raw.getvalue()


def unseal(sealed: bytes, key: bytes) -> bytes:
    raw = io.BytesIO(sealed)
    header = read_header(raw)
    return b"".join(open_chunks(raw, header, key))


def header_length() -> int:
    return len(MAGIC) + 1 + 16 + 4 + 8 + 2 + len(WRAPPED)


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 7])
def test_round_trip_of_any_length(size: int) -> None:
    key, archive_id = new_file_key(), uuid.uuid4()
    plaintext = os.urandom(size)
    sealed = seal(plaintext, archive_id, key)
    header = read_header(io.BytesIO(sealed))
    assert header.archive_id == archive_id and header.wrapped_key == WRAPPED
    assert unseal(sealed, key) == plaintext
    assert size < 16 or plaintext not in sealed


def test_every_flipped_byte_is_detected() -> None:
    key, archive_id = new_file_key(), uuid.uuid4()
    sealed = seal(os.urandom(2 * CHUNK + 10), archive_id, key)
    for position in range(len(sealed)):
        if header_length() - len(WRAPPED) - 2 <= position < header_length():
            continue  # the wrapped key's length and bytes: checked by the member's cipher
        damaged = bytearray(sealed)
        damaged[position] ^= 0x01
        with pytest.raises(SealedFileError):
            unseal(bytes(damaged), key)


def chunks_of(sealed: bytes) -> tuple[bytes, list[bytes]]:
    head, body = sealed[:header_length()], sealed[header_length():]
    size = CHUNK + TAG
    return head, [body[i:i + size] for i in range(0, len(body), size)]


def test_truncation_reordering_dropping_and_extension_are_detected() -> None:
    key, archive_id = new_file_key(), uuid.uuid4()
    sealed = seal(os.urandom(3 * CHUNK + 5), archive_id, key)
    head, chunks = chunks_of(sealed)
    assert len(chunks) == 4
    variants = {
        "cut at a chunk boundary": head + b"".join(chunks[:3]),
        "cut inside a chunk": sealed[:-3],
        "final chunk dropped": head + b"".join(chunks[:2] + chunks[3:]),
        "two chunks swapped": head + b"".join([chunks[1], chunks[0], *chunks[2:]]),
        "a chunk repeated": head + b"".join([chunks[0], chunks[0], *chunks[1:]]),
        "data appended": sealed + chunks[0],
        "header only": head,
    }
    for name, damaged in variants.items():
        with pytest.raises(SealedFileError):
            unseal(damaged, key)
        assert name


def test_a_file_does_not_open_as_another_archive_or_with_another_key() -> None:
    key = new_file_key()
    sealed = seal(b"x" * 100, uuid.uuid4(), key)
    other_id = bytearray(sealed)
    other_id[len(MAGIC) + 1:len(MAGIC) + 17] = uuid.uuid4().bytes
    with pytest.raises(SealedFileError):
        unseal(bytes(other_id), key)
    with pytest.raises(SealedFileError):
        unseal(sealed, new_file_key())
    with pytest.raises(SealedFileError):
        read_header(io.BytesIO(b"PK\x03\x04" + sealed[4:]))


def test_chunks_are_yielded_only_after_they_authenticate() -> None:
    key = new_file_key()
    plaintext = os.urandom(3 * CHUNK)
    sealed = bytearray(seal(plaintext, uuid.uuid4(), key))
    sealed[-1] ^= 0xFF  # damage the last chunk only
    raw = io.BytesIO(bytes(sealed))
    stream = open_chunks(raw, read_header(raw), key)
    received = [next(stream), next(stream)]
    assert b"".join(received) == plaintext[:2 * CHUNK]
    with pytest.raises(SealedFileError):
        next(stream)
