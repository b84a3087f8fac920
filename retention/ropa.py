"""The record of processing activities (GDPR Art. 30(1)(a)-(g)), generated from the same
policy file the service enforces and from the clients registered in the database, so what
is documented cannot drift from what is done.

- (a) the controller, its address and data protection officer;
- (b) the purposes: every purpose of the policy, and the service's own supporting
  activities (the access log, consent records and evidence, sign-in, data subject
  requests, webhooks, legal holds, the marketing suppression list);
- (c) data subjects and categories of data, per activity;
- (d) recipients: every client registered in the database (active or not), per purpose
  and in all, and the processors of the policy;
- (e) transfers to third countries with their safeguards;
- (f) time limits for erasure: the retention rules, and for what is kept without a time
  limit, why (``vaultkernel.records_kept``, which exports read too);
- (g) the security measures.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from vaultkernel.policy import Policy
from vaultkernel.records_kept import KEPT_RECORDS, kept_indefinitely, retention_of

SECURITY_MEASURES = [
    "Personal values encrypted at rest with a per-member AES-256-GCM data key, wrapped by a "
    "key-encryption key held outside the database (rotatable).",
    "Consent evidence (user agent, keyed IP hash) sealed under the member's data key, so "
    "erasure destroys it with the key.",
    "Equality look-ups through keyed HMAC-SHA256 blind indexes; no plaintext index.",
    "Purpose-bound, consent-gated reads for every client; least-privilege roles for "
    "members, clients, officers and admins.",
    "Every read of member data written to a hash-chained access log before it is answered.",
    "Erasure by crypto-shredding the member's data key, with propagation to recipients.",
    "OAuth 2.0 client credentials and short-lived signed JWT access tokens; passwordless "
    "member sign-in with single-use, rate-limited codes.",
    "Retention rules enforced by a sweeper; legal holds suspend them per member.",
]

MEMBERS = ["loyalty program members"]


@dataclass(frozen=True)
class RegisteredClient:
    """A client registered in the database, as the record of processing lists it."""

    client_id: str
    name: str
    kind: str
    purposes: tuple[str, ...]
    active: bool
    webhook: bool  # is sent events about members (their member number)

    def as_json(self) -> dict[str, Any]:
        return {"clientId": self.client_id, "name": self.name, "kind": self.kind,
                "purposes": list(self.purposes), "active": self.active,
                "webhook": self.webhook}


@dataclass(frozen=True)
class SupportingActivity:
    """Processing the service does for its own obligations, besides the policy's purposes."""

    key: str
    title: str
    purpose: str
    legal_basis: str
    data: tuple[str, ...]  # what is processed, in words
    records: tuple[str, ...]  # the kinds of record kept (keys of KEPT_RECORDS)
    processors_for: tuple[str, ...] = ()  # categories whose processors take part
    webhooks: bool = False  # its recipients are the clients sent webhooks
    internal: str = "compliance officers"  # who inside reads it


SUPPORTING_ACTIVITIES: tuple[SupportingActivity, ...] = (
    SupportingActivity(
        "access_log", "Access log",
        "Record every read of member data before it is answered, so members can see who "
        "read their data and why, and the controller can prove it (GDPR Art. 5(2), 15).",
        "legal_obligation",
        ("internal member id", "reader (client, officer, member)", "purpose declared",
         "names of the fields returned and denied; never values"), ("access_log",),
        internal="compliance officers; each member for their own entries"),
    SupportingActivity(
        "consent_evidence", "Consent records and their evidence",
        "Prove every consent given or withdrawn (GDPR Art. 7(1)) and produce consent "
        "receipts.", "legal_obligation",
        ("internal member id", "purpose, decision, notice version, time, channel, actor",
         "evidence: keyed hash of the IP address, user agent (sealed under the member's "
         "data key), Global Privacy Control signal"), ("consent_record",),
        internal="compliance officers; each member for their own records"),
    SupportingActivity(
        "sign_in", "Member sign-in",
        "Let members sign in to their privacy centre with a one-time code sent by email.",
        "contract",
        ("email address (as a keyed blind index; the code is mailed to it)",
         "keyed hash of the one-time code", "wrong guesses counted per address"),
        ("sign_in_code",), processors_for=("contact.email",), internal="nobody"),
    SupportingActivity(
        "data_subject_requests", "Data subject requests",
        "Carry out members' requests for access, portability, erasure, rectification, "
        "restriction and objection within their legal deadlines (GDPR Art. 12-22).",
        "legal_obligation",
        ("internal member id", "request type, state, dates and deadline",
         "how identity was verified", "reasons given", "export archives (every personal "
         "value, sealed under the member's data key)"),
        ("data_subject_request", "export_archive")),
    SupportingActivity(
        "webhooks", "Notifications to recipients",
        "Tell the services that received a member's data of consent changes, restriction, "
        "objection, rectification and erasure (GDPR Art. 19).", "legal_obligation",
        ("member number", "what changed (purpose, fields changed; never values)",
         "delivery and acknowledgement times"), ("outbox_event",), webhooks=True),
    SupportingActivity(
        "legal_holds", "Legal holds",
        "Keep a member's data from erasure and retention while it is needed for legal "
        "claims or a legal obligation (GDPR Art. 17(3)(b), (e)), restricting its "
        "processing meanwhile (Art. 18(2)).", "legal_obligation",
        ("internal member id", "reason, the data categories kept, who placed and lifted "
         "it, when"), ("legal_hold",)),
    SupportingActivity(
        "suppression_list", "Marketing suppression list",
        "Keep an erased member's opt-out of direct marketing effective: an address on the "
        "list is not used for marketing again until its owner grants it themself (GDPR "
        "Art. 21(3)).", "legal_obligation",
        ("keyed hash (HMAC-SHA256) of the email address, never the address",),
        ("suppression_hash",)),
)


def _recipients(clients: Iterable[RegisteredClient], purposes: Iterable[str]) -> list[
        dict[str, Any]]:
    wanted = set(purposes)
    return [c.as_json() for c in sorted(clients, key=lambda c: c.client_id)
            if wanted & set(c.purposes)]


def _processors(policy: Policy, categories: Iterable[str]) -> list[str]:
    wanted = set(categories)
    return [p.name for p in policy.processors.values() if wanted & set(p.categories)]


def _time_limit(policy: Policy, records: Iterable[str]) -> list[dict[str, Any]]:
    by_key = {r.key: r for r in KEPT_RECORDS}
    rules = list(policy.retention.values())
    return [{"record": key, "title": by_key[key].title,
             "timeLimit": retention_of(by_key[key], rules),
             "keptWithoutTimeLimit": kept_indefinitely(by_key[key], rules)}
            for key in records]


def _category_time_limit(policy: Policy, categories: Sequence[str]) -> list[str]:
    rules = [r for r in policy.retention.values()
             if r.applies_to == "member" or r.applies_to in categories]
    return [r.describe() for r in rules]


def record_of_processing(policy: Policy,
                         clients: Sequence[RegisteredClient]) -> dict[str, Any]:
    address = policy.controller_address
    rules = list(policy.retention.values())
    activities = [{
        "purpose": p.key,
        "title": p.title,
        "legalBasis": p.legal_basis,
        "description": p.notice,
        "dataSubjects": MEMBERS,
        "dataCategories": [{"category": c, "title": policy.categories[c].title}
                           for c in p.categories],
        "recipients": _recipients(clients, [p.key]),
        "processors": _processors(policy, p.categories),
        "erasureTimeLimits": _category_time_limit(policy, p.categories),
    } for p in policy.purposes.values()]
    every_category = list(policy.categories)
    supporting = [{
        "activity": a.key,
        "title": a.title,
        "purpose": a.purpose,
        "legalBasis": a.legal_basis,
        "dataSubjects": MEMBERS,
        "data": list(a.data),
        "recipients": ([c.as_json() for c in sorted(clients, key=lambda c: c.client_id)
                        if c.webhook] if a.webhooks else []),
        "internalAccess": a.internal,
        "processors": _processors(policy, a.processors_for or every_category),
        "erasureTimeLimits": _time_limit(policy, a.records),
    } for a in SUPPORTING_ACTIVITIES]
    return {
        "controller": {"name": policy.controller,
                       "address": address.one_line() if address else None,
                       "dpo": policy.dpo_contact},
        "policyVersion": policy.version,
        "processingActivities": activities,
        "supportingActivities": supporting,
        "recipients": [c.as_json() for c in sorted(clients, key=lambda c: c.client_id)],
        "processors": [{"key": p.key, "name": p.name, "service": p.service,
                        "country": p.country, "categories": list(p.categories)}
                       for p in policy.processors.values()],
        "transfersToThirdCountries": policy.transfers,
        "transfers": [{"recipient": t.recipient, "country": t.country,
                       "safeguard": t.safeguard, "safeguardText": t.safeguard_text,
                       "details": t.details} for t in policy.third_country_transfers.values()],
        "erasureTimeLimits": [{"rule": r.name, "appliesTo": r.applies_to, "after": str(r.after),
                               "anchor": r.anchor, "action": r.action,
                               "description": r.describe()}
                              for r in rules],
        "keptWithoutTimeLimit": [{"record": r.key, "title": r.title,
                                  "reason": retention_of(r, rules)}
                                 for r in KEPT_RECORDS if kept_indefinitely(r, rules)],
        "securityMeasures": SECURITY_MEASURES,
    }


def _client_line(client: dict[str, Any]) -> str:
    state = "" if client["active"] else ", inactive"
    webhook = ", sent webhooks" if client["webhook"] else ""
    return f"{client['name']} (`{client['clientId']}`, {client['kind']}{state}{webhook})"


def as_markdown(record: dict[str, Any]) -> str:
    controller = record["controller"]
    address = f", {controller['address']}" if controller["address"] else ""
    lines = ["# Record of processing activities (GDPR Art. 30)", "",
             f"Controller: {controller['name']}{address}; "
             f"data protection officer: {controller['dpo']}. "
             f"Policy version {record['policyVersion']}.", "", "## Processing activities", ""]
    for activity in record["processingActivities"]:
        categories = ", ".join(c["title"] for c in activity["dataCategories"])
        recipients = ", ".join(_client_line(c) for c in activity["recipients"])
        lines += [f"### {activity['title']} (`{activity['purpose']}`)", "",
                  f"- Legal basis: {activity['legalBasis']}",
                  f"- Purpose: {activity['description']}",
                  f"- Data subjects: {', '.join(activity['dataSubjects'])}",
                  f"- Categories of data: {categories}",
                  f"- Recipients: {recipients or 'none registered'}",
                  f"- Processors: {', '.join(activity['processors']) or 'none'}",
                  f"- Time limits for erasure: {' '.join(activity['erasureTimeLimits'])}", ""]
    lines += ["## Supporting activities", ""]
    for activity in record["supportingActivities"]:
        recipients = ", ".join(_client_line(c) for c in activity["recipients"])
        limits = " ".join(f"{t['title']}: {t['timeLimit']}"
                          for t in activity["erasureTimeLimits"])
        lines += [f"### {activity['title']} (`{activity['activity']}`)", "",
                  f"- Legal basis: {activity['legalBasis']}",
                  f"- Purpose: {activity['purpose']}",
                  f"- Data subjects: {', '.join(activity['dataSubjects'])}",
                  f"- Data: {'; '.join(activity['data'])}",
                  f"- Recipients: {recipients or 'none'}; inside: "
                  f"{activity['internalAccess']}",
                  f"- Processors: {', '.join(activity['processors']) or 'none'}",
                  f"- Time limits for erasure: {limits}", ""]
    lines += ["## Recipients", ""]
    lines += [f"- {_client_line(c)}: {', '.join(c['purposes'])}" for c in record["recipients"]]
    if not record["recipients"]:
        lines.append("No client is registered.")
    lines += ["", "## Processors", ""]
    lines += [f"- {p['name']} ({p['country']}): {p['service']}; "
              f"{', '.join(p['categories'])}" for p in record["processors"]]
    lines += ["", "## Transfers to third countries", "", record["transfersToThirdCountries"]]
    lines += [f"- {t['recipient']} ({t['country']}): {t['safeguardText']}; {t['details']}"
              for t in record["transfers"]]
    lines += ["", "## Time limits for erasure", ""]
    lines += [f"- {r['description']} (rule `{r['rule']}`)" for r in record["erasureTimeLimits"]]
    lines += ["", "Kept without a time limit:", ""]
    lines += [f"- {r['title']} (`{r['record']}`): {r['reason']}"
              for r in record["keptWithoutTimeLimit"]]
    lines += ["", "## Security measures", ""]
    lines += [f"- {m}" for m in record["securityMeasures"]]
    return "\n".join(lines) + "\n"
