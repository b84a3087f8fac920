"""Export archives (GDPR Art. 15 and 20): built by the worker, stored sealed, signed,
downloaded through an unguessable expiring link, purged when they expire.

Building the archive of one access request (the request's part, claiming and completing
it, is :func:`subject_requests.access.export_request`):

1. The worker claims the request with a lease (:data:`LEASE`).
2. Leftover files of an earlier, interrupted attempt for the request are removed
   (:func:`reusable_archive`).
3. The ZIP (see :mod:`export.package`) is written straight into a :class:`SealedWriter`
   over ``<request id>.<archive id>.partial`` in :attr:`Exports.directory`: the plaintext
   never reaches the disk (:func:`build_archive`). The file key is random per archive and
   is stored in the file's header wrapped by the member's data key, so erasing the member
   shreds the archive.
4. The file is fsynced and renamed to ``<request id>.<archive id>.sealed``.
5. One transaction inserts the :class:`ExportArchive` row (signature, link token hash,
   sealed token, expiry; :func:`store_archive`) and moves the request to ``completed``.

A crash before step 5 commits leaves no row: the next pass (after the lease) deletes the
leftovers and builds again from scratch. After step 5 there is nothing left to do. A row
found for a request that is still open (not something this module leaves behind, but
cheap to honour) just completes the request.

Dependencies are explicit: the job :func:`purge_expired` and :func:`open_download` take
the :class:`~vaultkernel.database.Database` (one short transaction per step, none held
open while a file is written or checked); the building steps and reads take the caller's
``Session``; everything else an archive needs is one :class:`Exports`, built once by the
composition root.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
import os
import re
import secrets
import uuid
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO
from zipfile import ZIP_DEFLATED, ZipFile

import orjson
from joserfc.jwk import ECKey
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from audit.access_log import ReaderLog
from audit.chain import Read
from consent import receipts
from export import package
from export.disclosure import iso
from export.models import ExportArchive
from export.sealed_files import (
    SealedFileError,
    SealedWriter,
    new_file_key,
    open_chunks,
    read_header,
)
from identity.encryption import MemberCipher, MemberCrypto
from identity.errors import IdentityError, KeyringError
from identity.members import open_member
from identity.models import Member
from identity.signed_documents import sign_document
from vaultkernel.clock import utcnow
from vaultkernel.database import Database
from vaultkernel.errors import DomainError
from vaultkernel.policy import Policy
from vaultkernel.private_files import create_new
from vaultkernel.sealing import TamperedCiphertext

log = logging.getLogger("membervault.export")

# How long one build may hold its access request; a file no row refers to is an orphan
# once it is older than this (no build can still be writing it).
LEASE = dt.timedelta(minutes=10)
# How a download of a member's export is named in the access log (not a policy purpose).
SUBJECT_ACCESS = "subject_access"
SIGNATURE_TYPE = "export-signature+jws"
TOKEN_FIELD = "export-token"  # noqa: S105  (an encryption context, not a secret)
FILE_KEY_FIELD = "export-file-key:"
SEALED, PARTIAL = ".sealed", ".partial"
FILE_NAME = re.compile(r"^(?P<request>[0-9a-f-]{36})\.(?P<archive>[0-9a-f-]{36})"
                       r"(?P<suffix>\.sealed|\.partial)$")
TOKEN = re.compile(r"^[A-Za-z0-9_-]{32,128}$")
PURGE_BATCH = 200


class ArchiveUnavailable(DomainError):
    """A live archive cannot be served: its file is missing, damaged or not the one signed.
    Never serve anything of it; the message names the problem, never content."""

    def __init__(self, message: str):
        super().__init__("ARCHIVE_UNAVAILABLE", message)


@dataclass(frozen=True)
class Exports:
    """What building, linking and serving export archives needs besides the database;
    built once by the composition root."""

    crypto: MemberCrypto  # members' data keys: file keys and link tokens are sealed under them
    signing_key: Callable[[], ECKey]  # the active signing key (manifests, consent receipts)
    policy: Policy  # what the archive discloses: purposes, categories, retention
    issuer: str  # the service's public URL: links and the manifest's ``iss``
    directory: Path  # where the sealed archives are kept
    link_ttl: dt.timedelta  # how long a download link lives


# --------------------------------------------------------------------------------------
# Files


def export_dir(exports: Exports) -> Path:
    directory = exports.directory
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    return directory


def _file(directory: Path, name: str) -> Path:
    if not FILE_NAME.match(name):
        raise ArchiveUnavailable("archive path is not an archive file name")
    return directory / name


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # not every file system syncs directories
    finally:
        os.close(fd)


def _leftovers(directory: Path, request_ids: Collection[uuid.UUID],
               keep: Collection[str] = ()) -> list[Path]:
    wanted = {str(r) for r in request_ids}
    found = []
    for path in directory.iterdir():
        match = FILE_NAME.match(path.name)
        if match and match["request"] in wanted and path.name not in keep:
            found.append(path)
    return found


def _remove(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def _create(path: Path) -> BinaryIO:
    return os.fdopen(create_new(path), "wb")


# --------------------------------------------------------------------------------------
# Keys, tokens and the signature


def _cipher(crypto: MemberCrypto, member: Member | None) -> MemberCipher | None:
    if (member is None or member.status == "erased" or member.wrapped_key is None
            or member.kek_version is None):
        return None
    return crypto.cipher(member.id, member.kek_version, member.wrapped_key)


def _wrap_file_key(cipher: MemberCipher, archive_id: uuid.UUID, key: bytes) -> bytes:
    return cipher.encrypt(FILE_KEY_FIELD + str(archive_id), base64.b64encode(key).decode())


def _unwrap_file_key(cipher: MemberCipher, archive_id: uuid.UUID, wrapped: bytes) -> bytes:
    return base64.b64decode(cipher.decrypt(FILE_KEY_FIELD + str(archive_id), wrapped))


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def sign_manifest(key: ECKey, manifest: dict[str, Any]) -> str:
    return sign_document(manifest, key, SIGNATURE_TYPE)


def signed_manifest(signature: str) -> dict[str, Any]:
    """The payload of a stored signature (our own, so not verified here)."""
    payload = signature.split(".")[1]
    data = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    if not isinstance(data, dict):
        raise ArchiveUnavailable("the stored signature has no manifest")
    return data


# --------------------------------------------------------------------------------------
# Building (for an access request, which ``subject_requests.access`` claims, and completes
# once the archive is stored)


@dataclass(frozen=True)
class Built:
    archive_id: uuid.UUID
    file_name: str
    size: int
    signature: str
    token_hash: bytes
    sealed_token: bytes


def reusable_archive(session: Session, exports: Exports,
                     request_id: uuid.UUID) -> ExportArchive | None:
    """The archive built earlier for the request whose file is intact, if any. Removes
    every other file of the request and, when none is intact, the rows of the request's
    stale archives (in the caller's transaction)."""
    directory = export_dir(exports)
    existing = session.scalars(select(ExportArchive)
                               .where(ExportArchive.request_id == request_id)).all()
    intact = next((a for a in existing if _file_intact(directory, a)), None)
    _remove(_leftovers(directory, {request_id}, {intact.path} if intact else set()))
    if intact is None:
        for stale in existing:
            session.delete(stale)
    return intact


def build_archive(session: Session, exports: Exports, request_id: uuid.UUID,
                  member_id: uuid.UUID, *, requests: package.RequestHistory,
                  holds: package.HoldHistory, now: dt.datetime) -> Built | None:
    """Write the member's archive for the request, sealed, into the export directory
    (reading in the caller's session, writing no row); ``None`` when the member was erased:
    no personal data is left to export. ``requests`` and ``holds`` are the member's
    requests and legal holds, which the archive lists."""
    member = session.get(Member, member_id)
    cipher = _cipher(exports.crypto, member)
    if member is None or cipher is None:
        return None
    return _build(exports, session, export_dir(exports), request_id, member, cipher,
                  requests, holds, now)


def _file_intact(directory: Path, archive: ExportArchive) -> bool:
    try:
        with _file(directory, archive.path).open("rb") as raw:
            return read_header(raw).archive_id == archive.id
    except (OSError, SealedFileError, ArchiveUnavailable):
        return False


def _build(exports: Exports, session: Session, directory: Path, request_id: uuid.UUID,
           member: Member, cipher: MemberCipher, requests: package.RequestHistory,
           holds: package.HoldHistory, now: dt.datetime) -> Built:
    archive_id = uuid.uuid4()
    profile = open_member(exports.crypto, member)
    signing_key = exports.signing_key()  # one key for the receipts and the manifest
    contents = package.collect(
        session, exports.policy, profile, member, cipher, requests=requests, holds=holds,
        archive_id=archive_id,
        issuer=exports.issuer, now=now,
        sign=lambda document: receipts.sign(document, signing_key))
    stem = f"{request_id}.{archive_id}"
    partial, final = directory / (stem + PARTIAL), directory / (stem + SEALED)
    file_key = new_file_key()
    try:
        with _create(partial) as raw:
            writer = SealedWriter(raw, archive_id, file_key,
                                  _wrap_file_key(cipher, archive_id, file_key))
            with ZipFile(writer, "w", compression=ZIP_DEFLATED) as zf:
                package.write_zip(zf, contents, lambda: package.access_log_pages(
                    session, member.id, contents.log_until))
            writer.close()
            os.fsync(raw.fileno())
        os.replace(partial, final)
        _fsync_dir(directory)
    except BaseException:
        partial.unlink(missing_ok=True)
        final.unlink(missing_ok=True)
        raise
    manifest = {"archiveId": str(archive_id), "memberId": str(member.id),
                "requestId": str(request_id), "sha256": writer.sha256, "size": writer.size,
                "createdAt": iso(now), "iss": exports.issuer}
    token = secrets.token_urlsafe(32)
    return Built(archive_id=archive_id, file_name=final.name, size=writer.size,
                 signature=sign_manifest(signing_key, manifest), token_hash=token_digest(token),
                 sealed_token=cipher.encrypt(TOKEN_FIELD, token))


def store_archive(session: Session, exports: Exports, built: Built, request_id: uuid.UUID,
                  member_id: uuid.UUID, *, now: dt.datetime) -> ExportArchive | None:
    """Add the row of a built archive to the caller's transaction, after locking the
    member's row; when the member was erased meanwhile, remove the file instead and
    return ``None``."""
    member = session.get(Member, member_id, with_for_update=True, populate_existing=True)
    if _cipher(exports.crypto, member) is None:
        discard(exports, built)
        return None
    row = ExportArchive(
        id=built.archive_id, request_id=request_id, member_id=member_id,
        path=built.file_name, size=built.size, token_hash=built.token_hash,
        sealed_token=built.sealed_token, signature=built.signature, created_at=now,
        expires_at=now + exports.link_ttl)
    session.add(row)
    return row


def discard(exports: Exports, built: Built) -> None:
    """Remove the file of a built archive that will not be stored."""
    (export_dir(exports) / built.file_name).unlink(missing_ok=True)


# --------------------------------------------------------------------------------------
# Links and downloads


def latest_archive(session: Session, request_id: uuid.UUID) -> ExportArchive | None:
    """The newest archive built for an access request, if any."""
    return session.scalars(select(ExportArchive).where(ExportArchive.request_id == request_id)
                           .order_by(ExportArchive.created_at.desc()).limit(1)).first()


def download_url(session: Session, exports: Exports, archive: ExportArchive,
                 now: dt.datetime | None = None) -> str | None:
    """The member's download link, or ``None`` once it expired or the member was erased
    (read in the caller's session). Opening the link also needs the member's own bearer
    token."""
    now = now or utcnow()
    if archive.expires_at <= now:
        return None
    cipher = _cipher(exports.crypto, session.get(Member, archive.member_id))
    if cipher is None:
        return None
    try:
        token = cipher.decrypt(TOKEN_FIELD, archive.sealed_token)
    except TamperedCiphertext:
        log.warning("sealed link token of archive %s failed authentication", archive.id)
        return None
    return f"{exports.issuer.rstrip('/')}/exports/{token}"


@dataclass(frozen=True)
class Download:
    archive_id: uuid.UUID
    member_id: uuid.UUID
    file_name: str
    size: int
    signature: str
    created_at: dt.datetime
    expires_at: dt.datetime

    @property
    def attachment_name(self) -> str:
        return f"membervault-export-{self.created_at.astimezone(dt.UTC):%Y%m%d-%H%M%S}.zip"


def find_download(session: Session, exports: Exports, token: str,
                  member_id: uuid.UUID | None, *, now: dt.datetime) -> Download | None:
    """The live archive behind ``token`` if it belongs to ``member_id`` (read in the
    caller's session); ``None`` for an unknown, expired, erased or someone else's archive
    alike."""
    if member_id is None or not TOKEN.match(token):
        return None
    row = session.scalars(select(ExportArchive)
                          .where(ExportArchive.token_hash == token_digest(token))).first()
    return _live_download(session, exports, row, member_id, now)


def find_request_download(session: Session, exports: Exports, request_id: uuid.UUID,
                          member_id: uuid.UUID, *, now: dt.datetime) -> Download | None:
    """The live archive of the member's access request ``request_id`` (the privacy
    centre's download, where the member's session stands in for the link's token);
    ``None`` for an unknown, expired, erased or someone else's archive alike."""
    return _live_download(session, exports, latest_archive(session, request_id), member_id,
                          now)


def _live_download(session: Session, exports: Exports, row: ExportArchive | None,
                   member_id: uuid.UUID, now: dt.datetime) -> Download | None:
    if row is None or row.member_id != member_id or row.expires_at <= now:
        return None
    if _cipher(exports.crypto, session.get(Member, row.member_id)) is None:
        return None
    return Download(archive_id=row.id, member_id=row.member_id, file_name=row.path,
                    size=row.size, signature=row.signature, created_at=row.created_at,
                    expires_at=row.expires_at)


def open_download(db: Database, exports: Exports, download: Download, *,
                  now: dt.datetime, log: ReaderLog) -> Iterator[bytes]:
    """Check the whole stored archive (every chunk authenticates, and the plaintext is
    the signed one), write the access log (purpose ``subject_access``, field
    ``export_archive``), record the first download, then return the plaintext as an iterator
    of chunks that authenticates each chunk again as it streams. Raises
    :class:`ArchiveUnavailable` before anything is returned when a check fails. Two short
    transactions (the member's key, then the download time); none is held open while the
    file is checked."""
    path = _file(export_dir(exports), download.file_name)
    with db.unit_of_work() as uow:
        cipher = _cipher(exports.crypto, uow.session.get(Member, download.member_id))
    if cipher is None:
        raise ArchiveUnavailable("the member's key is gone")
    try:
        key = _open_key(path, download.archive_id, cipher)
        digest, size = hashlib.sha256(), 0
        for chunk in _plaintext(path, key):
            digest.update(chunk)
            size += len(chunk)
        manifest = signed_manifest(download.signature)
    except (OSError, SealedFileError, IdentityError, KeyringError, TamperedCiphertext,
            ValueError, IndexError) as exc:
        raise ArchiveUnavailable(f"archive {download.archive_id} unreadable: "
                                 f"{type(exc).__name__}: {exc}") from None
    if manifest.get("sha256") != digest.hexdigest() or size != download.size:
        raise ArchiveUnavailable(f"archive {download.archive_id} is not the signed archive")
    log.record(SUBJECT_ACCESS, [Read(download.member_id, ["export_archive"])])
    with db.unit_of_work() as uow:
        uow.session.execute(update(ExportArchive)
                            .where(ExportArchive.id == download.archive_id,
                                   ExportArchive.downloaded_at.is_(None))
                            .values(downloaded_at=now))
        uow.commit()
    return _plaintext(path, key)


def _open_key(path: Path, archive_id: uuid.UUID, cipher: MemberCipher) -> bytes:
    with path.open("rb") as raw:
        header = read_header(raw)
    if header.archive_id != archive_id:
        raise SealedFileError("the file belongs to another archive")
    return _unwrap_file_key(cipher, archive_id, header.wrapped_key)


def _plaintext(path: Path, key: bytes) -> Iterator[bytes]:
    with path.open("rb") as raw:
        header = read_header(raw)
        yield from open_chunks(raw, header, key)


def read_archive(session: Session, exports: Exports,
                 archive: ExportArchive) -> Iterator[bytes]:
    """The plaintext ZIP of an archive, chunk by chunk, authenticated (for tools and
    tests); the member's key is read in the caller's session."""
    cipher = _cipher(exports.crypto, session.get(Member, archive.member_id))
    if cipher is None:
        raise ArchiveUnavailable("the member's key is gone")
    path = _file(export_dir(exports), archive.path)
    return _plaintext(path, _open_key(path, archive.id, cipher))


# --------------------------------------------------------------------------------------
# Expiry and erasure


def purge_expired(db: Database, exports: Exports, now: dt.datetime) -> int:
    """Delete the files and rows of archives whose link expired, one transaction per
    batch; returns how many. Also removes files no row refers to that are older than a
    lease (left by a crash)."""
    directory = export_dir(exports)
    purged = 0
    while True:
        with db.unit_of_work() as uow:
            rows = uow.session.scalars(select(ExportArchive)
                                       .where(ExportArchive.expires_at <= now)
                                       .order_by(ExportArchive.expires_at)
                                       .limit(PURGE_BATCH)).all()
            if not rows:
                break
            for row in rows:
                _delete_file(directory, row)
                uow.session.delete(row)
            uow.commit()
        purged += len(rows)
    if purged:
        log.info("purged %d expired export archive(s)", purged)
    _sweep_orphans(db, directory, now)
    return purged


def _delete_file(directory: Path, archive: ExportArchive) -> None:
    try:
        _file(directory, archive.path).unlink(missing_ok=True)
    except ArchiveUnavailable:
        log.warning("archive %s has an unexpected path; its row is removed", archive.id)


def _sweep_orphans(db: Database, directory: Path, now: dt.datetime) -> None:
    candidates: dict[uuid.UUID, Path] = {}
    for path in directory.iterdir():
        match = FILE_NAME.match(path.name)
        if match is None:
            continue
        try:
            modified = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
        except FileNotFoundError:
            continue
        if now - modified > LEASE:  # no build can still be writing it
            candidates[uuid.UUID(match["archive"])] = path
    if not candidates:
        return
    with db.unit_of_work() as uow:
        live = set(uow.session.scalars(select(ExportArchive.id)
                                       .where(ExportArchive.id.in_(list(candidates)))))
    orphans = [p for a, p in candidates.items() if a not in live]
    _remove(orphans)
    if orphans:
        log.info("removed %d export file(s) left by interrupted builds", len(orphans))


def delete_archives_of(session: Session, directory: Path, member_ids: Sequence[uuid.UUID],
                       request_ids: Collection[uuid.UUID]) -> int:
    """Delete every archive of these members, files and rows, inside the caller's
    transaction (erasure); also any leftover file of ``request_ids`` (the members' access
    requests, which the caller knows). Returns the number of archive rows deleted. Files go
    first: a committed erasure never leaves one behind (and they are unreadable without
    the member's key anyway)."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    rows = session.scalars(select(ExportArchive)
                           .where(ExportArchive.member_id.in_(member_ids))).all()
    for row in rows:
        _delete_file(directory, row)
        session.delete(row)
    leftovers = set(request_ids)
    leftovers.update(row.request_id for row in rows)
    if leftovers:
        _remove(_leftovers(directory, leftovers))
    session.flush()
    return len(rows)
