"""Archives at rest: one file encrypted in chunks with AES-256-GCM (a STREAM construction).

The plaintext never touches the disk: :class:`SealedWriter` is the file object the ZIP is
written into, and it encrypts as it goes. Layout of a sealed file::

    header  MAGIC (8) | version (1) | archive id (16) | chunk size (4, big-endian) |
            nonce prefix (8) | wrapped key length (2, big-endian) | wrapped key
    chunks  chunk 0 | chunk 1 | ... | chunk n-1

Every chunk but the last holds exactly ``chunk size`` plaintext bytes (the last holds 0 to
``chunk size``) and is ``ciphertext || 16-byte tag``, encrypted under the file key with

    nonce           = nonce prefix (8 random bytes) || chunk index (4 bytes, big-endian)
    associated data = b"membervault:export:v1" || archive id || chunk index || final flag

so a changed byte, a dropped, repeated or reordered chunk, a truncated file (its last chunk
was not sealed as final) or appended data (the old last chunk would now have to be non-final)
all fail authentication. The file key is random per archive and stored only wrapped (the
caller wraps it under the member's data key, so erasing the member shreds the archive).
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from vaultkernel.sealing import KEY_BYTES, Sealer, TamperedCiphertext

MAGIC = b"MVEXPORT"
VERSION = 1
CHUNK_SIZE = 64 * 1024
MAX_CHUNK_SIZE = 1024 * 1024
PREFIX_BYTES = 8
TAG_BYTES = 16
MAX_CHUNKS = 2**32
AAD_LABEL = b"membervault:export:v1"


class SealedFileError(Exception):
    """The sealed file is damaged, truncated or not ours: nothing of it may be returned.
    The message names the problem, never any content."""


def new_file_key() -> bytes:
    return os.urandom(KEY_BYTES)


def _nonce(prefix: bytes, index: int) -> bytes:
    if index >= MAX_CHUNKS:
        raise SealedFileError("too many chunks for one archive")
    return prefix + index.to_bytes(4, "big")


def _aad(archive_id: uuid.UUID, index: int, final: bool) -> bytes:
    return AAD_LABEL + archive_id.bytes + index.to_bytes(4, "big") + (b"\x01" if final else b"\x00")


class SealedWriter:
    """A write-only, non-seekable binary stream that seals what is written to ``raw``.

    Also counts and hashes the plaintext (``size``, ``sha256``) for the archive's signature.
    :meth:`close` seals the final chunk; it does not close ``raw``.
    """

    def __init__(self, raw: BinaryIO, archive_id: uuid.UUID, key: bytes, wrapped_key: bytes,
                 *, chunk_size: int = CHUNK_SIZE):
        if len(key) != KEY_BYTES:
            raise ValueError("the file key must be 32 bytes")
        if not 0 < chunk_size <= MAX_CHUNK_SIZE:
            raise ValueError("chunk size out of range")
        if len(wrapped_key) > 0xFFFF:
            raise ValueError("wrapped key too long")
        self._raw = raw
        self._archive_id = archive_id
        self._sealer = Sealer(key)
        self._prefix = os.urandom(PREFIX_BYTES)
        self._chunk_size = chunk_size
        self._buffer = bytearray()
        self._index = 0
        self._hash = hashlib.sha256()
        self.size = 0
        self.closed = False
        raw.write(MAGIC + bytes([VERSION]) + archive_id.bytes + chunk_size.to_bytes(4, "big")
                  + self._prefix + len(wrapped_key).to_bytes(2, "big") + wrapped_key)

    def _seal(self, final: bool) -> None:
        sealed = self._sealer.seal_at(_nonce(self._prefix, self._index), bytes(self._buffer),
                                      _aad(self._archive_id, self._index, final))
        self._raw.write(sealed)
        self._index += 1
        self._buffer = bytearray()

    def write(self, data: bytes, /) -> int:
        if self.closed:
            raise ValueError("write to a closed sealed stream")
        view = memoryview(data).cast("B")
        self._hash.update(view)
        self.size += len(view)
        position = 0
        while position < len(view):
            # A full buffer is sealed only once more data follows, so whatever is buffered
            # when the stream closes becomes the final chunk.
            if len(self._buffer) == self._chunk_size:
                self._seal(final=False)
            take = min(self._chunk_size - len(self._buffer), len(view) - position)
            self._buffer += view[position:position + take]
            position += take
        return len(view)

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self._raw.flush()

    def close(self) -> None:
        if not self.closed:
            self._seal(final=True)
            self._raw.flush()
            self.closed = True

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()


@dataclass(frozen=True)
class Header:
    archive_id: uuid.UUID
    chunk_size: int
    prefix: bytes
    wrapped_key: bytes


def read_header(raw: BinaryIO) -> Header:
    fixed = raw.read(len(MAGIC) + 1 + 16 + 4 + PREFIX_BYTES + 2)
    if len(fixed) < len(MAGIC) + 31 or fixed[:len(MAGIC)] != MAGIC:
        raise SealedFileError("not a sealed export archive")
    at = len(MAGIC)
    if fixed[at] != VERSION:
        raise SealedFileError("unknown sealed archive version")
    archive_id = uuid.UUID(bytes=fixed[at + 1:at + 17])
    chunk_size = int.from_bytes(fixed[at + 17:at + 21], "big")
    prefix = fixed[at + 21:at + 21 + PREFIX_BYTES]
    key_length = int.from_bytes(fixed[at + 21 + PREFIX_BYTES:], "big")
    if not 0 < chunk_size <= MAX_CHUNK_SIZE:
        raise SealedFileError("invalid chunk size in the archive header")
    wrapped_key = raw.read(key_length)
    if len(wrapped_key) != key_length:
        raise SealedFileError("the archive header is truncated")
    return Header(archive_id, chunk_size, prefix, wrapped_key)


def open_chunks(raw: BinaryIO, header: Header, key: bytes) -> Iterator[bytes]:
    """The plaintext, chunk by chunk, each authenticated before it is yielded; raises
    :class:`SealedFileError` at the first chunk that fails (or at a missing final chunk).
    ``raw`` must be positioned just after the header."""
    if len(key) != KEY_BYTES:
        raise SealedFileError("the file key has the wrong length")
    sealer = Sealer(key)
    block_size = header.chunk_size + TAG_BYTES
    block = raw.read(block_size)
    index = 0
    while True:
        if len(block) < TAG_BYTES:
            raise SealedFileError(f"archive truncated at chunk {index}")
        following = raw.read(block_size) if len(block) == block_size else b""
        final = not following
        try:
            plain = sealer.open_at(_nonce(header.prefix, index), block,
                                   _aad(header.archive_id, index, final))
        except TamperedCiphertext:
            raise SealedFileError(f"chunk {index} of the archive failed authentication") from None
        yield plain
        if final:
            return
        block, index = following, index + 1
