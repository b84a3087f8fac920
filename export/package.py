"""What goes into an export archive, and writing it into a ZIP without holding it all.

:func:`collect` loads everything that is small (the profile, consent records with their
signed receipts, the audit events that give each value's source, the policy facts) and
lists the member's requests its caller passes in (:data:`RequestHistory`: the requests
belong to ``subject_requests``, which has archives built for access requests). The access
log, which can be long, is read in keyset pages ordered by sequence, up to the sequence
seen when collecting, once for ``member.json`` and once for ``access_log.csv``; each page
is written and dropped before the next is read.

Entries of the ZIP, in this order::

    member.json          everything, machine-readable (see member.schema.json)
    member.schema.json   JSON Schema (draft 2020-12) of member.json
    profile.csv          field, category, value, source
    consents.csv         one row per consent record
    access_log.csv       one row per read of the member's data
    events.csv           one row per webhook delivery of an event about the member
    legal_holds.csv      one row per legal hold on the member
    requests.csv         one row per data subject request
    request_transitions.csv  one row per step of those requests
    summary.md           the GDPR Art. 15(1) and (2) information, for people

Legal holds, like requests, belong to a package above ``export`` (``retention``): the
caller passes them in (:data:`HoldHistory`).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, Protocol
from zipfile import ZIP_DEFLATED, ZipFile, ZipInfo

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from audit import member_index
from audit.models import AuditEvent
from consent import ledger, notify, receipts
from consent.evidence import open_evidence
from consent.models import Objection
from export import disclosure
from export.disclosure import iso
from identity.encryption import MemberCipher
from identity.members import MemberProfile
from identity.models import PERSONAL_FIELDS, Client, Member
from identity.names import PUBLIC_NAME, public_value
from outbox.models import Delivery, OutboxEvent
from vaultkernel import languages
from vaultkernel.languages import DEFAULT
from vaultkernel.policy import Policy

FORMAT_VERSION = 1
LOG_PAGE = 2000
SOURCE_EVENTS = ("member.registered", "member.rectified")
SCHEMA_RESOURCE = "member_schema.json"

PROFILE_COLUMNS = ("field", "category", "value", "source")
CONSENT_COLUMNS = ("receipt_id", "purpose", "event", "notice_version", "at", "channel", "actor",
                   "gpc", "user_agent", "ip_hash")
ACCESS_LOG_COLUMNS = ("sequence", "at", "principal", "principal_name", "purpose",
                      "fields_returned", "fields_denied", "request_id")
REQUEST_COLUMNS = ("id", "type", "jurisdiction", "state", "received_at", "due_at", "closed_at",
                   "extended", "extension_reason", "identity_verification", "opened_by",
                   "denial_code", "denial_reason")
TRANSITION_COLUMNS = ("request_id", "from_state", "to_state", "at", "actor", "reason")
EVENT_COLUMNS = ("event_id", "type", "at", "recipient", "recipient_name", "state",
                 "delivered_at", "acknowledged_at")
HOLD_COLUMNS = ("id", "placed_at", "reason", "categories", "expires_at", "lifted_at", "active")

# sequence, at, request id, principal, purpose, fields returned, fields denied
LogRow = tuple[int, dt.datetime, str, str, str, list[str], dict[str, str]]


class Request(Protocol):
    """A data subject request as the archive lists it (the requests are ``subject_requests``'
    rows; whoever builds the archive passes them in)."""

    id: uuid.UUID
    type: str
    jurisdiction: str
    state: str
    received_at: dt.datetime
    due_at: dt.datetime
    closed_at: dt.datetime | None
    extended: bool
    extension_reason: str | None
    identity_verification: str | None
    opened_by: str
    denial_code: str | None
    denial_reason: str | None
    details: dict[str, object]


class RequestStep(Protocol):
    """One transition of a request, as the archive lists it."""

    from_state: str | None
    to_state: str
    at: dt.datetime
    actor: str
    reason: str | None


# The member's requests, oldest first, each with its steps in order.
RequestHistory = Sequence[tuple[Request, Sequence[RequestStep]]]


class Hold(Protocol):
    """A legal hold on the member, as the archive lists it (the holds are ``retention``'s
    rows; whoever builds the archive passes them in)."""

    id: uuid.UUID
    reason: str
    categories: list[str] | None  # the data categories it keeps; None: all
    placed_at: dt.datetime
    expires_at: dt.datetime | None
    lifted_at: dt.datetime | None


# The member's legal holds, active or not, oldest first, each with whether it is active.
HoldHistory = Sequence[tuple[Hold, bool]]


@dataclass(frozen=True)
class WebhookReceipt:
    """A webhook about the member delivered to a client, and the purposes it was sent
    for (GDPR Art. 15(1)(c): the client received the member number)."""

    client_id: str
    purposes: frozenset[str]
    at: dt.datetime


def member_schema_bytes() -> bytes:
    """The published JSON Schema of member.json (also in docs/export-schema.json)."""
    return resources.files("export").joinpath(SCHEMA_RESOURCE).read_bytes()


@dataclass
class Contents:
    """Everything of one export except the access log entries themselves."""

    archive_id: uuid.UUID
    member_id: uuid.UUID
    generated_at: dt.datetime
    head: dict[str, Any]  # member.json without accessLog and recipients
    profile_rows: list[list[str]]
    consent_rows: list[list[str]]
    request_rows: list[list[str]]
    transition_rows: list[list[str]]
    event_rows: list[list[str]]
    hold_rows: list[list[str]]
    webhooks: list[WebhookReceipt]
    field_sources: dict[str, disclosure.Source]
    field_categories: dict[str, str]
    clients: dict[str, tuple[str, str | None]]  # client id -> (name, kind)
    log_until: int  # highest access-log sequence included
    log_count: int
    policy: Policy
    # The member's preferred language: summary.md is written in it (else English).
    language: str = DEFAULT


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return iso(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _json_value(name: str, value: Any) -> Any:
    """A personal value as member.json and profile.csv give it: dates in ISO 8601, the
    keys of structured values in their public spelling (``identity.names``)."""
    if isinstance(value, dt.date):
        return value.isoformat()
    return public_value(name, value)


def _opt_iso(moment: dt.datetime | None) -> str | None:
    return iso(moment) if moment is not None else None


def _field_names(event: AuditEvent) -> list[str]:
    """The field names an audit event names (never values: the trail holds none)."""
    fields = (event.details or {}).get("fields")
    return [str(f) for f in fields] if isinstance(fields, list) else []


def _events(session: Session, policy: Policy, member_id: uuid.UUID,
            clients: dict[str, tuple[str, str | None]],
            registered_for: dict[str, frozenset[str]],
            ) -> tuple[list[dict[str, Any]], list[list[str]], list[WebhookReceipt]]:
    """The webhook events about the member with their deliveries (type, time, recipient,
    state; never the signing secret, the URL or a sealed value), as member.json and
    events.csv list them, and the deliveries that reached a client."""
    rows = session.execute(
        select(OutboxEvent.id, OutboxEvent.type, OutboxEvent.facts, OutboxEvent.created_at,
               Delivery.client_id, Delivery.state, Delivery.delivered_at,
               Delivery.acknowledged_at)
        .outerjoin(Delivery, Delivery.event_id == OutboxEvent.id)
        .where(OutboxEvent.member_id == member_id)
        .order_by(OutboxEvent.created_at, OutboxEvent.id, Delivery.id)).all()
    with_data = notify.purposes_with_data(session, policy, member_id) if rows else set()
    events: dict[uuid.UUID, dict[str, Any]] = {}
    csv_rows: list[list[str]] = []
    received: list[WebhookReceipt] = []
    for row in rows:
        facts = dict(row.facts or {})
        event = events.setdefault(row.id, {
            "eventId": str(row.id), "type": row.type, "at": iso(row.created_at),
            "facts": facts, "deliveries": []})
        if row.client_id is None:
            csv_rows.append([str(row.id), row.type, iso(row.created_at), "", "", "", "", ""])
            continue
        name = clients.get(row.client_id, (row.client_id, None))[0]
        event["deliveries"].append({
            "clientId": row.client_id, "recipientName": name, "state": row.state,
            "deliveredAt": _opt_iso(row.delivered_at),
            "acknowledgedAt": _opt_iso(row.acknowledged_at)})
        csv_rows.append([str(row.id), row.type, iso(row.created_at), row.client_id, name,
                         row.state, _text(row.delivered_at), _text(row.acknowledged_at)])
        if row.state == "delivered" and row.delivered_at is not None:
            named = facts.get("purpose")
            purposes = ({named} if isinstance(named, str)
                        else with_data & registered_for.get(row.client_id, frozenset()))
            received.append(WebhookReceipt(row.client_id, frozenset(purposes),
                                           row.delivered_at))
    return list(events.values()), csv_rows, received


def collect(session: Session, policy: Policy, profile: MemberProfile, member: Member,
            cipher: MemberCipher, *, requests: RequestHistory, holds: HoldHistory,
            archive_id: uuid.UUID, issuer: str, sign: Callable[[dict[str, Any]], str],
            now: dt.datetime) -> Contents:
    """Everything of the member's archive but the access log; ``cipher`` (the member's)
    opens the sealed consent evidence."""
    member_id = profile.id
    clients: dict[str, tuple[str, str | None]] = {}
    registered_for: dict[str, frozenset[str]] = {}
    for row in session.execute(select(Client.client_id, Client.name, Client.kind,
                                      Client.allowed_purposes)):
        clients[row.client_id] = (row.name, row.kind)
        registered_for[row.client_id] = frozenset(row.allowed_purposes or ())
    for spec in policy.clients.values():
        clients.setdefault(spec.client_id, (spec.name, spec.kind))
    client_names = {k: v[0] for k, v in clients.items()}

    values = {name: getattr(profile, name) for name in PERSONAL_FIELDS}
    events: list[dict[str, Any]] = [
        {"at": e.at, "actor": e.actor, "action": e.action, "fields": _field_names(e)}
        for e in session.scalars(select(AuditEvent).where(AuditEvent.member_id == member_id)
                                 .order_by(AuditEvent.id))]
    sources = disclosure.sources(
        PERSONAL_FIELDS, [e for e in events if e["action"] in SOURCE_EVENTS], member_id,
        client_names, [k for k, v in values.items() if v is not None])
    field_categories = {name: policy.category_of(name) for name in PERSONAL_FIELDS}
    attributes = []
    profile_rows = []
    for name in PERSONAL_FIELDS:
        category = policy.categories[field_categories[name]]
        source = sources.get(name)
        attributes.append({
            "field": PUBLIC_NAME[name], "category": category.key, "categoryTitle": category.title,
            "hasValue": values[name] is not None,
            "retention": disclosure.retention_period(policy, category.key),
            "source": source.as_json() if source else None})
        profile_rows.append([PUBLIC_NAME[name], category.key,
                             _text(_json_value(name, values[name])),
                             source.describe() if source else ""])

    records = ledger.history(session, member_id)
    receipt_of = {r.id: r.receipt_id for r in records}
    consent_records = []
    consent_rows = []
    documents = receipts.receipts_of(session, records, policy, issuer=issuer)
    for record in records:
        document = documents[record.id]
        evidence = open_evidence(cipher, record)
        consent_records.append({
            "receiptId": str(record.receipt_id), "purpose": record.purpose,
            "event": "given" if record.granted else "withdrawn", "granted": record.granted,
            "noticeVersion": record.notice_version, "at": iso(record.at),
            "channel": record.channel, "actor": record.actor,
            "evidence": {"ipHash": evidence.ip_hash, "userAgent": evidence.user_agent,
                         "gpc": evidence.gpc},
            "receipt": document, "receiptJws": sign(document)})
        consent_rows.append([str(record.receipt_id), record.purpose,
                             "given" if record.granted else "withdrawn",
                             str(record.notice_version), iso(record.at), record.channel,
                             record.actor, _text(evidence.gpc), _text(evidence.user_agent),
                             _text(evidence.ip_hash)])
    current = ledger.current(session, member_id)
    consent_state = {purpose: row.granted for purpose, row in current.items()}
    objection_rows = list(session.scalars(select(Objection).where(Objection.member_id == member_id)
                                          .order_by(Objection.at)))

    request_json: list[dict[str, Any]] = []
    request_rows: list[list[str]] = []
    transition_rows: list[list[str]] = []
    for r, steps in requests:
        details = r.details or {}
        fields = details.get("fields")
        request_json.append({
            "id": str(r.id), "type": r.type, "jurisdiction": r.jurisdiction, "state": r.state,
            "receivedAt": iso(r.received_at), "dueAt": iso(r.due_at),
            "closedAt": _opt_iso(r.closed_at), "extended": r.extended,
            "extensionReason": r.extension_reason,
            "identityVerification": r.identity_verification, "openedBy": r.opened_by,
            "denialCode": r.denial_code, "denialReason": r.denial_reason,
            "outcome": details.get("outcome") if isinstance(details.get("outcome"), str)
            else None,
            "purpose": details.get("purpose") if isinstance(details.get("purpose"), str)
            else None,
            "correctedFields": [str(f) for f in fields] if isinstance(fields, list) else None,
            "transitions": [{"fromState": t.from_state, "toState": t.to_state, "at": iso(t.at),
                             "actor": t.actor, "reason": t.reason} for t in steps]})
        request_rows.append([str(r.id), r.type, r.jurisdiction, r.state, iso(r.received_at),
                             iso(r.due_at), _text(r.closed_at), _text(r.extended),
                             _text(r.extension_reason), _text(r.identity_verification),
                             r.opened_by, _text(r.denial_code), _text(r.denial_reason)])
        transition_rows.extend([str(r.id), _text(t.from_state), t.to_state, iso(t.at), t.actor,
                                _text(t.reason)] for t in steps)

    log_count, log_until = member_index.count_of_member(session, member_id)
    notifications, event_rows, webhooks = _events(session, policy, member_id, clients,
                                                  registered_for)
    hold_json = [{"id": str(h.id), "placedAt": iso(h.placed_at), "reason": h.reason,
                  "categories": h.categories, "expiresAt": _opt_iso(h.expires_at),
                  "liftedAt": _opt_iso(h.lifted_at), "active": active} for h, active in holds]
    hold_rows = [[str(h.id), iso(h.placed_at), h.reason,
                  ";".join(h.categories) if h.categories is not None else "all",
                  _text(h.expires_at), _text(h.lifted_at), _text(active)]
                 for h, active in holds]

    objected = [o.purpose for o in objection_rows]
    head: dict[str, Any] = {
        "formatVersion": FORMAT_VERSION,
        "archiveId": str(archive_id),
        "generatedAt": iso(now),
        "controller": {"name": policy.controller, "contact": policy.dpo_contact,
                       "address": policy.controller_address.one_line()
                       if policy.controller_address else None,
                       "policyVersion": policy.version, "jurisdiction": policy.jurisdiction},
        "member": {
            "id": str(member_id), "status": member.status, "createdAt": iso(member.created_at),
            "updatedAt": iso(member.updated_at), "lastActivityAt": iso(member.last_activity_at),
            "restrictedAt": _opt_iso(member.restricted_at),
            "erasureHeldAt": _opt_iso(member.erasure_held_at),
            "marketingSuppressedAt": _opt_iso(member.marketing_suppressed_at),
            "profile": {PUBLIC_NAME[k]: _json_value(k, v) for k, v in values.items()},
        },
        "attributes": attributes,
        "consents": {
            "current": [{"purpose": p, "granted": row.granted,
                         "noticeVersion": row.notice_version, "updatedAt": iso(row.updated_at),
                         "receiptId": str(receipt_of[row.record_id])
                         if row.record_id in receipt_of else None}
                        for p, row in sorted(current.items())],
            "records": consent_records,
        },
        "objections": [{"purpose": o.purpose, "at": iso(o.at), "actor": o.actor}
                       for o in objection_rows],
        "requests": request_json,
        "profileHistory": [{"at": iso(e["at"]), "actor": e["actor"], "action": e["action"],
                            "fields": e["fields"]} for e in events],
        "purposes": disclosure.purposes(policy, consent_state, objected),
        "categories": disclosure.categories(policy),
        "retention": disclosure.record_retention(policy),
        "events": notifications,
        "legalHolds": hold_json,
        "processors": disclosure.processors(policy),
        "transfers": disclosure.transfers(policy),
        "rights": [dict(r) for r in disclosure.RIGHTS],
        "automatedDecisions": disclosure.AUTOMATED_DECISIONS,
        "accessLogCount": int(log_count),
    }
    return Contents(
        archive_id=archive_id, member_id=member_id, generated_at=now, head=head,
        profile_rows=profile_rows, consent_rows=consent_rows, request_rows=request_rows,
        transition_rows=transition_rows, event_rows=event_rows, hold_rows=hold_rows,
        webhooks=webhooks, field_sources=sources,
        field_categories=field_categories, clients=clients, log_until=int(log_until),
        log_count=int(log_count), policy=policy,
        language=languages.first_supported((profile.preferred_language,)))


def access_log_pages(session: Session, member_id: uuid.UUID, until: int,
                     page_size: int = LOG_PAGE) -> Iterator[Sequence[LogRow]]:
    """The member's access-log entries up to ``until``, a page at a time, oldest first."""
    for page in member_index.all_of_member(session, member_id, until, page_size):
        yield [(a.sequence, a.at, a.request_id, a.principal, a.purpose, list(a.returned),
                a.denied) for a in page]


class _PrincipalNames:
    """How the member is told who a principal is; memoised (principals are few)."""

    def __init__(self, contents: Contents):
        self._member_id = contents.member_id
        self._clients = {k: v[0] for k, v in contents.clients.items()}
        self._known: dict[str, str] = {}

    def __call__(self, principal: str) -> str:
        name = self._known.get(principal)
        if name is None:
            name = self._known[principal] = disclosure.describe_actor(
                principal, self._member_id, self._clients)[1]
        return name


def write_member_json(zf: ZipFile, contents: Contents, pages: Iterator[Sequence[LogRow]],
                      recipients: disclosure.Recipients) -> int:
    """member.json, streamed: the small parts, then the access log page by page, then the
    recipients gathered on the way (with those of the webhooks, which ``recipients``
    already holds), in all and per purpose. Returns the number of log entries written."""
    names = _PrincipalNames(contents)
    head = orjson.dumps(contents.head, option=orjson.OPT_INDENT_2)
    if not head.endswith(b"\n}"):
        raise ValueError("member.json head must be a non-empty object")
    written = 0
    with zf.open(_entry("member.json", contents), "w", force_zip64=True) as out:
        out.write(head[:-2] + b',\n  "accessLog": [')
        for rows in pages:
            parts = []
            for sequence, at, request_id, principal, purpose, returned, denied in rows:
                recipients.add(principal, purpose, returned, at)
                entry = {"sequence": sequence, "at": iso(at), "requestId": request_id,
                         "principal": principal,
                         "principalName": names(principal),
                         "purpose": purpose, "fieldsReturned": list(returned),
                         "fieldsDenied": dict(denied)}
                parts.append((b",\n    " if written else b"\n    ") + orjson.dumps(entry))
                written += 1
            out.write(b"".join(parts))
        out.write(b"\n  ],\n  \"recipients\": " + orjson.dumps(recipients.as_json())
                  + b",\n  \"recipientsByPurpose\": "
                  + orjson.dumps(recipients.by_purpose(contents.policy)) + b"\n}\n")
    return written


def _entry(name: str, contents: Contents) -> ZipInfo:
    """A ZIP entry dated with the archive (ZIP times have no zone: UTC) and readable
    (0644) once extracted."""
    moment = contents.generated_at.astimezone(dt.UTC)
    info = ZipInfo(name, date_time=(max(moment.year, 1980), moment.month, moment.day,
                                    moment.hour, moment.minute, moment.second))
    info.compress_type = ZIP_DEFLATED
    info.external_attr = 0o100644 << 16  # a regular file, rw-r--r--
    return info


def _csv(zf: ZipFile, contents: Contents, name: str, header: Sequence[str],
         rows: Iterable[Sequence[str]], *, large: bool = False) -> None:
    with io.TextIOWrapper(zf.open(_entry(name, contents), "w", force_zip64=large),
                          encoding="utf-8", newline="") as text:
        writer = csv.writer(text)
        writer.writerow(header)
        writer.writerows(rows)


def _log_csv_rows(contents: Contents,
                  pages: Iterator[Sequence[LogRow]]) -> Iterator[list[str]]:
    names = _PrincipalNames(contents)
    for rows in pages:
        for sequence, at, request_id, principal, purpose, returned, denied in rows:
            yield [str(sequence), iso(at), principal,
                   names(principal), purpose,
                   ";".join(returned), ";".join(f"{k}={v}" for k, v in sorted(denied.items())),
                   request_id]


def write_zip(zf: ZipFile, contents: Contents,
              log_pass: Callable[[], Iterator[Sequence[LogRow]]]) -> None:
    """Every entry of the archive; ``log_pass`` starts a new pass over the access log."""
    recipients = disclosure.Recipients(contents.clients)
    for webhook in contents.webhooks:
        recipients.add_webhook(webhook.client_id, webhook.purposes, webhook.at)
    entries = write_member_json(zf, contents, log_pass(), recipients)
    zf.writestr(_entry("member.schema.json", contents), member_schema_bytes())
    _csv(zf, contents, "profile.csv", PROFILE_COLUMNS, contents.profile_rows)
    _csv(zf, contents, "consents.csv", CONSENT_COLUMNS, contents.consent_rows)
    _csv(zf, contents, "access_log.csv", ACCESS_LOG_COLUMNS,
         _log_csv_rows(contents, log_pass()), large=True)
    _csv(zf, contents, "events.csv", EVENT_COLUMNS, contents.event_rows)
    _csv(zf, contents, "legal_holds.csv", HOLD_COLUMNS, contents.hold_rows)
    _csv(zf, contents, "requests.csv", REQUEST_COLUMNS, contents.request_rows)
    _csv(zf, contents, "request_transitions.csv", TRANSITION_COLUMNS, contents.transition_rows)
    summary = disclosure.summary_markdown(
        policy=contents.policy, generated_at=contents.generated_at,
        archive_id=contents.archive_id, head=contents.head,
        field_sources=contents.field_sources, field_categories=contents.field_categories,
        recipients=recipients.as_json(),
        recipients_by_purpose=recipients.by_purpose(contents.policy),
        counts=disclosure.Counts(
            access_entries=entries, consent_records=len(contents.consent_rows),
            requests=len(contents.request_rows),
            deliveries=sum(1 for row in contents.event_rows if row[3]),
            holds=len(contents.hold_rows)),
        language=contents.language)
    zf.writestr(_entry("summary.md", contents), summary.encode())
