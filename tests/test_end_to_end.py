"""What issue 2 must show, end to end through the HTTP app with real tokens."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from identity import members
from identity.key_rotation import rewrap_all
from identity.keyring import Keyring, save_keyring
from identity.models import Member
from membervault.services import build_services
from tests.conftest import BACKEND, JANE, Api, register
from vaultkernel.sealing import TamperedCiphertext

ME = "{ me { id memberNumber givenName familyName email phone birthdate preferredLanguage } }"
UPDATE_ME = """
mutation Update($input: UpdateProfileInput!) {
  updateMyProfile(input: $input) {
    member { givenName phone preferences }
    errors { field code message }
  }
}
"""
LOOKUP = "query($email: String) { member(email: $email, reason: \"support ticket 4711\") { id givenName } }"

PERSONAL_VALUES = ["Janelle", "Quasimodo-Varga", "janelle.qv@example.org", "7911123456",
                   "Rosewood", "1990-02-03"]


def test_client_registers_and_member_reads_and_updates_own_profile(
        jane: dict[str, Any], jane_api: Api) -> None:
    assert jane["email"] == "janelle.qv@example.org"
    assert jane["phone"] is None  # not covered by the registering client's purpose
    assert len(jane["memberNumber"]) == 12

    me = jane_api.graphql(ME)["data"]["me"]
    assert me["id"] == jane["id"]
    assert me["phone"] == "+447911123456"  # normalised to E.164
    assert me["familyName"] == "Quasimodo-Varga"

    result = jane_api.graphql(UPDATE_ME, {"input": {"givenName": "Jan", "phone": None}})
    assert result["data"]["updateMyProfile"] == {
        "member": {"givenName": "Jan", "phone": None, "preferences": {"topics": ["garden"]}},
        "errors": [],
    }
    assert jane_api.graphql(ME)["data"]["me"]["givenName"] == "Jan"


def test_rectification_is_audited_by_field_name_not_value(services: Any, jane: dict[str, Any],
                                                          jane_api: Api) -> None:
    from audit.models import AuditEvent

    jane_api.graphql(UPDATE_ME, {"input": {"givenName": "Jan", "familyName": "Quasimodo-Varga"}})
    with services.db.unit_of_work() as uow:
        events = uow.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "member.rectified")).all()
    assert len(events) == 1
    assert events[0].details == {"fields": ["given_name"]}  # family name was unchanged
    assert events[0].actor == f"member:{jane['id']}"
    assert "Jan" not in str(events[0].details)


def test_client_without_membership_purpose_cannot_register(marketing_api: Api) -> None:
    result = marketing_api.graphql(
        "mutation($input: RegisterMemberInput!) { registerMember(input: $input) { errors { code } } }",
        {"input": JANE})
    assert result["data"] is None
    assert result["errors"][0]["extensions"]["code"] == "PURPOSE_NOT_PERMITTED"


def test_member_cannot_read_another_member(loyalty_api: Api, jane_api: Api) -> None:
    other = register(loyalty_api, email="someone.else@example.org", phone="07400 123457")
    assert other["errors"] == []
    result = jane_api.graphql(LOOKUP, {"email": "someone.else@example.org"})
    assert result["data"]["member"] is None
    assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # and "me" is always the token's own member
    assert jane_api.graphql(ME)["data"]["me"]["email"] == "janelle.qv@example.org"


def test_admin_looks_members_up(admin_api: Api, jane: dict[str, Any]) -> None:
    found = admin_api.graphql(LOOKUP, {"email": "JANELLE.QV@example.org"})["data"]["member"]
    assert found["id"] == jane["id"]
    by_number = admin_api.graphql(
        "query($n: String) { member(memberNumber: $n, reason: \"support ticket 4711\") { id } }",
        {"n": jane["memberNumber"]})
    assert by_number["data"]["member"]["id"] == jane["id"]
    assert admin_api.graphql(LOOKUP, {"email": "nobody@example.org"})["data"]["member"] is None


def test_duplicate_email_and_phone_are_clear_errors(loyalty_api: Api,
                                                    jane: dict[str, Any]) -> None:
    again = register(loyalty_api, email="Janelle.QV@EXAMPLE.org", phone="+44 7911 123456")
    assert again["member"] is None
    assert {e["code"] for e in again["errors"]} == {"DUPLICATE_EMAIL", "DUPLICATE_PHONE"}


def test_invalid_inputs_are_reported_per_field_and_nothing_is_written(
        loyalty_api: Api, services: Any) -> None:
    payload = register(loyalty_api, email="not-an-email", phone="12", birthdate="2999-01-01",
                       preferredLanguage="english!!", givenName=" ")
    assert payload["member"] is None
    codes = {e["field"]: e["code"] for e in payload["errors"]}
    assert codes == {"email": "INVALID_EMAIL", "phone": "INVALID_PHONE",
                     "birthdate": "IMPLAUSIBLE_DATE", "preferredLanguage": "INVALID_LANGUAGE",
                     "givenName": "REQUIRED"}
    assert all("not-an-email" not in e["message"] for e in payload["errors"])
    with services.db.unit_of_work() as uow:
        assert uow.session.scalars(select(Member)).all() == []


def test_unknown_input_fields_are_rejected(loyalty_api: Api) -> None:
    result = loyalty_api.graphql(
        "mutation($input: RegisterMemberInput!) { registerMember(input: $input) { errors { code } } }",
        {"input": {**JANE, "ssn": "123"}})
    assert result["data"] is None
    assert "ssn" in result["errors"][0]["message"]


@pytest.mark.skipif(BACKEND != "sqlite", reason="scans the SQLite database file itself")
def test_raw_database_file_holds_no_personal_value(loyalty_api: Api, jane_api: Api,
                                                   services: Any, settings: Any) -> None:
    register(loyalty_api, email="second.person@example.org", phone="07400 123457",
             givenName="Bartholomew", familyName="Zellweger")
    jane_api.graphql(UPDATE_ME, {"input": {"givenName": "Janellique"}})
    services.db.engine.dispose()  # let SQLite checkpoint the WAL
    path = Path(settings.database_url.removeprefix("sqlite:///"))
    raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    assert raw, "the database file was not found"
    for value in [*PERSONAL_VALUES, "Janellique", "second.person", "Bartholomew", "Zellweger",
                  "7400123457", "447911"]:
        assert value.encode() not in raw, f"a personal value is stored in clear: {value[:3]}…"
        assert value.encode("utf-16-le") not in raw


def test_logs_hold_no_personal_value(caplog: pytest.LogCaptureFixture,
                                     capsys: pytest.CaptureFixture[str], loyalty_api: Api,
                                     admin_api: Api, http: Any, settings: Any) -> None:
    caplog.set_level(logging.DEBUG)
    payload = register(loyalty_api)
    register(loyalty_api)  # a duplicate: error paths log too
    register(loyalty_api, email="bad@@example.org")
    from tests.conftest import member_token

    api = Api(http, member_token(http, Path(settings.mailbox_file), JANE["email"]))
    api.graphql(ME)
    api.graphql(UPDATE_ME, {"input": {"familyName": "Quasimodo-Vargas", "email": "nope"}})
    admin_api.graphql(LOOKUP, {"email": JANE["email"]})
    http.post("/auth/member/token", json={"email": JANE["email"], "code": "000000"})
    http.post("/auth/member/code", json={"email": "unregistered.person@example.org"})
    api.graphql("{ me { nosuchfield } }")
    assert payload["member"]["id"]
    captured = capsys.readouterr()
    text = caplog.text + captured.out + captured.err
    assert "POST /graphql" in caplog.text  # the capture works
    for value in [*PERSONAL_VALUES, "unregistered.person", "Quasimodo-Vargas", "bad@@"]:
        assert value not in text, f"a personal value reached the logs: {value[:3]}…"


def test_rotation_keeps_every_member_readable_and_old_kek_can_be_retired(
        services: Any, loyalty_api: Api, settings: Any) -> None:
    for n in range(5):
        register(loyalty_api, email=f"m{n}@example.org", phone=f"0740012345{n}")
    rotated = services.keyring.with_new_version()
    save_keyring(rotated, Path(settings.kek_file))
    assert rewrap_all(services.db, rotated) == 5 + 1  # five data keys and the signing key

    fresh = build_services(settings)  # a new process: only the new keyring file
    retired = Keyring.from_json(Path(settings.kek_file).read_text(), "test").without_version(1)
    save_keyring(retired, Path(settings.kek_file))
    after = build_services(settings)
    try:
        with after.db.unit_of_work() as uow:
            rows = uow.session.scalars(select(Member)).all()
            assert {r.kek_version for r in rows} == {2}
            emails = {members.open_member(after.crypto, r).email for r in rows}
        assert emails == {f"m{n}@example.org" for n in range(5)}
    finally:
        fresh.close()
        after.close()


def test_tampered_ciphertext_fails_loudly(services: Any, jane: dict[str, Any]) -> None:
    with services.db.unit_of_work() as uow:
        row = uow.session.scalars(select(Member)).one()
        flipped = bytearray(row.email or b"")
        flipped[-1] ^= 0x01
        uow.session.execute(update(Member).where(Member.id == row.id).values(email=bytes(flipped)))
        uow.commit()
    with services.db.unit_of_work() as uow, pytest.raises(TamperedCiphertext):
        members.open_member(services.crypto, uow.session.scalars(select(Member)).one())


def test_ciphertext_moved_between_members_does_not_decrypt(services: Any, loyalty_api: Api,
                                                           jane: dict[str, Any]) -> None:
    register(loyalty_api, email="other@example.org", phone="07400 123457")
    with services.db.unit_of_work() as uow:
        first, second = uow.session.scalars(select(Member)).all()
        second.email = first.email
        uow.commit()
    with services.db.unit_of_work() as uow, pytest.raises(TamperedCiphertext):
        for row in uow.session.scalars(select(Member)).all():
            members.open_member(services.crypto, row)


def test_tampered_ciphertext_in_a_request_is_a_masked_error(services: Any, jane: dict[str, Any],
                                                            jane_api: Api) -> None:
    with services.db.unit_of_work() as uow:
        row = uow.session.scalars(select(Member)).one()
        row.given_name = (row.given_name or b"")[:-1] + b"\x00"
        uow.commit()
    result = jane_api.graphql(ME)
    assert result["data"] is None
    error = result["errors"][0]
    assert error["extensions"]["code"] == "INTERNAL_ERROR"
    assert error["extensions"]["requestId"] in error["message"]
