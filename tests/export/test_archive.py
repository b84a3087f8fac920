"""Export archives end to end: a member asks for their data, the worker builds the archive,
the member downloads it with their own token, the signature and schema check out, and the
archive is sealed at rest, resumable after a crash, expiring, and bounded in memory."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import tracemalloc
import uuid
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest
from joserfc import jws
from joserfc.jwk import KeySet
from sqlalchemy import select, update

from audit.chain import Read
from consent import ledger
from export import archive, package
from export.models import ExportArchive
from identity.models import Member
from membervault.services import Services
from subject_requests import access, lifecycle
from tests.audit.support import seed
from tests.conftest import JANE, Api, register
from tests.consent.support import MEMBER_DATA, grant, signed_in, withdraw
from tests.export.support import (
    ROOT,
    archives_of,
    build,
    download_url,
    entries_of,
    export_files,
    get,
    link_path,
    open_access_request,
    published_schema,
    purge_expired,
    read_archive,
    the_archive,
    the_request,
    validate,
)
from vaultkernel.clock import utcnow

ENTRIES = {"member.json", "member.schema.json", "profile.csv", "consents.csv",
           "access_log.csv", "events.csv", "legal_holds.csv", "requests.csv",
           "request_transitions.csv", "summary.md"}


@pytest.fixture
def jane_export(services: Services, http: Any, jane: dict[str, Any], jane_api: Api,
                loyalty_api: Api) -> dict[str, Any]:
    """Jane, with consents given and withdrawn and a read by the loyalty engine, asks for
    her data; the worker builds it."""
    grant(jane_api, "marketing.email")
    grant(jane_api, "rewards.birthday")
    withdraw(jane_api, "marketing.email")
    read = loyalty_api.graphql(MEMBER_DATA, {"purpose": "loyalty.membership",
                                             "number": jane["memberNumber"]})
    assert read["data"]["memberData"]["email"] == JANE["email"]
    request_id = open_access_request(services, jane["id"])
    assert build(services) == 1
    return {"request_id": request_id, "row": the_archive(services, request_id)}


# --------------------------------------------------------------------------------------
# The whole path


def test_the_member_downloads_a_complete_signed_archive(
        services: Services, http: Any, jane: dict[str, Any], jane_api: Api,
        jane_export: dict[str, Any]) -> None:
    request = the_request(services, jane_export["request_id"])
    assert request.state == "completed" and request.lease_until is None
    steps = [(t.from_state, t.to_state, t.actor) for t in _transitions(services, request.id)]
    assert steps[-1] == ("in_progress", "completed", access.ACTOR)

    row: ExportArchive = jane_export["row"]
    path = link_path(services, row)
    response = get(http, path, jane_api.token)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    body = response.content
    assert len(body) == row.size

    # The signature: a compact JWS verifiable with the JWKS the app publishes, over the
    # SHA-256 of exactly the bytes downloaded.
    signature = get(http, path + "/signature", jane_api.token)
    assert signature.status_code == 200
    assert signature.headers["cache-control"] == "no-store"
    keys = KeySet.import_key_set(http.get("/.well-known/jwks.json").json())
    verified = jws.deserialize_compact(signature.text, keys, algorithms=["ES256"])
    assert verified.headers()["typ"] == "export-signature+jws"
    assert verified.headers()["kid"] == services.signing_keys.active().kid
    manifest = json.loads(verified.payload)
    assert manifest["sha256"] == hashlib.sha256(body).hexdigest()
    assert manifest["archiveId"] == str(row.id) and manifest["memberId"] == jane["id"]
    assert manifest["size"] == len(body) and manifest["createdAt"].endswith("Z")

    files = entries_of(body)
    assert set(files) == ENTRIES
    assert files["member.schema.json"] == (ROOT / "docs" / "export-schema.json").read_bytes()
    document = json.loads(files["member.json"])
    validate(document)
    assert document["archiveId"] == str(row.id)

    # Every personal value, decrypted.
    profile = document["member"]["profile"]
    assert profile == {
        "memberNumber": jane["memberNumber"], "givenName": JANE["givenName"],
        "familyName": JANE["familyName"], "email": JANE["email"], "phone": "+447911123456",
        "birthdate": JANE["birthdate"],
        "postalAddress": {"lines": ["12 Rosewood Lane"], "locality": "Bristol",
                          "postalCode": "BS1 4DJ", "country": "GB"},
        "preferredLanguage": JANE["preferredLanguage"], "preferences": JANE["preferences"]}
    sources = {a["field"]: a["source"] for a in document["attributes"]}
    assert sources["email"]["kind"] == "client"
    assert sources["email"]["name"] == "loyalty-engine"  # the name in the clients table
    assert sources["email"]["event"] == "member.registered"
    assert sources["memberNumber"]["kind"] == "service"

    # Every consent record, each with a receipt whose signature verifies.
    with services.db.unit_of_work() as uow:
        history = ledger.history(uow.session, uuid.UUID(jane["id"]))
    records = document["consents"]["records"]
    assert [r["receiptId"] for r in records] == [str(r.receipt_id) for r in history]
    assert [r["event"] for r in records] == ["given", "given", "withdrawn"]
    for record in records:
        signed = jws.deserialize_compact(record["receiptJws"], keys, algorithms=["ES256"])
        assert json.loads(signed.payload) == record["receipt"]
    current = {c["purpose"]: c["granted"] for c in document["consents"]["current"]}
    assert current == {"marketing.email": False, "rewards.birthday": True}

    # The access log (who read what, for which purpose) and the recipients it implies.
    log = document["accessLog"]
    assert document["accessLogCount"] == len(log) >= 1
    reads = [e for e in log if e["principal"] == "client:loyalty-engine"
             and e["purpose"] == "loyalty.membership"]
    assert reads and "email" in reads[-1]["fieldsReturned"]
    assert [e["sequence"] for e in log] == sorted(e["sequence"] for e in log)
    recipients = {r["clientId"]: r for r in document["recipients"]}
    assert recipients["loyalty-engine"]["name"] == "loyalty-engine"
    assert "loyalty.membership" in recipients["loyalty-engine"]["purposes"]

    # Open and past requests with their transitions.
    [dsr] = document["requests"]
    assert dsr["id"] == str(request.id) and dsr["type"] == "access"
    assert [t["toState"] for t in dsr["transitions"]] == ["received", "in_progress"]

    # The CSV files carry the same records.
    profile_csv = list(csv.DictReader(io.StringIO(files["profile.csv"].decode())))
    assert {r["field"]: r["value"] for r in profile_csv}["email"] == JANE["email"]
    consents_csv = list(csv.DictReader(io.StringIO(files["consents.csv"].decode())))
    assert [r["receipt_id"] for r in consents_csv] == [r["receiptId"] for r in records]
    log_csv = list(csv.DictReader(io.StringIO(files["access_log.csv"].decode())))
    assert [int(r["sequence"]) for r in log_csv] == [e["sequence"] for e in log]
    requests_csv = list(csv.DictReader(io.StringIO(files["requests.csv"].decode())))
    assert [r["id"] for r in requests_csv] == [str(request.id)]
    transitions_csv = list(csv.DictReader(
        io.StringIO(files["request_transitions.csv"].decode())))
    assert [r["to_state"] for r in transitions_csv] == ["received", "in_progress"]

    # The Art. 15(1) summary.
    summary = files["summary.md"].decode()
    for heading in ("legal basis", "how long we keep them", "Who received your data",
                    "Where your data came from", "Your rights", "Automated decisions"):
        assert heading in summary
    assert "Offers by email" in summary and "36 months after your last activity" in summary
    assert "deleted 30 days after you withdraw consent to birthday rewards" in summary
    assert "| loyalty-engine (`loyalty-engine`) |" in summary
    for right in ("Access", "Rectification", "Erasure", "Restriction", "Portability",
                  "Objection", "Withdraw consent", "Complain"):
        assert f"**{right}**" in summary

    # The first download is recorded.
    assert the_archive(services, request.id).downloaded_at is not None


def _transitions(services: Services, request_id: uuid.UUID) -> list[Any]:
    with services.db.unit_of_work() as uow:
        return lifecycle.transitions(uow.session, request_id)


def test_the_published_schema_is_the_one_in_the_package() -> None:
    published = (ROOT / "docs" / "export-schema.json").read_bytes()
    assert published == (ROOT / "export" / "member_schema.json").read_bytes()
    assert published == package.member_schema_bytes()
    jsonschema.Draft202012Validator.check_schema(published_schema())
    assert published_schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_the_archive_is_sealed_at_rest(services: Services, jane: dict[str, Any],
                                       jane_export: dict[str, Any]) -> None:
    [stored] = export_files(services)
    assert stored.name == jane_export["row"].path and stored.suffix == ".sealed"
    assert stored.stat().st_mode & 0o077 == 0
    raw = stored.read_bytes()
    for value in (JANE["email"], JANE["givenName"], JANE["familyName"], "+447911123456",
                  "Rosewood", jane["memberNumber"]):
        assert value.encode() not in raw
        assert value.encode("utf-16-le") not in raw
    assert b"PK\x03\x04" not in raw  # no ZIP structure either: all of it is ciphertext
    assert b"member.json" not in raw


def test_a_damaged_archive_fails_loudly_instead_of_serving_corrupt_data(
        services: Services, http: Any, jane_api: Api, jane_export: dict[str, Any]) -> None:
    row: ExportArchive = jane_export["row"]
    path = link_path(services, row)
    [stored] = export_files(services)
    raw = bytearray(stored.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    stored.write_bytes(bytes(raw))

    response = get(http, path, jane_api.token)
    assert response.status_code == 500
    assert response.json()["error"] == "archive_unavailable"
    assert b"PK" not in response.content
    with pytest.raises(archive.SealedFileError):
        read_archive(services, row)

    stored.write_bytes(bytes(raw[:-100]))  # truncated
    assert get(http, path, jane_api.token).status_code == 500
    stored.unlink()
    assert get(http, path, jane_api.token).status_code == 500
    assert the_archive(services, row.request_id).downloaded_at is None


# --------------------------------------------------------------------------------------
# Only the member, only until expiry


def test_only_the_archives_own_member_can_download(
        services: Services, http: Any, settings: Any, loyalty_api: Api, jane_api: Api,
        jane_export: dict[str, Any]) -> None:
    path = link_path(services, jane_export["row"])
    other = register(loyalty_api, email="otto@example.org", phone="07400550123",
                     givenName="Otto")
    assert other["errors"] == []
    otto_api = signed_in(http, settings, "otto@example.org")

    unknown = get(http, "/exports/" + "A" * 43, jane_api.token)
    assert unknown.status_code == 404
    for token in (otto_api.token, loyalty_api.token):
        for suffix in ("", "/signature"):
            response = get(http, path + suffix, token)
            assert response.status_code == 404
            assert response.json() == unknown.json()
    for suffix in ("", "/signature"):
        assert get(http, path + suffix, None).status_code == 401
        assert get(http, path + suffix, "not-a-token").status_code == 401
    assert the_archive(services, jane_export["request_id"]).downloaded_at is None
    assert get(http, path, jane_api.token).status_code == 200


def test_the_link_stops_working_after_expiry_and_the_archive_is_purged(
        services: Services, http: Any, jane_api: Api, jane_export: dict[str, Any]) -> None:
    row: ExportArchive = jane_export["row"]
    path = link_path(services, row)
    ttl = dt.timedelta(seconds=services.settings.export_link_ttl)
    assert row.expires_at - row.created_at == ttl
    assert download_url(services, row, now=row.expires_at) is None

    # Before the expiry nothing is purged.
    assert purge_expired(services, now=row.expires_at - dt.timedelta(seconds=1)) == 0
    assert get(http, path, jane_api.token).status_code == 200

    with services.db.unit_of_work() as uow:
        uow.session.execute(update(ExportArchive).where(ExportArchive.id == row.id)
                            .values(expires_at=utcnow() - dt.timedelta(seconds=1)))
        uow.commit()
    for suffix in ("", "/signature"):
        assert get(http, path + suffix, jane_api.token).status_code == 404
    assert download_url(services, the_archive(services, row.request_id)) is None

    assert purge_expired(services, now=utcnow()) == 1
    assert archives_of(services, row.request_id) == []
    assert export_files(services) == []
    assert purge_expired(services, now=utcnow() + ttl) == 0
    assert get(http, path, jane_api.token).status_code == 404


def test_purging_at_a_later_time_removes_what_expired_by_then(
        services: Services, jane_export: dict[str, Any]) -> None:
    row: ExportArchive = jane_export["row"]
    assert purge_expired(services, now=row.expires_at + dt.timedelta(days=1)) == 1
    assert export_files(services) == []


def test_erasure_deletes_archives_and_an_erased_member_has_no_link(
        services: Services, http: Any, jane: dict[str, Any], jane_api: Api,
        jane_export: dict[str, Any]) -> None:
    row: ExportArchive = jane_export["row"]
    path = link_path(services, row)
    with services.db.unit_of_work() as uow:
        member = uow.session.get(Member, uuid.UUID(jane["id"]))
        assert member is not None
        member.wrapped_key = None  # as erasure does: the data key is gone
        member.status = "erased"
        uow.commit()
    assert download_url(services, row) is None
    assert get(http, path, jane_api.token).status_code in (401, 404)
    with services.db.unit_of_work() as uow:
        members = [uuid.UUID(jane["id"])]
        assert archive.delete_archives_of(uow.session, Path(services.settings.export_dir),
                                          members, access.requests_of(uow.session, members)) == 1
        uow.commit()
    assert archives_of(services, row.request_id) == []
    assert export_files(services) == []


# --------------------------------------------------------------------------------------
# Memory stays bounded


def peak_of_build(services: Services, member_id: str) -> int:
    request_id = open_access_request(services, member_id)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        start, _ = tracemalloc.get_traced_memory()
        assert build(services) == 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert the_request(services, request_id).state == "completed"
    return peak - start


def test_memory_is_bounded_for_a_long_access_log(
        services: Services, http: Any, settings: Any, loyalty_api: Api,
        jane: dict[str, Any]) -> None:
    n = 20_000
    members = {}
    for name, phone in (("quiet", "07400550201"), ("busy", "07400550202")):
        payload = register(loyalty_api, email=f"{name}@example.org", phone=phone)
        assert payload["errors"] == []
        members[name] = payload["member"]["id"]
    busy = uuid.UUID(members["busy"])
    seed(services, "client:loyalty-engine", "loyalty.membership",
         [Read(busy, ["email", "given_name", "family_name", "member_number"],
               {"birthdate": "CATEGORY_NOT_IN_PURPOSE"})], n, "bulk")

    peak_of_build(services, jane["id"])  # warm up: imports, keys, caches
    empty = peak_of_build(services, members["quiet"])
    full = peak_of_build(services, members["busy"])
    assert full - empty < 20 * 1024 * 1024, (empty, full)

    with services.db.unit_of_work() as uow:
        row = uow.session.scalars(select(ExportArchive)
                                  .where(ExportArchive.member_id == busy)).one()
    body = read_archive(services, row)
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        document = orjson.loads(zf.read("member.json"))
        log_rows = zf.read("access_log.csv").decode().count("\n") - 1
    assert len(document["accessLog"]) >= n and log_rows == len(document["accessLog"])


def test_the_worker_builds_exports_and_the_link_token_is_never_logged(
        services: Services, http: Any, jane: dict[str, Any], jane_api: Api,
        caplog: pytest.LogCaptureFixture) -> None:
    from membervault.worker import run_once

    request_id = open_access_request(services, jane["id"])
    assert run_once(services)["exports"] == 1
    path = link_path(services, the_archive(services, request_id))
    token = path.rsplit("/", 1)[1]
    with caplog.at_level("INFO"):
        assert get(http, path, jane_api.token).status_code == 200
        assert get(http, path + "/signature", jane_api.token).status_code == 200
        assert get(http, path, None).status_code == 401
    ours = "\n".join(r.getMessage() for r in caplog.records
                     if r.name.startswith("membervault"))  # not the test client's own log
    assert "/exports/[token]" in ours
    assert token not in ours
    assert JANE["email"] not in ours
