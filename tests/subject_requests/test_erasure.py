"""Erasure (design rule 5, GDPR Art. 17 and 19): crypto-shredding, propagation,
acknowledgements, the signed certificate, idempotence and crash-safety."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from joserfc import jws
from joserfc.jwk import KeySet
from sqlalchemy import select
from starlette.testclient import TestClient

from audit.models import AuditEvent
from consent.models import Consent, ConsentRecord
from export.models import ExportArchive
from identity.models import PERSONAL_FIELDS, Member, SignInCode, SuppressedEmail
from identity.suppression import address_hash, is_suppressed
from membervault.services import Services
from outbox.models import Delivery, OutboxEvent
from outbox.secrets import open_member_number
from outbox.tracking import acknowledge
from retention import shredding
from subject_requests import erasure
from subject_requests.erasure import (
    LEASE,
    WHY,
    complete_acknowledged,
    erase_pending,
    erase_request,
    erasure_certificate,
    pending_acknowledgements,
)
from tests.audit.support import logged
from tests.conftest import Api, register
from tests.consent.support import grant, signed_in, withdraw
from tests.retention.support import (
    CERTIFICATE,
    LIFT,
    MEMBER_DATA,
    PENDING,
    PLACE,
    count,
    fail_once_at,
    officer,
    open_erasure,
    request_of,
    subscribed_client,
)
from vaultkernel.clock import utcnow
from vaultkernel.settings import Settings

ACK = """mutation($id: ID!) { acknowledgeEvent(eventId: $id) {
  acknowledgement { eventId } errors { code } } }"""


def erase(services: Services, now: dt.datetime) -> int:
    """A worker's erasure pass, with the service's own dependencies."""
    return erase_pending(services.db, services.erasure_kit, now=now)


def erasure_event(services: Services, request_id: uuid.UUID) -> OutboxEvent:
    with services.db.unit_of_work() as uow:
        events = uow.session.scalars(select(OutboxEvent).where(
            OutboxEvent.request_id == request_id, OutboxEvent.type == "member.erased")).all()
        assert len(events) == 1, events
        return events[0]


def member_row(services: Services, member_id: str) -> Member:
    with services.db.unit_of_work() as uow:
        member = uow.session.get(Member, uuid.UUID(member_id))
        assert member is not None
        return member


def published_keys(http: TestClient) -> KeySet:
    return KeySet.import_key_set(http.get("/.well-known/jwks.json").json())


def me_code(api: Api) -> str | None:
    result = api.graphql("{ me { id } }")
    if "errors" not in result:
        return None
    return str(result["errors"][0]["extensions"]["code"])


# --------------------------------------------------------------------------------------
# The whole erasure


def test_erasure_shreds_the_member_notifies_recipients_and_completes_on_acknowledgement(
        http: TestClient, services: Services, settings: Settings, loyalty_api: Api,
        jane: dict[str, Any], jane_api: Api) -> None:
    loyalty = subscribed_client(http, services, "loyalty-engine", ("loyalty.membership",))
    email_tool = subscribed_client(http, services, "email-tool", ("marketing.email",))
    analytics = subscribed_client(http, services, "analytics", ("analytics.segmentation",))
    subscribed_client(http, services, "partner-brand", ("partners.sharing",))
    grant(jane_api, "marketing.email")
    withdraw(jane_api, "marketing.email")
    read = loyalty.graphql(MEMBER_DATA, {"purpose": "loyalty.membership",
                                         "number": jane["memberNumber"]})
    assert read["data"]["memberData"]["email"] == jane["email"]
    records_before = count(services, ConsentRecord,
                           ConsentRecord.member_id == uuid.UUID(jane["id"]))
    log_before = len(logged(services, member_id=uuid.UUID(jane["id"])))
    assert records_before == 2 and log_before >= 2
    assert count(services, SignInCode) >= 1

    request_id = open_erasure(services, jane["id"])
    assert erase(services, now=utcnow()) == 1

    # Crypto-shredding: no key, no ciphertext, no blind index; a tombstone remains.
    member = member_row(services, jane["id"])
    assert member.status == "erased" and member.erased_at is not None
    assert member.wrapped_key is None and member.kek_version is None
    assert all(getattr(member, f) is None for f in PERSONAL_FIELDS)
    assert (member.email_index, member.phone_index, member.member_number_index) == (None,) * 3
    # Proof kept; state, codes and personal look-ups gone.
    assert count(services, ConsentRecord, ConsentRecord.member_id == member.id) == records_before
    assert len(logged(services, member_id=member.id)) >= log_before
    assert count(services, Consent, Consent.member_id == member.id) == 0
    assert count(services, SignInCode) == 0
    # She withdrew marketing consent: the address is suppressed, as a keyed hash only.
    with services.db.unit_of_work() as uow:
        rows = uow.session.scalars(select(SuppressedEmail)).all()
        assert [(r.email_hash, r.reason) for r in rows] == [
            (address_hash(services.crypto, jane["email"]), "marketing_opt_out")]
        assert is_suppressed(uow.session, services.crypto, jane["email"].upper())
        assert not is_suppressed(uow.session, services.crypto, "someone.else@example.org")

    # Reads: a look-up by any key finds nobody; her own token finds an erased member.
    for purpose, key, reason in (
            ("loyalty.membership", {"number": jane["memberNumber"]}, "MEMBER_NOT_FOUND"),
            ("loyalty.membership", {"email": jane["email"]}, "MEMBER_NOT_FOUND")):
        data = loyalty.graphql(MEMBER_DATA, {"purpose": purpose, **key})["data"]["memberData"]
        assert data["email"] is None and data["givenName"] is None
        assert {d["reason"] for d in data["denied"]} == {reason}
    data = email_tool.graphql(MEMBER_DATA, {"purpose": "marketing.email",
                                            "email": jane["email"]})["data"]["memberData"]
    assert data["email"] is None
    assert {d["field"]: d["reason"] for d in data["denied"]} == {
        "memberNumber": "CATEGORY_NOT_IN_PURPOSE", "givenName": "CONSENT_REQUIRED",
        "familyName": "CONSENT_REQUIRED", "email": "CONSENT_REQUIRED"}
    assert me_code(jane_api) == "MEMBER_ERASED"

    # Propagation: every client whose purposes may have given it her data, and no other.
    state = request_of(services, request_id)
    assert state.state == "waiting_for_recipients" and state.lease_until is None
    event = erasure_event(services, request_id)
    assert event.facts["requestId"] == str(request_id)
    assert event.sealed_member_number is not None
    assert open_member_number(services.keyring, event.sealed_member_number) == \
        jane["memberNumber"]
    with services.db.unit_of_work() as uow:
        assert pending_acknowledgements(uow.session, request_id) == [
            "analytics", "email-tool", "loyalty-engine"]
    desk = officer(http, services)
    pending = desk.graphql(PENDING, {"id": str(request_id)})["data"]["pendingAcknowledgements"]
    assert [p["clientId"] for p in pending] == ["analytics", "email-tool", "loyalty-engine"]
    assert {p["deliveryState"] for p in pending} == {"PENDING"}

    # The request completes only when the last recipient has acknowledged.
    assert complete_acknowledged(services.db, now=utcnow()) == 0
    for api in (loyalty, email_tool):
        acked = api.graphql(ACK, {"id": str(event.id)})["data"]["acknowledgeEvent"]
        assert acked["errors"] == []
    assert complete_acknowledged(services.db, now=utcnow()) == 0
    assert request_of(services, request_id).state == "waiting_for_recipients"
    pending = desk.graphql(PENDING, {"id": str(request_id)})["data"]["pendingAcknowledgements"]
    assert [p["clientId"] for p in pending] == ["analytics"]
    assert analytics.graphql(ACK, {"id": str(event.id)})["data"]["acknowledgeEvent"][
        "errors"] == []
    assert complete_acknowledged(services.db, now=utcnow()) == 1
    assert complete_acknowledged(services.db, now=utcnow()) == 0
    assert request_of(services, request_id).state == "completed"
    assert erasure_event(services, request_id).sealed_member_number is None
    assert desk.graphql(PENDING, {"id": str(request_id)})["data"][
        "pendingAcknowledgements"] == []

    # The certificate, signed, verifiable with the published keys.
    answer = desk.graphql(CERTIFICATE, {"id": str(request_id)})
    assert "errors" not in answer, answer
    certificate = answer["data"]["erasureCertificate"]
    verified = jws.deserialize_compact(certificate["jws"], published_keys(http),
                                       algorithms=["ES256"])
    assert verified.protected["typ"] == "erasure-certificate+jws"
    document = orjson.loads(verified.payload)
    assert document == certificate["certificate"]
    assert document["requestId"] == str(request_id) and document["memberId"] == jane["id"]
    assert document["state"] == "completed" and document["completedAt"] is not None
    assert document["receivedAt"] and document["erasedAt"]
    destroyed = {d["item"]: d for d in document["destroyed"] if d["item"] != "attribute"}
    assert {"data_key", "blind_indexes", "sign_in_codes", "export_archives"} <= set(destroyed)
    assert set(destroyed["blind_indexes"]["indexes"]) == {"email", "phone", "member_number"}
    assert destroyed["sign_in_codes"]["count"] >= 1
    assert destroyed["mail"]["count"] >= 1  # her sign-in mail, cut out of the mailbox
    assert jane["email"] not in Path(settings.mailbox_file).read_text()
    attributes = {d["attribute"]: d["category"] for d in document["destroyed"]
                  if d["item"] == "attribute"}
    assert attributes["email"] == "contact.email"
    assert attributes["given_name"] == attributes["family_name"] == "identity.name"
    assert {"phone", "birthdate", "postal_address"} <= set(attributes)
    kept = {k["item"]: k for k in document["kept"]}
    assert kept["tombstone"]["why"] == WHY["tombstone"]
    assert kept["consent_records"]["why"] == "GDPR Art. 7(1): proof of consent"
    assert kept["consent_records"]["count"] == records_before
    assert kept["suppression_hash"]["why"] == \
        "keep the member's objection to marketing effective"
    assert "no personal values" in kept["access_log"]["why"]
    recipients = {r["clientId"]: r for r in document["recipients"]}
    assert set(recipients) == {"analytics", "email-tool", "loyalty-engine"}
    assert all(r["acknowledgedAt"] for r in recipients.values())
    # The same through the domain function.
    with services.db.unit_of_work() as uow:
        again, token = erasure_certificate(uow, services.policy, request_id,
                                           issuer=services.settings.issuer,
                                           signing_key=services.signing_keys.active)
    assert orjson.loads(jws.deserialize_compact(token, published_keys(http)).payload) == again


def test_the_certificate_lists_events_deliveries_and_hold_rows_as_kept(
        http: TestClient, services: Services, jane: dict[str, Any], jane_api: Api) -> None:
    """The audit found the certificate's "kept" list silent about the events, their
    deliveries and the legal holds, which all outlive the erasure."""
    subscribed_client(http, services, "email-tool", ("marketing.email",))
    desk = officer(http, services)
    grant(jane_api, "marketing.email")  # a consent.changed event, delivered to email-tool
    placed = desk.graphql(PLACE, {"m": jane["id"], "r": "fraud check 2026-17"})
    hold_id = placed["data"]["placeLegalHold"]["hold"]["id"]
    assert desk.graphql(LIFT, {"h": hold_id})["data"]["liftLegalHold"]["errors"] == []

    request_id = open_erasure(services, jane["id"])
    assert erase(services, now=utcnow()) == 1
    answer = desk.graphql(CERTIFICATE, {"id": str(request_id)})
    assert "errors" not in answer, answer
    kept = {k["item"]: k for k in answer["data"]["erasureCertificate"]["certificate"]["kept"]}
    member = uuid.UUID(jane["id"])
    events = count(services, OutboxEvent, OutboxEvent.member_id == member)
    assert events == 2  # consent.changed and member.erased
    assert kept["outbox_events"]["count"] == events
    assert kept["outbox_events"]["why"] == WHY["outbox_events"]
    assert kept["deliveries"]["count"] == count(services, Delivery) == 2
    assert kept["deliveries"]["why"] == WHY["deliveries"]
    assert kept["legal_holds"]["count"] == 1
    assert "never deleted" in kept["legal_holds"]["why"]
    with services.db.unit_of_work() as uow:
        record = uow.session.scalars(select(AuditEvent).where(
            AuditEvent.member_id == member, AuditEvent.action == "member.erased")).one()
    assert {"outbox_events", "deliveries", "legal_holds"} <= set(record.details["kept"])


def test_a_member_without_subscribed_recipients_is_completed_at_once(
        services: Services, jane: dict[str, Any], jane_api: Api) -> None:
    request_id = open_erasure(services, jane["id"])
    assert erase(services, now=utcnow()) == 1
    state = request_of(services, request_id)
    assert state.state == "completed" and state.closed_at is not None
    event = erasure_event(services, request_id)
    assert event.sealed_member_number is None  # nobody to deliver it to: never kept
    # Never withdrew marketing consent: nothing on the suppression list.
    assert count(services, SuppressedEmail) == 0


def test_the_suppression_hash_is_kept_only_when_marketing_consent_was_withdrawn(
        http: TestClient, services: Services, settings: Settings, loyalty_api: Api) -> None:
    people: dict[str, tuple[str, str]] = {}
    for n, (name, story) in enumerate([("granted", "grant"), ("never", ""),
                                       ("withdrew", "grant withdraw"),
                                       ("sms-withdrew", "grant-sms withdraw-sms"),
                                       ("regranted", "grant withdraw grant"),
                                       ("other", "grant-birthday withdraw-birthday")]):
        email = f"{name}@example.org"
        payload = register(loyalty_api, email=email, phone=f"0740044{n:04d}")
        assert payload["errors"] == [], payload
        api = signed_in(http, settings, email)
        for step in story.split():
            purpose = {"sms": "marketing.sms", "birthday": "rewards.birthday"}.get(
                step.partition("-")[2], "marketing.email")
            (grant if step.startswith("grant") else withdraw)(api, purpose)
        people[name] = (payload["member"]["id"], email)
    for member_id, _ in people.values():
        open_erasure(services, member_id)
    assert erase(services, now=utcnow()) == len(people)
    with services.db.unit_of_work() as uow:
        hashes = set(uow.session.scalars(select(SuppressedEmail.email_hash)))
    assert hashes == {address_hash(services.crypto, people[n][1])
                      for n in ("withdrew", "sms-withdrew")}


# --------------------------------------------------------------------------------------
# Legal holds


def test_an_expired_hold_no_longer_blocks_erasure(
        http: TestClient, services: Services, jane: dict[str, Any]) -> None:
    desk = officer(http, services)
    expiry = (utcnow() + dt.timedelta(hours=1)).isoformat()
    placed = desk.graphql(PLACE, {"m": jane["id"], "r": "tax audit 2026", "e": expiry})
    assert placed["data"]["placeLegalHold"]["errors"] == []
    request_id = open_erasure(services, jane["id"])
    assert erase(services, now=utcnow() + dt.timedelta(hours=2)) == 1
    assert request_of(services, request_id).state == "completed"


def test_the_certificate_exists_only_for_an_erased_member(
        http: TestClient, services: Services, jane: dict[str, Any]) -> None:
    desk = officer(http, services)
    request_id = open_erasure(services, jane["id"])
    early = desk.graphql(CERTIFICATE, {"id": str(request_id)})
    assert early["data"]["erasureCertificate"] is None
    assert [e["extensions"]["code"] for e in early["errors"]] == ["NOT_ERASED"]
    unknown = desk.graphql(CERTIFICATE, {"id": str(uuid.uuid4())})
    assert unknown == {"data": {"erasureCertificate": None}}
    assert desk.graphql(CERTIFICATE, {"id": "nonsense"}) == {"data": {"erasureCertificate": None}}


# --------------------------------------------------------------------------------------
# Export archives


def test_export_archives_are_deleted_rows_and_files(
        services: Services, settings: Settings, jane: dict[str, Any]) -> None:
    base = Path(settings.export_dir)
    base.mkdir(parents=True, exist_ok=True)
    files = [base / f"{uuid.uuid4()}.{uuid.uuid4()}.sealed" for _ in range(2)]
    with services.db.unit_of_work() as uow:
        for path in files:
            path.write_bytes(b"sealed archive bytes")
            request_id, archive_id = (uuid.UUID(p) for p in path.name.split(".")[:2])
            uow.session.add(ExportArchive(
                id=archive_id, request_id=request_id, member_id=uuid.UUID(jane["id"]),
                path=path.name, size=path.stat().st_size, token_hash=uuid.uuid4().bytes * 2,
                sealed_token=b"x", signature="sig", expires_at=utcnow() + dt.timedelta(days=7)))
        uow.commit()
    request_id = open_erasure(services, jane["id"])
    assert erase(services, now=utcnow()) == 1
    assert [p for p in files if p.exists()] == []
    assert count(services, ExportArchive) == 0
    with services.db.unit_of_work() as uow:
        document, _ = erasure_certificate(uow, services.policy, request_id,
                                          issuer=services.settings.issuer,
                                          signing_key=services.signing_keys.active)
    archives = next(d for d in document["destroyed"] if d["item"] == "export_archives")
    assert archives["count"] == 2


# --------------------------------------------------------------------------------------
# Idempotence and crash-safety


def erasure_outcome(services: Services, member_id: str) -> dict[str, int]:
    mid = uuid.UUID(member_id)
    return {
        "events": count(services, OutboxEvent, OutboxEvent.type == "member.erased",
                        OutboxEvent.member_id == mid),
        "deliveries": count(services, Delivery),
        "audits": count(services, AuditEvent, AuditEvent.action == "member.erased",
                        AuditEvent.member_id == mid),
        "suppressed": count(services, SuppressedEmail),
        "records": count(services, ConsentRecord, ConsentRecord.member_id == mid),
    }


def test_running_again_does_no_harm(http: TestClient, services: Services,
                                    jane: dict[str, Any], jane_api: Api) -> None:
    subscribed_client(http, services, "loyalty-engine", ("loyalty.membership",))
    grant(jane_api, "marketing.email")
    withdraw(jane_api, "marketing.email")
    request_id = open_erasure(services, jane["id"])
    assert erase(services, now=utcnow()) == 1
    once = erasure_outcome(services, jane["id"])
    assert once == {"events": 1, "deliveries": 1, "audits": 1,
                    "suppressed": 1, "records": 2}
    assert erase(services, now=utcnow()) == 0
    assert erase(services, now=utcnow() + 2 * LEASE) == 0
    with services.db.unit_of_work() as uow:
        assert erase_request(uow, services.erasure_kit, request_id, now=utcnow()) == "skipped"
    assert erasure_outcome(services, jane["id"]) == once
    assert request_of(services, request_id).state == "waiting_for_recipients"

    with services.db.unit_of_work() as uow:
        acknowledge(uow.session, "loyalty-engine", erasure_event(services, request_id).id,
                    now=utcnow())
        uow.commit()
    assert complete_acknowledged(services.db, now=utcnow()) == 1
    assert complete_acknowledged(services.db, now=utcnow()) == 0

    # Another erasure request for the erased member: nothing left to erase, no new event.
    second = open_erasure(services, jane["id"])
    assert erase(services, now=utcnow()) == 1
    assert erasure_outcome(services, jane["id"]) == once
    assert request_of(services, second).state == "completed"


# Steps of the one erasure (retention.shredding.erase_members), in the order it takes
# them: capturing the member number, the suppression hash, the evidence scrub, the event
# with its deliveries, and the archive files (last, just before the commit).
STEPS = ("seal_member_number", "address_hash", "scrub_evidence", "emit_many",
         "delete_archives_of")


@pytest.mark.parametrize("kind", ["exception", "kill"])
@pytest.mark.parametrize("step", STEPS)
def test_a_crash_before_the_commit_leaves_the_member_intact(
        monkeypatch: pytest.MonkeyPatch, http: TestClient, services: Services,
        jane: dict[str, Any], jane_api: Api, step: str, kind: str) -> None:
    """A step fails once (an exception the worker logs, or the process dying): nothing is
    changed; the next pass after the lease erases exactly once."""
    subscribed_client(http, services, "loyalty-engine", ("loyalty.membership",))
    grant(jane_api, "marketing.email")
    withdraw(jane_api, "marketing.email")
    failures = fail_once_at(monkeypatch, shredding, step, kind)
    before = erasure_outcome(services, jane["id"])
    codes_before = count(services, SignInCode)
    request_id = open_erasure(services, jane["id"])
    now = utcnow()
    if kind == "exception":
        assert erase(services, now=now) == 0
    else:
        with pytest.raises(SystemExit):
            erase(services, now=now)
    assert failures == [step]
    assert me_code(jane_api) is None
    assert member_row(services, jane["id"]).wrapped_key is not None
    assert erasure_outcome(services, jane["id"]) == before
    assert count(services, SignInCode) == codes_before
    assert request_of(services, request_id).state == "in_progress"

    assert erase(services, now=now + dt.timedelta(seconds=1)) == 0  # leased
    assert erase(services, now=now + LEASE + dt.timedelta(seconds=1)) == 1
    after = erasure_outcome(services, jane["id"])
    assert after["events"] == after["audits"] == after["suppressed"] == 1
    assert me_code(jane_api) == "MEMBER_ERASED"
    assert request_of(services, request_id).state == "waiting_for_recipients"


def test_a_crash_after_the_commit_leaves_only_the_state_to_finish(
        monkeypatch: pytest.MonkeyPatch, http: TestClient, services: Services,
        jane: dict[str, Any]) -> None:
    def die(*args: Any) -> None:
        raise SystemExit(1)

    monkeypatch.setattr(erasure, "checkpoint_wal", die)
    request_id = open_erasure(services, jane["id"])
    with pytest.raises(SystemExit):
        erase(services, now=utcnow())
    monkeypatch.undo()
    assert request_of(services, request_id).state == "completed"
    assert erase(services, now=utcnow() + 2 * LEASE) == 0
    assert erasure_outcome(services, jane["id"])["events"] == 1


def test_two_workers_at_once_erase_once(services: Services, jane: dict[str, Any]) -> None:
    request_id = open_erasure(services, jane["id"])
    results: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def work() -> None:
        try:
            start.wait()
            results.append(erase(services, now=utcnow()))
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(results) == [0, 1]
    assert erasure_outcome(services, jane["id"])["events"] == 1
    assert request_of(services, request_id).state == "completed"


def test_the_worker_pass_erases_and_completes(services: Services, jane: dict[str, Any],
                                              jane_api: Api) -> None:
    from membervault.worker import run_once

    request_id = open_erasure(services, jane["id"])
    done = run_once(services)
    assert done["erasures"] == 1
    assert request_of(services, request_id).state == "completed"
    assert me_code(jane_api) == "MEMBER_ERASED"
    assert run_once(services)["erasures"] == 0
