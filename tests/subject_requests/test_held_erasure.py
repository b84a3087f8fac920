"""An erasure request meeting a legal hold, replaying the audit: the hold denied the whole
erasure and marketing clients still read the member afterwards. Now what the hold does
not cover is erased, what it covers is kept with its processing restricted (no client
reads the member, the member cannot lift it), the member is told what happened, why, and
their remedies (GDPR Art. 12(4)) in the request's outcome, recipients learn of the
restriction, and the erasure is finished, without a new request, once the hold ends."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from audit.models import AuditEvent
from consent.evidence import open_evidence
from consent.models import ConsentRecord
from export.models import ExportArchive
from identity.members import open_member
from identity.models import Member, SuppressedEmail
from identity.suppression import address_hash
from membervault.services import Services
from retention.shredding import ErasureCause, erase_members
from subject_requests import access
from subject_requests.erasure import REMEDY, erase_pending
from tests.conftest import JANE, Api
from tests.consent.support import AUDIENCE, MEMBER_DATA, grant, withdraw
from tests.export.support import open_access_request
from tests.outbox.support import LOOPBACK, Clock, Receiver, drain, running_receiver, subscribe
from tests.retention.support import CERTIFICATE, LIFT, count, officer, open_erasure, request_of
from vaultkernel.clock import utcnow
from vaultkernel.settings import Settings

PLACE = """mutation($m: ID!, $r: String!, $e: DateTime, $c: [String!]) {
  placeLegalHold(memberId: $m, reason: $r, expiresAt: $e, categories: $c) {
    hold { id categories active } errors { field code } } }"""
MY_REQUESTS = "{ myRequests { items { id state outcome overdue transitions { toState reason } } } }"
LIFT_MINE = "mutation { liftMyRestriction { errors { code } } }"
REASON = "Litigation hold: claim 2026-0417 (legal department)"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The receiver listens on loopback, which webhooks may reach only when allowed."""
    return dataclasses.replace(settings, webhook_allowed_networks=LOOPBACK)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def receiver(clock: Clock) -> Any:
    with running_receiver(clock) as rx:
        yield rx


def erase(services: Services, now: dt.datetime | None = None) -> int:
    return erase_pending(services.db, services.erasure_kit, now=now or utcnow())


def member_row(services: Services, member_id: str) -> Member:
    with services.db.unit_of_work() as uow:
        member = uow.session.get(Member, uuid.UUID(member_id))
        assert member is not None
        return member


def place(desk: Api, member_id: str, categories: list[str] | None = None,
          expires: dt.datetime | None = None) -> str:
    placed = desk.graphql(PLACE, {"m": member_id, "r": REASON, "c": categories,
                                  "e": expires.isoformat() if expires else None})
    payload = placed["data"]["placeLegalHold"]
    assert payload["errors"] == [], payload
    assert payload["hold"]["categories"] == (sorted(categories) if categories else None)
    return str(payload["hold"]["id"])


def read(api: Api, purpose: str, number: str) -> dict[str, Any]:
    result = api.graphql(MEMBER_DATA, {"purpose": purpose, "number": number})
    assert "errors" not in result, result
    data: dict[str, Any] = result["data"]["memberData"]
    return data


def test_a_hold_on_all_data_restricts_everything_tells_the_member_and_ends_in_erasure(
        http: TestClient, services: Services, settings: Settings, jane: dict[str, Any],
        jane_api: Api, marketing_api: Api, loyalty_api: Api, receiver: Receiver,
        clock: Clock) -> None:
    subscribe(services, "email-marketing", receiver)
    grant(jane_api, "marketing.email")
    assert read(marketing_api, "marketing.email", jane["memberNumber"])["email"] == jane["email"]
    open_access_request(services, jane["id"])
    assert access.build_pending_exports(services.db, services.exports, now=utcnow()) == 1
    desk = officer(http, services)
    hold_id = place(desk, jane["id"])

    request_id = open_erasure(services, jane["id"])
    assert erase(services) == 1
    request = request_of(services, request_id)
    assert request.state == "held" and request.closed_at is None

    # Nothing of her profile goes (the hold covers it all), copies do, all is restricted.
    row = member_row(services, jane["id"])
    assert row.status == "active" and row.wrapped_key is not None
    assert row.restricted_at is not None and row.erasure_held_at is not None
    assert open_member(services.crypto, row).email == jane["email"]
    assert count(services, ExportArchive) == 0
    # Marketing clients (any client) no longer read her, one by one or in bulk.
    denied = read(marketing_api, "marketing.email", jane["memberNumber"])
    assert denied["email"] is None
    reasons = {d["field"]: d["reason"] for d in denied["denied"]}
    assert reasons["email"] == reasons["givenName"] == "PROCESSING_RESTRICTED"
    assert read(loyalty_api, "loyalty.membership", jane["memberNumber"])["email"] is None
    bulk = marketing_api.graphql(AUDIENCE, {"purpose": "marketing.email", "first": 10})
    assert bulk["data"]["audience"]["items"] == []
    # She cannot lift the restriction while the erasure waits for the hold.
    lifted = jane_api.graphql(LIFT_MINE)["data"]["liftMyRestriction"]
    assert lifted["errors"] == [{"code": "ERASURE_HELD"}]

    # She is told what was done, why the rest is kept, and her remedies (Art. 12(4)).
    [mine] = [r for r in jane_api.graphql(MY_REQUESTS)["data"]["myRequests"]["items"]
              if r["id"] == str(request_id)]
    assert mine["state"] == "HELD" and mine["overdue"] is False
    outcome = mine["outcome"]
    assert REASON in outcome and REMEDY in outcome
    assert "supervisory authority" in outcome and "judicial remedy" in outcome
    assert "Kept because of a legal hold" in outcome and "restricted" in outcome
    assert mine["transitions"][-1] == {"toState": "HELD", "reason": outcome}
    # Never overdue while held, however long the hold lasts.
    with services.db.unit_of_work() as uow:
        held = uow.session.get_one(type(request), request_id)
        held.due_at = utcnow() - dt.timedelta(days=1)
        uow.commit()
    assert [r["overdue"] for r in jane_api.graphql(MY_REQUESTS)["data"]["myRequests"]["items"]
            if r["id"] == str(request_id)] == [False]

    # Recipients learn of the restriction (Art. 19); the audit trail records the hold.
    drain(services, clock)
    [told] = [r.body for r in receiver.unique().values() if r.body["type"] == "member.restricted"]
    assert told["data"]["memberNumber"] == jane["memberNumber"]
    assert told["data"]["erasureHeld"] is True and told["data"]["erasedFields"] == []
    with services.db.unit_of_work() as uow:
        actions = [e.action for e in uow.session.scalars(select(AuditEvent).where(
            AuditEvent.member_id == uuid.UUID(jane["id"])).order_by(AuditEvent.id))]
    assert actions[-2:] == ["member.erasure_held", "erasure.held"]

    # A worker pass while the hold lasts changes nothing; once lifted, the same request
    # erases her.
    assert erase(services) == 0
    assert desk.graphql(LIFT, {"h": hold_id})["data"]["liftLegalHold"]["errors"] == []
    assert erase(services) == 1
    finished = request_of(services, request_id)
    assert finished.state == "waiting_for_recipients"
    assert member_row(services, jane["id"]).status == "erased"


def test_a_hold_on_some_categories_erases_the_rest(
        http: TestClient, services: Services, settings: Settings, jane: dict[str, Any],
        jane_api: Api, marketing_api: Api, receiver: Receiver, clock: Clock) -> None:
    subscribe(services, "email-marketing", receiver)
    grant(jane_api, "marketing.email")
    withdraw(jane_api, "marketing.email")  # an opt-out: her address goes on the list
    agent = "HeldErasureProbe/1"
    jane_api.graphql("""mutation { grantConsent(purpose: "rewards.birthday",
      noticeVersion: 1) { errors { code } } }""", **{"user-agent": agent})
    desk = officer(http, services)
    kept = ["identity.name", "contact.address"]
    place(desk, jane["id"], kept, expires=utcnow() + dt.timedelta(days=400))

    request_id = open_erasure(services, jane["id"])
    assert erase(services) == 1
    row = member_row(services, jane["id"])
    # What the hold keeps stays, readable with her key; the rest and its indexes go.
    profile = open_member(services.crypto, row)
    assert (profile.given_name, profile.family_name) == (JANE["givenName"], JANE["familyName"])
    assert profile.postal_address is not None
    for gone in ("member_number", "email", "phone", "birthdate", "preferred_language",
                 "preferences"):
        assert getattr(row, gone) is None, gone
    assert (row.email_index, row.phone_index, row.member_number_index) == (None,) * 3
    # The consent evidence is kept under her key (proof, like everything the hold keeps).
    with services.db.unit_of_work() as uow:
        records = list(uow.session.scalars(select(ConsentRecord).where(
            ConsentRecord.member_id == row.id).order_by(ConsentRecord.id)))
        assert row.kek_version is not None and row.wrapped_key is not None
        cipher = services.crypto.cipher(row.id, row.kek_version, row.wrapped_key)
        assert open_evidence(cipher, records[-1]).user_agent == agent
        # Her email went: the opt-out is kept as a suppression hash, her mail purged.
        assert uow.session.get(SuppressedEmail, address_hash(services.crypto, JANE["email"]))
    assert jane["email"] not in Path(settings.mailbox_file).read_text()

    outcome = request_of(services, request_id).details["outcome"]
    assert outcome.startswith("Erased: member number, email address, phone number, date of "
                              "birth, preferred language, preferences, your data exports.")
    assert "Kept because of a legal hold" in outcome and ": name, postal address." in outcome
    assert "(due to end on" in outcome and REMEDY in outcome

    # Recipients still learn whom it concerns: the number went, so it is sealed in the event.
    drain(services, clock)
    [told] = [r.body for r in receiver.unique().values() if r.body["type"] == "member.restricted"]
    assert told["data"]["memberNumber"] == jane["memberNumber"]
    assert told["data"]["erasedFields"] == ["memberNumber", "email", "phone", "birthdate",
                                            "preferredLanguage", "preferences"]

    # The hold expires: the same request finishes the erasure, and its certificate lists
    # what went at either step.
    later = utcnow() + dt.timedelta(days=401)
    assert erase(services, now=later) == 1
    assert member_row(services, jane["id"]).status == "erased"
    answer = desk.graphql(CERTIFICATE, {"id": str(request_id)})
    assert "errors" not in answer, answer
    destroyed = answer["data"]["erasureCertificate"]["certificate"]["destroyed"]
    attributes = {d["attribute"] for d in destroyed if d["item"] == "attribute"}
    assert {"email", "phone", "given_name", "postal_address", "member_number"} <= attributes
    [indexes] = [d["indexes"] for d in destroyed if d["item"] == "blind_indexes"]
    assert set(indexes) == {"email", "phone", "member_number"}


def test_the_retention_sweep_still_leaves_a_held_member_alone(
        http: TestClient, services: Services, jane: dict[str, Any]) -> None:
    place(officer(http, services), jane["id"], ["contact.email"])
    with services.db.unit_of_work() as uow:
        assert erase_members(uow.session, services.erasure_kit, [uuid.UUID(jane["id"])],
                             now=utcnow(), cause=ErasureCause.rule("inactive_members")) == []
        uow.commit()
    row = member_row(services, jane["id"])
    assert row.email is not None and row.phone is not None and row.restricted_at is None


def test_a_hold_names_only_categories_of_the_policy(
        http: TestClient, services: Services, jane: dict[str, Any]) -> None:
    placed = officer(http, services).graphql(PLACE, {"m": jane["id"], "r": REASON,
                                                     "c": ["contact.fax"]})
    assert placed["data"]["placeLegalHold"]["errors"] == [
        {"field": "categories", "code": "UNKNOWN_CATEGORY"}]
