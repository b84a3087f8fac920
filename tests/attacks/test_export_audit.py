"""Issue 11, item 6, replayed as the auditor did it, end to end through the running service
and its worker: a client reads the member through the API, another is only sent the
member number by webhook, an officer places a legal hold, the member asks for their data
and downloads the archive; the archive answers GDPR Art. 15(1)(c), (d) and 15(2). The
archive's every field in-process: tests/export/test_art15_disclosure.py."""

from __future__ import annotations

import csv
import io
import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.attacks.conftest import Enrol, SignIn
from tests.attacks.server import Server
from tests.conftest import Api
from tests.consent.support import MEMBER_DATA, grant
from tests.export.support import entries_of, validate
from tests.outbox.support import Clock, Receiver, running_receiver
from vaultkernel.records_kept import KEPT_RECORDS

HOLD_REASON = "tax audit 2026: till receipts (attack replay)"
PLACE = """mutation($m: ID!, $r: String!) { placeLegalHold(memberId: $m, reason: $r) {
  hold { id } errors { field code } } }"""
OPEN = """mutation { openMyRequest(input: {type: ACCESS}) { request { id state }
  errors { code } } }"""
MY_REQUESTS = "{ myRequests { items { id type state exportDownload { url expiresAt } } } }"
WEBHOOK_ONLY = "store-counter"  # registered for marketing.email; never reads the member


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with running_receiver(Clock()) as rx:
        yield rx


@pytest.fixture(scope="module")
def exported(server: Server, receiver: Receiver, enrol: Enrol, member_api: SignIn,
             loyalty: Api, officer: Api) -> dict[str, Any]:
    registered = server.cli("client", "webhook", WEBHOOK_ONLY, "--url",
                            receiver.url_for(WEBHOOK_ONLY))
    assert registered.returncode == 0, registered.stderr
    receiver.secrets[WEBHOOK_ONLY] = registered.stdout.strip()
    member = enrol("nia")
    me = member_api(member["email"])
    grant(me, "marketing.email")
    read = loyalty.graphql(MEMBER_DATA, {"purpose": "loyalty.membership",
                                         "number": member["memberNumber"]})
    assert read["data"]["memberData"]["email"] == member["email"]
    placed = officer.graphql(PLACE, {"m": member["id"], "r": HOLD_REASON})
    assert placed["data"]["placeLegalHold"]["errors"] == []
    server.worker_once()  # delivers the webhook
    assert [r.body["type"] for r in receiver.unique().values()] == ["consent.changed"]
    assert me.graphql(OPEN)["data"]["openMyRequest"]["errors"] == []
    server.worker_once()  # builds the archive
    [request] = [r for r in me.graphql(MY_REQUESTS)["data"]["myRequests"]["items"]
                 if r["type"] == "ACCESS"]
    assert request["state"] == "COMPLETED", request
    url = request["exportDownload"]["url"]
    assert url.startswith(f"{server.base}/exports/")
    download = me.http.get(url, headers={"authorization": f"Bearer {me.token}"})
    assert download.status_code == 200, download.text
    assert download.headers["cache-control"] == "no-store"
    files = entries_of(download.content)
    return {"files": files, "document": json.loads(files["member.json"]),
            "secret": receiver.secrets[WEBHOOK_ONLY], "member": member, "link": url}


def rows(files: dict[str, bytes], name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(files[name].decode())))


def test_webhook_events_and_legal_holds_are_in_the_archive(exported: dict[str, Any]) -> None:
    document, files = exported["document"], exported["files"]
    validate(document)
    [event] = [e for e in document["events"] if e["type"] == "consent.changed"]
    [delivery] = event["deliveries"]
    assert (delivery["clientId"], delivery["state"]) == (WEBHOOK_ONLY, "delivered")
    [hold] = document["legalHolds"]
    assert hold["reason"] == HOLD_REASON and hold["active"] is True
    assert [r["reason"] for r in rows(files, "legal_holds.csv")] == [HOLD_REASON]
    for name, body in files.items():
        assert exported["secret"].encode() not in body, name


def test_recipients_are_given_in_all_and_per_purpose(exported: dict[str, Any]) -> None:
    document = exported["document"]
    recipients = {r["clientId"]: r for r in document["recipients"]}
    assert recipients[WEBHOOK_ONLY]["via"] == ["webhook"]
    assert recipients[WEBHOOK_ONLY]["purposes"] == ["marketing.email"]
    assert recipients["loyalty-engine"]["via"] == ["api"]
    by_purpose = {p["purpose"]: [r["clientId"] for r in p["recipients"]]
                  for p in document["recipientsByPurpose"]}
    assert WEBHOOK_ONLY in by_purpose["marketing.email"]
    assert "loyalty-engine" in by_purpose["loyalty.membership"]


def test_retention_transfers_and_spelling_are_complete(exported: dict[str, Any]) -> None:
    document, files = exported["document"], exported["files"]
    retention = {r["record"]: r["retention"] for r in document["retention"]}
    assert list(retention) == [r.key for r in KEPT_RECORDS]
    assert all(retention.values())
    assert set(document["transfers"]) == {"summary", "transfers"}
    assert document["transfers"]["summary"]
    assert "## Transfers outside the EEA (Art. 15(2))" in files["summary.md"].decode()
    profile = {r["field"]: r["value"] for r in rows(files, "profile.csv")}
    assert list(profile) == list(document["member"]["profile"])
    assert "postalCode" in profile["postalAddress"] and "postal_code" not in profile[
        "postalAddress"]


def test_the_download_link_never_reaches_the_log(server: Server,
                                                 exported: dict[str, Any]) -> None:
    token = exported["link"].rsplit("/", 1)[1]
    server.wait_for_record(lambda r: (r.get("path"), r.get("status")) == (
        "/exports/[token]", 200))
    assert token not in server.log()


def test_the_archive_on_disk_is_private_and_sealed(server: Server,
                                                  exported: dict[str, Any]) -> None:
    directory = Path(server.env["MEMBERVAULT_EXPORT_DIR"])
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    archives = [p for p in directory.rglob("*") if p.is_file()]
    assert archives
    email = exported["member"]["email"].encode()
    for path in archives:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        assert email not in path.read_bytes(), path
