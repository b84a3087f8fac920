"""After erasure, no personal value of the member can be recovered (design rule 5).

A member with distinctive values is registered, corrected, signed in, consents, is read by
clients, exported and then erased; every recipient acknowledges. The test then reads every
byte of the SQLite database, its -wal and -shm files (while the service still holds its
connections, as a running server does, and again after the engine is disposed), every
file under the export directory, and everything logged (at DEBUG) or printed, and looks
for:

- each personal value in the forms it was given and stored (case-insensitive);
- the member's key material and ciphertexts as they were stored: the wrapped data key,
  every attribute ciphertext and blind index, and the sealed member number of the erasure
  event (with the KEK, a wrapped key left in a WAL frame or a free page would open every
  ciphertext left beside it; a blind index would confirm a guessed address).

and the development mailbox file too: erasure cuts the member's messages out of it. Not
scanned: the keyring file (holds no member data), and anything outside the service's
files (file-system blocks freed by SQLite or by rewriting the mailbox, backups; see
docs/erasure.md).
"""

from __future__ import annotations

import base64
import logging
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url
from starlette.testclient import TestClient

from export.models import ExportArchive
from identity.models import PERSONAL_FIELDS, Member
from membervault.services import Services
from subject_requests.access import build_pending_exports
from subject_requests.erasure import complete_acknowledged, erase_pending
from subject_requests.lifecycle import receive
from tests.conftest import BACKEND, Api, member_token, register
from tests.consent.support import grant, withdraw
from tests.retention.support import (
    MEMBER_DATA,
    acknowledge_erasure_event,
    open_erasure,
    request_of,
    subscribed_client,
)
from vaultkernel.clock import utcnow
from vaultkernel.settings import Settings

pytestmark = pytest.mark.skipif(
    BACKEND != "sqlite", reason="scans SQLite's database files; PostgreSQL keeps its data "
    "files on the server, out of the test's reach")

PERSON: dict[str, Any] = {
    "givenName": "Zephyrine",
    "familyName": "Quillfeather-Oyelaran",
    "email": "Zephyrine.Quillfeather@Example.org",
    "phone": "07412 583927",
    "birthdate": "1983-09-17",
    "postalAddress": {"lines": ["47 Larkspur Crescent", "Flat Nine"], "locality": "Harrogate",
                      "region": "North Yorkshire", "postalCode": "HG1 2XY", "country": "GB"},
    "preferredLanguage": "cy-GB",
    "preferences": {"topics": ["xyloglyphy-lapidary"]},
}
OLD_ADDRESS = {"lines": ["9 Obsolete Quarrymans Walk"], "locality": "Knaresborough",
               "postalCode": "HG5 8QQ", "country": "GB"}
TEXT_NEEDLES = [
    "Zephyrine", "Quillfeather-Oyelaran", "Quillfeather", "Oyelaran",
    "zephyrine.quillfeather@example.org",
    "+447412583927", "07412583927", "07412 583927", "7412583927",
    "1983-09-17", "19830917",
    "47 Larkspur Crescent", "Larkspur", "Flat Nine", "Harrogate", "HG1 2XY", "HG12XY",
    "xyloglyphy-lapidary",
    # the address before a correction: its ciphertext was overwritten, not only the newest
    "9 Obsolete Quarrymans Walk", "Quarrymans", "Knaresborough", "HG5 8QQ",
]


def key_material(services: Services, member_id: uuid.UUID) -> dict[str, bytes]:
    with services.db.unit_of_work() as uow:
        member = uow.session.get(Member, member_id)
        assert member is not None and member.wrapped_key is not None
        found = {"wrapped_key": member.wrapped_key}
        for name in (*PERSONAL_FIELDS, "email_index", "phone_index", "member_number_index"):
            value = getattr(member, name)
            if value is not None:
                found[name] = value
        return found


def byte_forms(value: bytes) -> list[bytes]:
    """How stored bytes could show up: raw, hex, base64, or as Python prints them."""
    return [value, value.hex().encode(), base64.b64encode(value),
            base64.urlsafe_b64encode(value).rstrip(b"="), repr(value)[2:-1].encode()]


def files_of(db_path: Path, export_dir: Path, mailbox: Path) -> dict[str, bytes]:
    found = {}
    if mailbox.exists():
        found["mailbox"] = mailbox.read_bytes()
    for suffix in ("", "-wal", "-shm", "-journal"):
        path = Path(f"{db_path}{suffix}")
        if path.exists():
            found[path.name] = path.read_bytes()
    if export_dir.exists():
        for path in sorted(export_dir.rglob("*")):
            if path.is_file():
                found[f"exports/{path.relative_to(export_dir)}"] = path.read_bytes()
    return found


def leftovers(haystacks: dict[str, bytes], text: list[str],
              binary: dict[str, bytes]) -> list[str]:
    found = []
    for where, data in haystacks.items():
        lowered = data.lower()
        found += [f"{needle!r} in {where}" for needle in text
                  if needle.lower().encode() in lowered]
        found += [f"{name} in {where}" for name, value in binary.items()
                  if any(form in data for form in byte_forms(value))]
    return found


def test_nothing_of_an_erased_member_is_left_in_files_or_logs(
        http: TestClient, services: Services, settings: Settings, loyalty_api: Api,
        caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)
    loyalty = subscribed_client(http, services, "loyalty-engine", ("loyalty.membership",))
    marketing = subscribed_client(http, services, "email-tool", ("marketing.email",))
    partner = subscribed_client(http, services, "partner-brand", ("partners.sharing",))
    birthday = subscribed_client(http, services, "birthday-club", ("rewards.birthday",))

    payload = register(loyalty, **{**PERSON, "postalAddress": OLD_ADDRESS})
    assert payload["errors"] == [], payload
    member_id = uuid.UUID(payload["member"]["id"])
    number = payload["memberNumber"]
    member = Api(http, member_token(http, Path(settings.mailbox_file), PERSON["email"]))
    corrected = member.graphql(
        "mutation($a: PostalAddressInput!) { updateMyProfile(input: {postalAddress: $a}) {"
        " errors { code } } }", {"a": PERSON["postalAddress"]})
    assert corrected["data"]["updateMyProfile"]["errors"] == []
    for purpose in ("marketing.email", "partners.sharing", "rewards.birthday"):
        grant(member, purpose)
    withdraw(member, "marketing.email")
    assert "errors" not in member.graphql("{ me { email phone postalAddress { lines } } }")
    for api, purpose, key in ((loyalty, "loyalty.membership", {"number": number}),
                              (partner, "partners.sharing", {"email": PERSON["email"]}),
                              (birthday, "rewards.birthday", {"number": number}),
                              (marketing, "marketing.email", {"email": PERSON["email"]})):
        read = api.graphql(MEMBER_DATA, {"purpose": purpose, **key})
        assert "errors" not in read, read
    audience = partner.graphql("{ audience(purpose: \"partners.sharing\", first: 10) {"
                               " items { email givenName } } }")
    assert audience["data"]["audience"]["items"][0]["givenName"] == PERSON["givenName"]

    # A real export: its archive is in the export dir.
    export_dir = Path(settings.export_dir)
    with services.db.unit_of_work() as uow:
        receive(uow.session, member_id, "access", jurisdiction="GDPR",
                actor="member:test", identity_verification="signed in", now=utcnow())
        uow.commit()
    assert build_pending_exports(services.db, services.exports, now=utcnow()) == 1
    assert any(export_dir.iterdir())

    stored = key_material(services, member_id)
    text = [*TEXT_NEEDLES, number]
    db_path = Path(make_url(settings.database_url).database or "")
    mailbox = Path(settings.mailbox_file)
    # The search works: before the erasure it finds the stored key material (never a
    # plaintext value: those exist only encrypted).
    before = leftovers(files_of(db_path, export_dir, mailbox), text, stored)
    assert "wrapped_key in membervault.db-wal" in before, before
    # ... and the mailbox holds the member's sign-in mail: the only plaintext.
    plaintext = [found for found in before if found.startswith("'")]
    assert f"{PERSON['email'].lower()!r} in mailbox" in plaintext, before
    assert all(found.endswith(" in mailbox") for found in plaintext), before

    request_id = open_erasure(services, member_id)
    assert erase_pending(services.db, services.erasure_kit, now=utcnow()) == 1
    stored["sealed_member_number"] = acknowledge_erasure_event(services, request_id)
    with services.db.unit_of_work() as uow:
        assert uow.session.scalar(select(ExportArchive.id)) is None
    assert complete_acknowledged(services.db, now=utcnow()) == 1
    assert request_of(services, request_id).state == "completed"

    # 1. As a running server leaves them: connections open.
    live = files_of(db_path, export_dir, mailbox)
    assert db_path.name in live
    assert leftovers(live, text, stored) == []
    # 2. After the engine is disposed (SQLite checkpoints as the last connection closes).
    services.db.engine.dispose()
    assert leftovers(files_of(db_path, export_dir, mailbox), text, stored) == []
    # 3. Everything logged and printed.
    printed = capsys.readouterr()
    logs = {"captured log": caplog.text.encode(), "stdout": printed.out.encode(),
            "stderr": printed.err.encode()}
    assert caplog.records, "logging was not captured"
    assert leftovers(logs, text, stored) == []
    assert "Your sign-in code is" not in mailbox.read_text()  # the member's mail is gone
