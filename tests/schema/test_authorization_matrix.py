"""The authorization matrix (design rules 1 and 9), proved through the real HTTP app.

Every root field of the schema is run, with a small valid document, by every kind of
principal, each holding a real token (clients and staff from ``/oauth/token``, the member
from the one-time-code sign-in). The expected outcome of each pair is derived from the
field's own :class:`schema.access.Allow` permission (its roles, and its fixed purpose or the
argument in which a client declares one), so the matrix checks the rules the schema
declares against what the app really does; it never restates the rules by hand.

A second matrix reads one fully filled-in member for every purpose of the default policy,
attribute by attribute, and checks each value is returned exactly when the attribute's
category belongs to the purpose. A third check proves a member only ever sees themselves.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import graphql
import pytest
from graphql import GraphQLObjectType
from sqlalchemy import select
from starlette.testclient import TestClient
from strawberry.permission import PermissionExtension
from strawberry.utils.str_converters import to_camel_case

from membervault.services import Services, load_member_policy
from outbox.models import Delivery
from outbox.writer import emit
from retention.holds import place as place_hold
from schema import access
from schema.access import PRINCIPAL_ROLE, Allow
from schema.schema import build_schema
from subject_requests.erasure import erase_request
from subject_requests.lifecycle import receive
from tests.conftest import Api, client_token, create_principal, member_token, register
from vaultkernel.clock import utcnow
from vaultkernel.policy import Policy
from vaultkernel.settings import Settings

GRAPHQL_SCHEMA = build_schema(Settings())._schema
POLICY: Policy = load_member_policy()
MEMBERSHIP = "loyalty.membership"
AUTH_CODES = {"UNAUTHENTICATED", "FORBIDDEN", "PURPOSE_NOT_PERMITTED"}

# The member every matrix reads: every attribute filled in.
MEMBER: dict[str, Any] = {
    "givenName": "Matrix",
    "familyName": "Member-Example",
    "email": "matrix.member@example.org",
    "phone": "07400 123456",
    "birthdate": "1985-07-14",
    "postalAddress": {"lines": ["1 Audit Row", "Flat 2"], "locality": "Leeds",
                      "region": "West Yorkshire", "postalCode": "LS1 4AP", "country": "GB"},
    "preferredLanguage": "en-GB",
    "preferences": {"topics": ["garden", "books"], "newsletter": True},
}
OTHER_MEMBER: dict[str, Any] = {**MEMBER, "givenName": "Other", "email": "other.member@example.org",
                "phone": "07400 654321"}

# Member attributes as GraphQL names them, with the policy's attribute names.
ATTRIBUTES = {
    "memberNumber": "member_number",
    "givenName": "given_name",
    "familyName": "family_name",
    "email": "email",
    "phone": "phone",
    "birthdate": "birthdate",
    "postalAddress": "postal_address",
    "preferredLanguage": "preferred_language",
    "preferences": "preferences",
}
ATTRIBUTE_SELECTION = ("memberNumber givenName familyName email phone birthdate "
                       "postalAddress { lines locality region postalCode country } "
                       "preferredLanguage preferences")


# --------------------------------------------------------------------------------------
# Principals


@dataclass
class Principal:
    """One caller of the matrix: its role, what it is registered for, and its token."""

    name: str
    role: str | None  # None: anonymous
    purposes: tuple[str, ...] = ()
    collects_consent: bool = False
    api: Api | None = None


def principals() -> list[Principal]:
    return [
        Principal("anonymous", None),
        Principal("member", "member"),
        Principal("loyalty-client", "client", (MEMBERSHIP,)),
        Principal("marketing-client", "client", ("marketing.email",)),
        # Like the policy's store tills: acts for the membership, collects consent.
        Principal("consent-collector", "client", (MEMBERSHIP,), collects_consent=True),
        Principal("officer", "officer"),
        Principal("admin", "admin"),
    ]


def staff_api(http: TestClient, services: Services, client_id: str, role: str,
              purposes: tuple[str, ...] = (), collects_consent: bool = False) -> Api:
    secret = create_principal(services, client_id, role, purposes, collects_consent)
    return Api(http, client_token(http, client_id, secret))


def sign_in(http: TestClient, settings: Settings, email: str) -> Api:
    return Api(http, member_token(http, Path(settings.mailbox_file), email))


# --------------------------------------------------------------------------------------
# The operations: one per root field


@dataclass(frozen=True)
class World:
    """What the documents need to name: the matrix member and one of their receipts."""

    member_number: str
    email: str
    member_id: str
    receipt_id: str
    request_id: str = ""
    event_id: str = ""  # an outbox event addressed to every client of the cast
    delivery_id: str = ""  # one of its deliveries
    erasure_request_id: str = ""  # a completed erasure (of another member)
    hold_id: str = ""  # a legal hold on the matrix member, to lift


Variables = Callable[[World, Principal], dict[str, Any]]


@dataclass(frozen=True)
class Operation:
    document: str
    variables: Variables = field(default=lambda world, principal: {})


OPERATIONS: dict[str, Operation] = {
    # ---- Query
    "me": Operation("query { me { id memberNumber } }"),
    "member": Operation(
        "query($memberNumber: String) { member(memberNumber: $memberNumber, reason: \"support ticket 4711\") { id } }",
        lambda w, p: {"memberNumber": w.member_number}),
    "myConsents": Operation("query { myConsents { purpose status } }"),
    "myConsentHistory": Operation("query { myConsentHistory { items { receiptId purpose } } }"),
    "myConsentReceipt": Operation(
        "query($receiptId: ID!) { myConsentReceipt(receiptId: $receiptId) { jws } }",
        lambda w, p: {"receiptId": w.receipt_id}),
    "myAccessLog": Operation(
        "query { myAccessLog(first: 5) { items { sequence memberId } nextCursor } }"),
    "myProcessingStatus": Operation(
        "query { myProcessingStatus { restricted objectedPurposes } }"),
    "memberData": Operation(
        "query($purpose: String!, $memberNumber: String) {"
        " memberData(purpose: $purpose, memberNumber: $memberNumber) {"
        " memberNumber denied { field reason } } }",
        lambda w, p: {"purpose": MEMBERSHIP, "memberNumber": w.member_number}),
    "audience": Operation(
        "query($purpose: String!) { audience(purpose: $purpose, first: 5) {"
        " items { memberNumber } nextCursor } }",
        lambda w, p: {"purpose": MEMBERSHIP}),
    "consentCheck": Operation(
        "query($purpose: String!, $memberNumbers: [String!]!) {"
        " consentCheck(purpose: $purpose, memberNumbers: $memberNumbers) {"
        " memberNumber permitted reason } }",
        lambda w, p: {"purpose": MEMBERSHIP, "memberNumbers": [w.member_number]}),
    "accessLog": Operation(
        "query($memberId: ID) { accessLog(filter: {memberId: $memberId}, first: 5) {"
        " items { sequence } nextCursor } }",
        lambda w, p: {"memberId": w.member_id}),
    "verifyAccessLog": Operation("query { verifyAccessLog { ok checked } }"),
    "consentHistory": Operation(
        "query($memberId: ID!) { consentHistory(memberId: $memberId) { items { receiptId } } }",
        lambda w, p: {"memberId": w.member_id}),
    "consentReceipt": Operation(
        "query($receiptId: ID!) { consentReceipt(receiptId: $receiptId) { jws } }",
        lambda w, p: {"receiptId": w.receipt_id}),
    "myRequests": Operation("query { myRequests { items { id type state dueAt } } }"),
    "myRetentionSchedule": Operation("query { myRetentionSchedule { rule after action } }"),
    "recordOfProcessing": Operation("query { recordOfProcessing }"),
    "requests": Operation(
        "query($memberId: ID) { requests(memberId: $memberId, dueWithinDays: 60) { items { id state } } }",
        lambda w, p: {"memberId": w.member_id}),
    "deliveries": Operation(
        "query { deliveries(state: PENDING, first: 5) {"
        " items { id eventType memberId clientId state attempts } nextCursor } }"),
    "legalHolds": Operation(
        "query($memberId: ID!) { legalHolds(memberId: $memberId) { items { id reason active } } }",
        lambda w, p: {"memberId": w.member_id}),
    "erasureCertificate": Operation(
        "query($requestId: ID!) { erasureCertificate(requestId: $requestId) { certificate jws } }",
        lambda w, p: {"requestId": w.erasure_request_id}),
    "pendingAcknowledgements": Operation(
        "query($requestId: ID!) { pendingAcknowledgements(requestId: $requestId) {"
        " clientId deliveryState } }",
        lambda w, p: {"requestId": w.erasure_request_id}),
    # ---- Mutation (ordered so that each principal undoes what it changes)
    "registerMember": Operation(
        "mutation($input: RegisterMemberInput!) { registerMember(input: $input) {"
        " member { memberNumber } errors { code } } }",
        lambda w, p: {"input": {"givenName": "New", "familyName": "Member",
                                "email": f"new.{p.name}@example.org"}}),
    "updateMyProfile": Operation(
        "mutation($input: UpdateProfileInput!) { updateMyProfile(input: $input) {"
        " member { id } errors { code } } }",
        lambda w, p: {"input": {"preferredLanguage": MEMBER["preferredLanguage"]}}),
    "grantConsent": Operation(
        "mutation($purpose: String!, $version: Int!) {"
        " grantConsent(purpose: $purpose, noticeVersion: $version) {"
        " receiptIds errors { code } } }",
        lambda w, p: {"purpose": "rewards.birthday",
                      "version": POLICY.purposes["rewards.birthday"].notice_version}),
    "withdrawConsent": Operation(
        "mutation($purpose: String!) { withdrawConsent(purpose: $purpose) {"
        " receiptIds errors { code } } }",
        lambda w, p: {"purpose": "rewards.birthday"}),
    "objectToPurpose": Operation(
        "mutation($purpose: String!) { objectToPurpose(purpose: $purpose) {"
        " status { objectedPurposes } errors { code } } }",
        lambda w, p: {"purpose": "analytics.segmentation"}),
    "withdrawObjection": Operation(
        "mutation($purpose: String!) { withdrawObjection(purpose: $purpose) {"
        " status { objectedPurposes } errors { code } } }",
        lambda w, p: {"purpose": "analytics.segmentation"}),
    "restrictMyProcessing": Operation(
        "mutation { restrictMyProcessing { status { restricted } errors { code } } }"),
    "liftMyRestriction": Operation(
        "mutation { liftMyRestriction { status { restricted } errors { code } } }"),
    "recordMemberConsent": Operation(
        "mutation($input: MemberConsentInput!) { recordMemberConsent(input: $input) {"
        " consents { purpose status } receiptIds errors { code } } }",
        lambda w, p: {"input": {"memberNumber": w.member_number, "purpose": "marketing.sms",
                                "granted": False}}),
    "setProcessingRestriction": Operation(
        "mutation($memberId: ID!) { setProcessingRestriction(memberId: $memberId,"
        " restricted: false, reason: \"authorization matrix\") {"
        " status { restricted } errors { code } } }",
        lambda w, p: {"memberId": w.member_id}),
    "recordActivity": Operation(
        "mutation($n: [String!]!) { recordActivity(memberNumbers: $n) }",
        lambda w, p: {"n": [w.member_number]}),
    "openMyRequest": Operation(
        "mutation { openMyRequest(input: {type: ACCESS}) { request { id state } errors { code } } }"),
    "openRequestFor": Operation(
        "mutation($memberId: ID!) { openRequestFor(memberId: $memberId, input: {type: ERASURE})"
        " { request { state } errors { code } } }",
        lambda w, p: {"memberId": w.member_id}),
    "verifyRequestIdentity": Operation(
        "mutation($id: ID!) { verifyRequestIdentity(requestId: $id, method: \"passport seen\")"
        " { request { state } errors { code } } }",
        lambda w, p: {"id": w.request_id}),
    "extendRequest": Operation(
        "mutation($id: ID!) { extendRequest(requestId: $id, reason: \"complex request\")"
        " { request { state } errors { code } } }",
        lambda w, p: {"id": w.request_id}),
    "denyRequest": Operation(
        "mutation($id: ID!) { denyRequest(requestId: $id, code: DUPLICATE, reason: \"x\")"
        " { request { state } errors { code } } }",
        lambda w, p: {"id": w.request_id}),
    "acknowledgeEvent": Operation(
        "mutation($id: ID!) { acknowledgeEvent(eventId: $id) {"
        " acknowledgement { eventId acknowledgedAt } errors { code } } }",
        lambda w, p: {"id": w.event_id}),
    "replayDelivery": Operation(
        "mutation($id: ID!) { replayDelivery(deliveryId: $id) {"
        " delivery { id state attempts } errors { code } } }",
        lambda w, p: {"id": w.delivery_id}),
    "placeLegalHold": Operation(
        "mutation($memberId: ID!) { placeLegalHold(memberId: $memberId,"
        " reason: \"authorization matrix\", expiresAt: \"2999-01-01T00:00:00Z\") {"
        " hold { id active } errors { code } } }",
        lambda w, p: {"memberId": w.member_id}),
    "liftLegalHold": Operation(
        "mutation($holdId: ID!) { liftLegalHold(holdId: $holdId) {"
        " hold { id active } errors { code } } }",
        lambda w, p: {"holdId": w.hold_id}),
}


def root_fields() -> dict[str, tuple[str, Any]]:
    """Every root field of the served schema: name -> (root type, graphql field)."""
    found: dict[str, tuple[str, Any]] = {}
    for root in ("Query", "Mutation"):
        gql_type = GRAPHQL_SCHEMA.type_map[root]
        assert isinstance(gql_type, GraphQLObjectType)
        for name, gql_field in gql_type.fields.items():
            assert name not in found, f"{name} is a root field of both Query and Mutation"
            found[name] = (root, gql_field)
    return found


def allow_of(name: str) -> Allow:
    """The ``Allow`` permission that guards a root field (the schema's declared rule)."""
    definition = root_fields()[name][1].extensions["strawberry-definition"]
    allows = [p for ext in definition.extensions if isinstance(ext, PermissionExtension)
              for p in ext.permissions if isinstance(p, Allow)]
    assert len(allows) == 1, f"{name} has no single Allow rule"
    return allows[0]


# Rules that an ``Allow`` alone does not express, each checked inside the resolver:
# recordMemberConsent admits every client by role, but only a client registered to
# collect consent (a store till, the app back end) may record a member's decision.
SPECIAL_CASES: dict[str, Callable[[Principal], str | None]] = {
    "recordMemberConsent": lambda p: None if p.collects_consent else "FORBIDDEN",
}

# (field, principal name) -> reason, for authorization bugs the matrix has found in
# production code; such cases must still fail as described, and are reported as xfail.
KNOWN_BUGS: dict[tuple[str, str], str] = {}


def expected_refusal(name: str, principal: Principal, variables: dict[str, Any]) -> str | None:
    """The error code the field's declared rule gives this principal, or None if admitted."""
    allow = allow_of(name)
    if principal.role is None:
        return "UNAUTHENTICATED"
    if principal.role not in {PRINCIPAL_ROLE[r] for r in allow.roles}:
        return "FORBIDDEN"
    purpose = allow.purpose
    if purpose == access.MEMBERSHIP:
        purpose = POLICY.membership.key
    if allow.purpose_argument is not None:
        # Documents pass the declared purpose in a variable named like the argument.
        purpose = variables[to_camel_case(allow.purpose_argument)]
    if principal.role == "client" and purpose is not None and purpose not in principal.purposes:
        return "PURPOSE_NOT_PERMITTED"
    special = SPECIAL_CASES.get(name)
    return special(principal) if special else None


def check(name: str, principal: Principal, world: World) -> tuple[str | None, str | None]:
    """Run one (operation, principal) pair: (the expected refusal, or None if admitted;
    a description of the mismatch, or None)."""
    operation = OPERATIONS[name]
    variables = operation.variables(world, principal)
    expected = expected_refusal(name, principal, variables)
    return expected, mismatch(name, principal, operation, variables, expected)


def mismatch(name: str, principal: Principal, operation: Operation, variables: dict[str, Any],
             expected: str | None) -> str | None:
    assert principal.api is not None
    result = principal.api.graphql(operation.document, variables)
    errors = result.get("errors") or []
    codes = [(e.get("extensions") or {}).get("code") for e in errors]
    value = (result.get("data") or {}).get(name)
    if expected is None:
        if AUTH_CODES & set(codes):
            return f"admitted by its rule, but refused with {codes}"
        # Beyond the rule: the document is valid and does its job for this principal.
        if errors or value is None:
            return f"admitted, but answered {result}"
        if isinstance(value, dict) and value.get("errors"):
            return f"admitted, but the payload has errors {value['errors']}"
        return None
    if value is not None:
        return f"expected {expected}, but the field answered {value!r}"
    if codes != [expected]:
        return f"expected the single code {expected}, got {codes}"
    if errors[0].get("path") != [name]:
        return f"the refusal is not at the root field: {errors[0].get('path')}"
    return None


# --------------------------------------------------------------------------------------
# 1. The table covers the schema


def test_every_root_field_has_a_matrix_entry() -> None:
    fields = root_fields()
    assert sorted(set(fields) - set(OPERATIONS)) == [], "root fields without a matrix entry"
    assert sorted(set(OPERATIONS) - set(fields)) == [], "matrix entries for no root field"


def test_every_matrix_document_runs_exactly_its_field() -> None:
    fields = root_fields()
    for name, operation in OPERATIONS.items():
        document = graphql.parse(operation.document)
        assert not graphql.validate(GRAPHQL_SCHEMA, document), name
        (definition,) = document.definitions
        assert isinstance(definition, graphql.OperationDefinitionNode)
        assert definition.operation.value.capitalize() == fields[name][0], name
        selected = [s.name.value for s in definition.selection_set.selections
                    if isinstance(s, graphql.FieldNode)]
        assert selected == [name]


def test_purpose_bound_fields_take_the_purpose_from_a_variable() -> None:
    """``expected_refusal`` reads the declared purpose from the variables."""
    world = World("0", "e", str(uuid.uuid4()), str(uuid.uuid4()))
    for name, operation in OPERATIONS.items():
        argument = allow_of(name).purpose_argument
        if argument is not None:
            assert f"{to_camel_case(argument)}: ${to_camel_case(argument)}" in \
                operation.document, name
            assert to_camel_case(argument) in operation.variables(world, principals()[0])


# --------------------------------------------------------------------------------------
# 2.-3. Every (operation, principal) pair against the field's declared rule


def erased_member_request(registrar: Api, services: Services) -> uuid.UUID:
    """Register another member and erase them: a request with a certificate to issue."""
    registered = register(registrar, givenName="Erased", email="erased.member@example.org",
                          phone="07400 111222")
    assert registered["errors"] == [], registered
    with services.db.unit_of_work() as uow:
        request = receive(uow.session, uuid.UUID(registered["member"]["id"]), "erasure",
                          jurisdiction="GDPR", actor="test", identity_verification="test",
                          now=utcnow())
        uow.commit()
    with services.db.unit_of_work() as uow:
        assert erase_request(uow, services.erasure_kit, request.id, now=utcnow()) == "erased"
    return request.id


def test_authorization_matrix(http: TestClient, services: Services, settings: Settings) -> None:
    # One registered member, signed in through the real one-time-code flow.
    registrar = staff_api(http, services, "matrix-registrar", "admin")
    registered = register(registrar, **MEMBER)
    assert registered["errors"] == [], registered
    member_api = sign_in(http, settings, MEMBER["email"])
    me = member_api.graphql("{ me { id memberNumber } }")["data"]["me"]
    granted = member_api.graphql(
        "mutation { grantConsent(purpose: \"marketing.email\", noticeVersion: 1) {"
        " receiptIds errors { code } } }")["data"]["grantConsent"]
    assert granted["errors"] == []
    with services.db.unit_of_work() as uow:  # a request waiting for identity verification
        pending = receive(uow.session, uuid.UUID(me["id"]), "rectification",
                          jurisdiction="GDPR", actor="test", identity_verification=None,
                          now=utcnow())
        # An event addressed to every client of the cast, to acknowledge and replay.
        event = emit(uow.session, "member.rectified", uuid.UUID(me["id"]), {"fields": []},
                     [f"matrix-{p.name}" for p in principals() if p.role == "client"])
        # A legal hold to lift.
        hold = place_hold(uow.session, uuid.UUID(me["id"]), "matrix hold", "test")
        uow.commit()
        delivery_id = uow.session.scalars(select(Delivery.id).where(
            Delivery.event_id == event.id)).first()
    erasure_request_id = erased_member_request(registrar, services)
    world = World(member_number=me["memberNumber"], email=MEMBER["email"], member_id=me["id"],
                  receipt_id=granted["receiptIds"][0], request_id=str(pending.id),
                  event_id=str(event.id), delivery_id=str(delivery_id),
                  erasure_request_id=str(erasure_request_id), hold_id=str(hold.id))

    cast = principals()
    for principal in cast:
        if principal.role is None:
            principal.api = Api(http)
        elif principal.role == "member":
            principal.api = member_api
        else:
            principal.api = staff_api(http, services, f"matrix-{principal.name}",
                                      principal.role, principal.purposes,
                                      principal.collects_consent)

    mismatches, bugs_seen = [], []
    outcomes: Counter[str | None] = Counter()
    admitted: set[str] = set()
    for principal in cast:
        for name in OPERATIONS:
            expected, problem = check(name, principal, world)
            outcomes[expected] += 1
            if expected is None:
                admitted.add(name)
            bug = KNOWN_BUGS.get((name, principal.name))
            if bug is not None:
                assert problem is not None, f"{name} x {principal.name} is fixed: {bug}"
                bugs_seen.append(f"{name} x {principal.name}: {bug}")
            elif problem is not None:
                mismatches.append(f"{name} x {principal.name}: {problem}")
    assert mismatches == [], "\n".join(mismatches)
    # The cast exercises every kind of outcome, and the success path of every field.
    assert sum(outcomes.values()) == len(cast) * len(root_fields())
    assert set(outcomes) == {None, *AUTH_CODES}, outcomes
    assert admitted == set(OPERATIONS), set(OPERATIONS) - admitted
    if bugs_seen:
        pytest.xfail("; ".join(bugs_seen))


def test_a_purpose_the_registration_allows_but_the_token_lacks_is_refused(
        http: TestClient, services: Services) -> None:
    """Rule 1: the purpose must be in the registration *and* in the token."""
    secret = create_principal(services, "matrix-narrow", purposes=(MEMBERSHIP, "rewards.birthday"))
    narrow = Api(http, client_token(http, "matrix-narrow", secret,
                                    scope="purpose:rewards.birthday"))
    wide = Api(http, client_token(http, "matrix-narrow", secret))
    document = OPERATIONS["audience"].document
    refused = narrow.graphql(document, {"purpose": MEMBERSHIP})
    assert refused["data"] is None
    assert [e["extensions"]["code"] for e in refused["errors"]] == ["PURPOSE_NOT_PERMITTED"]
    assert "errors" not in narrow.graphql(document, {"purpose": "rewards.birthday"})
    assert "errors" not in wide.graphql(document, {"purpose": MEMBERSHIP})
    unknown = wide.graphql(document, {"purpose": "no.such.purpose"})
    assert [e["extensions"]["code"] for e in unknown["errors"]] == ["PURPOSE_NOT_PERMITTED"]


# --------------------------------------------------------------------------------------
# 4. Field-level matrix: every purpose x every member attribute


def test_policy_attributes_are_the_matrix_attributes() -> None:
    in_policy = {a for c in POLICY.categories.values() for a in c.attributes}
    assert in_policy == set(ATTRIBUTES.values())


MEMBER_DATA = ("query($purpose: String!, $memberNumber: String) {"
               " memberData(purpose: $purpose, memberNumber: $memberNumber) {"
               f" {ATTRIBUTE_SELECTION} denied {{ field reason }} }} }}")


def test_field_level_matrix(http: TestClient, services: Services, settings: Settings) -> None:
    registrar = staff_api(http, services, "matrix-registrar", "admin")
    for person in (MEMBER, OTHER_MEMBER):
        assert register(registrar, **person)["errors"] == []
    member_api = sign_in(http, settings, MEMBER["email"])
    own = member_api.graphql(f"{{ me {{ {ATTRIBUTE_SELECTION} }} }}")["data"]["me"]
    assert all(own[a] is not None for a in ATTRIBUTES), own
    other_number = registrar.graphql(
        "query($e: String) { member(email: $e, reason: \"support ticket 4711\") { memberNumber } }",
        {"e": OTHER_MEMBER["email"]})["data"]["member"]["memberNumber"]
    for purpose in POLICY.purposes.values():
        if purpose.consent_based:
            result = member_api.graphql(
                "mutation($p: String!, $v: Int!) { grantConsent(purpose: $p, noticeVersion: $v)"
                " { errors { code } } }", {"p": purpose.key, "v": purpose.notice_version})
            assert result["data"]["grantConsent"]["errors"] == [], purpose.key

    mismatches, cases = [], 0
    for purpose in POLICY.purposes.values():
        client = staff_api(http, services, f"matrix-{purpose.key}", "client", (purpose.key,))
        covered = {a for c in purpose.categories for a in POLICY.categories[c].attributes}
        result = client.graphql(MEMBER_DATA, {"purpose": purpose.key,
                                              "memberNumber": own["memberNumber"]})
        assert "errors" not in result, (purpose.key, result)
        data = result["data"]["memberData"]
        denied = {d["field"]: d["reason"] for d in data["denied"]}
        for graphql_name, attribute in ATTRIBUTES.items():
            cases += 1
            assert POLICY.category_of(attribute) in POLICY.categories
            if attribute in covered:
                ok = data[graphql_name] == own[graphql_name] and graphql_name not in denied
            else:
                ok = (data[graphql_name] is None
                      and denied.get(graphql_name) == "CATEGORY_NOT_IN_PURPOSE")
            if not ok:
                mismatches.append(f"{purpose.key} / {graphql_name}: covered="
                                  f"{attribute in covered}, value={data[graphql_name]!r}, "
                                  f"denied={denied.get(graphql_name)}")
        assert set(denied) <= set(ATTRIBUTES), denied

        # The same purpose, for a member who consented to nothing: a consent-based purpose
        # returns no value at all; contract and legitimate interest need no consent.
        other = client.graphql(MEMBER_DATA, {"purpose": purpose.key,
                                             "memberNumber": other_number})
        assert "errors" not in other, (purpose.key, other)
        other_data = other["data"]["memberData"]
        other_denied = {d["field"]: d["reason"] for d in other_data["denied"]}
        for graphql_name, attribute in ATTRIBUTES.items():
            if attribute not in covered:
                expected_reason: str | None = "CATEGORY_NOT_IN_PURPOSE"
            else:
                expected_reason = "CONSENT_REQUIRED" if purpose.consent_based else None
            returned = other_data[graphql_name] is not None
            if other_denied.get(graphql_name) != expected_reason or \
                    returned != (expected_reason is None):
                mismatches.append(f"{purpose.key} / {graphql_name} (no consent): "
                                  f"expected {expected_reason}, got "
                                  f"{other_denied.get(graphql_name)} returned={returned}")
    assert mismatches == [], "\n".join(mismatches)
    assert cases == len(POLICY.purposes) * len(ATTRIBUTES)


# --------------------------------------------------------------------------------------
# 5. Members only ever see themselves

SELF_VIEW = """query {
  me { id memberNumber }
  myAccessLog(first: 200) { items { memberId principal purpose } nextCursor }
  myConsents { purpose status grantedNoticeVersion objected }
  myConsentHistory { items { receiptId purpose granted } }
  myProcessingStatus { restricted objectedPurposes }
}"""
GRANT = """mutation($p: String!, $v: Int!) { grantConsent(purpose: $p, noticeVersion: $v) {
  receiptIds errors { code } } }"""


def test_members_only_ever_see_themselves(http: TestClient, services: Services,
                                          settings: Settings) -> None:
    loyalty = staff_api(http, services, "matrix-loyalty", "client", (MEMBERSHIP,))
    partner = staff_api(http, services, "matrix-partner", "client", ("partners.sharing",))
    collector = staff_api(http, services, "matrix-till", "client", (MEMBERSHIP,),
                          collects_consent=True)
    for person in (MEMBER, OTHER_MEMBER):
        assert register(loyalty, **person)["errors"] == []
    ann = sign_in(http, settings, MEMBER["email"])
    bob = sign_in(http, settings, OTHER_MEMBER["email"])
    ann_id = ann.graphql("{ me { id } }")["data"]["me"]["id"]
    bob_me = bob.graphql("{ me { id memberNumber } }")["data"]["me"]
    bob_id, bob_number = bob_me["id"], bob_me["memberNumber"]
    assert ann_id != bob_id

    # Ann does a little; Bob does a lot, and a lot is done to Bob.
    ann_receipts = ann.graphql(GRANT, {"p": "rewards.birthday", "v": 1})
    ann_receipts = ann_receipts["data"]["grantConsent"]["receiptIds"]
    bob_receipts = []
    for purpose in ("marketing.email", "partners.sharing", "personalization.offers"):
        granted = bob.graphql(GRANT, {"p": purpose, "v": POLICY.purposes[purpose].notice_version})
        assert granted["data"]["grantConsent"]["errors"] == []
        bob_receipts += granted["data"]["grantConsent"]["receiptIds"]
    recorded = collector.graphql(OPERATIONS["recordMemberConsent"].document, {"input": {
        "memberNumber": bob_number, "purpose": "marketing.sms", "granted": True,
        "noticeVersion": 1}})
    assert recorded["data"]["recordMemberConsent"]["errors"] == []
    bob_receipts += recorded["data"]["recordMemberConsent"]["receiptIds"]
    assert bob.graphql("mutation { objectToPurpose(purpose: \"analytics.segmentation\") {"
                       " errors { code } } }")["data"]["objectToPurpose"]["errors"] == []
    for api, purpose in ((loyalty, MEMBERSHIP), (partner, "partners.sharing")):
        read = api.graphql(MEMBER_DATA, {"purpose": purpose, "memberNumber": bob_number})
        assert "errors" not in read and read["data"]["memberData"]["email"]
    audience = partner.graphql(OPERATIONS["audience"].document, {"purpose": "partners.sharing"})
    assert "errors" not in audience
    assert bob.graphql("mutation { restrictMyProcessing { errors { code } } }")[
        "data"]["restrictMyProcessing"]["errors"] == []
    # One read of Ann, so her log is not trivially empty.
    ann_number = ann.graphql("{ me { memberNumber } }")["data"]["me"]["memberNumber"]
    read = loyalty.graphql(MEMBER_DATA, {"purpose": MEMBERSHIP, "memberNumber": ann_number})
    assert "errors" not in read

    view = ann.graphql(SELF_VIEW)
    assert "errors" not in view, view
    data = view["data"]
    assert data["me"]["id"] == ann_id
    log_members = {item["memberId"] for item in data["myAccessLog"]["items"]}
    assert log_members == {ann_id}, "Ann's access log shows another member's reads"
    assert data["myAccessLog"]["nextCursor"] is None
    history = {r["receiptId"] for r in data["myConsentHistory"]["items"]}
    assert history == set(ann_receipts)
    assert not history & set(bob_receipts)
    consents = {c["purpose"]: c for c in data["myConsents"]}
    assert set(consents) == set(POLICY.purposes)
    assert consents["rewards.birthday"]["status"] == "GRANTED"
    for purpose in ("marketing.email", "partners.sharing", "personalization.offers",
                    "marketing.sms"):
        assert consents[purpose]["status"] == "NOT_GIVEN", purpose
    assert not consents["analytics.segmentation"]["objected"]
    assert data["myProcessingStatus"] == {"restricted": False, "objectedPurposes": []}
    for receipt in bob_receipts:
        foreign = ann.graphql(OPERATIONS["myConsentReceipt"].document, {"receiptId": receipt})
        assert foreign == {"data": {"myConsentReceipt": None}}

    # And the other way round: Bob sees all of his, none of Ann's.
    bob_view = bob.graphql(SELF_VIEW)["data"]
    assert {i["memberId"] for i in bob_view["myAccessLog"]["items"]} == {bob_id}
    assert len(bob_view["myAccessLog"]["items"]) >= 3
    assert {r["receiptId"] for r in bob_view["myConsentHistory"]["items"]} == set(bob_receipts)
    assert bob_view["myProcessingStatus"] == {"restricted": True,
                                              "objectedPurposes": ["analytics.segmentation"]}
    for receipt in ann_receipts:
        foreign = bob.graphql(OPERATIONS["myConsentReceipt"].document, {"receiptId": receipt})
        assert foreign == {"data": {"myConsentReceipt": None}}
