"""Key-encryption keys (KEKs) and the root of the blind-index keys.

The KEK never touches the database: it wraps each member's data key. The default
provider reads a keyring from a JSON file or an environment variable; a KMS (AWS KMS,
Vault transit) can implement :class:`KeyEncryptionKeys` instead.

Keyring JSON::

    {"active": 2, "keks": {"1": "<base64 32 bytes>", "2": "..."},
     "index_key": "<base64 32 bytes>", "generated": false}
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import os
import secrets
import stat
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from identity.errors import KeyringError
from vaultkernel.clock import Clock, SystemClock
from vaultkernel.sealing import KEY_BYTES, Sealer

# How often a keyring read from a file looks for a rotation written by another process.
RECHECK = dt.timedelta(seconds=1)

log = logging.getLogger("membervault.keys")


class KeyEncryptionKeys(Protocol):
    """What the rest of the service needs from a KEK holder (file keyring or KMS)."""

    @property
    def active_version(self) -> int: ...

    def wrap(self, data_key: bytes, aad: bytes) -> tuple[int, bytes]: ...

    def unwrap(self, version: int, wrapped: bytes, aad: bytes) -> bytes: ...


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:
        raise KeyringError(f"{what} is not valid base64") from None
    if len(raw) != KEY_BYTES:
        raise KeyringError(f"{what} must be {KEY_BYTES} bytes")
    return raw


@dataclass
class Keyring:
    """A file/env keyring: versioned KEKs plus the blind-index root key."""

    keks: dict[int, bytes]
    active: int
    index_key: bytes
    generated: bool = False
    # When read from a file, a rotation written by another process (``keys rotate``) is
    # picked up without a restart: on an unknown version, and at most every second on wrap.
    path: Path | None = None
    clock: Clock = field(default_factory=SystemClock, repr=False, compare=False)
    _sealers: dict[int, Sealer] = field(default_factory=dict, repr=False)
    _checked_at: dt.datetime | None = field(default=None, repr=False)
    _mtime: int = field(default=0, repr=False)

    def __post_init__(self) -> None:
        if self.active not in self.keks:
            raise KeyringError(f"active KEK version {self.active} is not in the keyring")
        self._sealers = {v: Sealer(k) for v, k in self.keks.items()}
        if self.path is not None:
            self._mtime = self.path.stat().st_mtime_ns
            self._checked_at = self.clock.now()

    def _refresh(self, force: bool = False) -> None:
        if self.path is None:
            return
        now = self.clock.now()
        if not force and self._checked_at is not None and now - self._checked_at < RECHECK:
            return
        self._checked_at = now
        try:
            mtime = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            return
        if mtime == self._mtime:
            return
        fresh = Keyring.from_json(self.path.read_text(), str(self.path))
        if fresh.index_key != self.index_key:
            raise KeyringError(f"{self.path}: the index key changed; restart after a re-index")
        self.keks, self.active, self.generated = fresh.keks, fresh.active, fresh.generated
        self._sealers = {v: Sealer(k) for v, k in self.keks.items()}
        self._mtime = mtime

    def __repr__(self) -> str:  # never print key material
        return f"Keyring(active={self.active}, versions={sorted(self.keks)})"

    @property
    def versions(self) -> list[int]:
        return sorted(self.keks)

    def wrap(self, data_key: bytes, aad: bytes) -> tuple[int, bytes]:
        self._refresh()
        return self.active, self._sealers[self.active].seal(data_key, aad)

    def unwrap(self, version: int, wrapped: bytes, aad: bytes) -> bytes:
        sealer = self._sealers.get(version)
        if sealer is None:
            self._refresh(force=True)
            sealer = self._sealers.get(version)
        if sealer is None:
            raise KeyringError(f"KEK version {version} is not in the keyring (retired?)")
        return sealer.open(wrapped, aad, "wrapped data key")

    def with_new_version(self) -> Keyring:
        version = max(self.keks) + 1
        keks = dict(self.keks)
        keks[version] = secrets.token_bytes(KEY_BYTES)
        return Keyring(keks=keks, active=version, index_key=self.index_key,
                       generated=self.generated)

    def without_version(self, version: int) -> Keyring:
        if version == self.active:
            raise KeyringError("the active KEK version cannot be retired")
        if version not in self.keks:
            raise KeyringError(f"KEK version {version} is not in the keyring")
        keks = {v: k for v, k in self.keks.items() if v != version}
        return Keyring(keks=keks, active=self.active, index_key=self.index_key,
                       generated=self.generated)

    def derive(self, purpose: str) -> bytes:
        """A sub-key of the index root key for one purpose (blind index, secrets, codes)."""
        return _derive(self.index_key, purpose)

    def to_json(self) -> str:
        return json.dumps(
            {
                "active": self.active,
                "keks": {str(v): _b64(k) for v, k in sorted(self.keks.items())},
                "index_key": _b64(self.index_key),
                "generated": self.generated,
            },
            indent=2,
        )

    @property
    def active_version(self) -> int:
        self._refresh()
        return self.active

    @classmethod
    def from_json(cls, text: str, source: str, path: Path | None = None,
                  clock: Clock | None = None) -> Keyring:
        try:
            data = json.loads(text)
            keks = {int(v): _unb64(k, f"{source}: KEK {v}") for v, k in data["keks"].items()}
            return cls(
                keks=keks,
                active=int(data["active"]),
                index_key=_unb64(data["index_key"], f"{source}: index_key"),
                generated=bool(data.get("generated", False)),
                path=path,
                clock=clock or SystemClock(),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise KeyringError(f"{source} is not a valid keyring ({type(exc).__name__})") from None

    @classmethod
    def generate(cls, *, for_production: bool = False) -> Keyring:
        return cls(keks={1: secrets.token_bytes(KEY_BYTES)}, active=1,
                   index_key=secrets.token_bytes(KEY_BYTES), generated=not for_production)


@lru_cache(maxsize=64)
def _derive(root: bytes, purpose: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None,
                info=f"membervault:{purpose}".encode()).derive(root)


def save_keyring(keyring: Keyring, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # also when a leftover temporary file had another mode
    with os.fdopen(fd, "w") as handle:
        handle.write(keyring.to_json())
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def load_keyring(kek_json: str, kek_file: str, *, production: bool,
                 clock: Clock | None = None) -> Keyring:
    """Load the keyring; in development a missing file is generated, in production never."""
    if kek_json:
        keyring = Keyring.from_json(kek_json, "MEMBERVAULT_KEK_JSON")
    else:
        path = Path(kek_file)
        if path.is_file():
            _check_private(path, production=production)
            keyring = Keyring.from_json(path.read_text(), str(path), path, clock)
        elif production:
            raise KeyringError(f"no keyring at {path}: production refuses to generate one")
        else:
            keyring = Keyring.generate()
            save_keyring(keyring, path)
    if production and keyring.generated:
        raise KeyringError("the keyring was generated for development; production refuses it")
    return keyring


def _check_private(path: Path, *, production: bool) -> None:
    """Only the keyring file's owner may have access to it: production refuses a file that
    group or others may read or write; development warns, in one line."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if not mode & 0o077:
        return
    problem = (f"keyring file {path} is accessible by group or others (mode {mode:04o}); "
               f"make it private: chmod 600 {path}")
    if production:
        raise KeyringError(f"{problem} (production refuses it)")
    log.warning(problem)
