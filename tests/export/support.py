"""Helpers of the export archive tests: an access request, its archive, the link, the
files, the published schema."""

from __future__ import annotations

import datetime as dt
import io
import json
import uuid
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
from sqlalchemy import select

from export import archive
from export.models import ExportArchive
from membervault.services import Services
from subject_requests import access, lifecycle
from subject_requests.models import DataSubjectRequest
from vaultkernel.clock import utcnow

ROOT = Path(__file__).resolve().parents[2]


def open_access_request(services: Services, member_id: str | uuid.UUID,
                        now: dt.datetime | None = None) -> uuid.UUID:
    member = uuid.UUID(str(member_id))
    with services.db.unit_of_work() as uow:
        request = lifecycle.receive(uow.session, member, "access", jurisdiction="GDPR",
                                    actor=f"member:{member}",
                                    identity_verification="signed in",
                                    now=now or utcnow())
        uow.commit()
        return request.id


def archives_of(services: Services, request_id: uuid.UUID) -> list[ExportArchive]:
    with services.db.unit_of_work() as uow:
        return list(uow.session.scalars(select(ExportArchive)
                                        .where(ExportArchive.request_id == request_id)))


def the_archive(services: Services, request_id: uuid.UUID) -> ExportArchive:
    found = archives_of(services, request_id)
    assert len(found) == 1
    return found[0]


def the_request(services: Services, request_id: uuid.UUID) -> DataSubjectRequest:
    with services.db.unit_of_work() as uow:
        request = uow.session.get(DataSubjectRequest, request_id)
        assert request is not None
        return request


def download_url(services: Services, row: ExportArchive,
                 now: dt.datetime | None = None) -> str | None:
    with services.db.unit_of_work() as uow:
        return archive.download_url(uow.session, services.exports, row, now=now)


def read_archive(services: Services, row: ExportArchive) -> bytes:
    with services.db.unit_of_work() as uow:
        return b"".join(archive.read_archive(uow.session, services.exports, row))


def purge_expired(services: Services, now: dt.datetime) -> int:
    return archive.purge_expired(services.db, services.exports, now=now)


def link_path(services: Services, row: ExportArchive) -> str:
    url = download_url(services, row)
    assert url is not None and url.startswith(services.settings.issuer + "/exports/")
    return url[len(services.settings.issuer):]


def get(http: Any, path: str, token: str | None) -> Any:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return http.get(path, headers=headers)


def export_files(services: Services) -> list[Path]:
    directory = Path(services.settings.export_dir)
    return sorted(directory.iterdir()) if directory.exists() else []


def entries_of(body: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        assert zf.testzip() is None
        return {name: zf.read(name) for name in zf.namelist()}


def published_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((ROOT / "docs" / "export-schema.json").read_text())
    return schema


def validate(document: Any) -> None:
    validator = jsonschema.Draft202012Validator(
        published_schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]


def build(services: Services, now: dt.datetime | None = None) -> int:
    return access.build_pending_exports(services.db, services.exports, now=now or utcnow())
