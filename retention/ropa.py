"""The record of processing activities (GDPR Art. 30(1)(a)-(g)), generated from the same
policy file the service enforces, so what is documented cannot drift from what is done."""

from __future__ import annotations

from typing import Any

from vaultkernel.policy import Policy

SECURITY_MEASURES = [
    "Personal values encrypted at rest with a per-member AES-256-GCM data key, wrapped by a "
    "key-encryption key held outside the database (rotatable).",
    "Equality look-ups through keyed HMAC-SHA256 blind indexes; no plaintext index.",
    "Purpose-bound, consent-gated reads for every client; least-privilege roles for "
    "members, clients, officers and admins.",
    "Every read of member data written to a hash-chained access log before it is answered.",
    "Erasure by crypto-shredding the member's data key, with propagation to recipients.",
    "OAuth 2.0 client credentials and short-lived signed JWT access tokens; passwordless "
    "member sign-in with single-use, rate-limited codes.",
    "Retention rules enforced by a sweeper; legal holds suspend them per member.",
]


def record_of_processing(policy: Policy) -> dict[str, Any]:
    recipients: dict[str, list[str]] = {}
    for client in policy.clients.values():
        for purpose in client.purposes:
            recipients.setdefault(purpose, []).append(f"{client.name} ({client.kind})")
    return {
        "controller": {"name": policy.controller, "dpo": policy.dpo_contact},
        "policyVersion": policy.version,
        "processingActivities": [{
            "purpose": p.key,
            "title": p.title,
            "legalBasis": p.legal_basis,
            "description": p.notice,
            "dataSubjects": ["loyalty program members"],
            "dataCategories": [{"category": c, "title": policy.categories[c].title}
                               for c in p.categories],
            "recipients": sorted(recipients.get(p.key, [])),
        } for p in policy.purposes.values()],
        "transfersToThirdCountries": policy.transfers,
        "erasureTimeLimits": [{"rule": r.name, "appliesTo": r.applies_to, "after": str(r.after),
                               "anchor": r.anchor, "action": r.action,
                               "description": r.describe()}
                              for r in policy.retention.values()],
        "securityMeasures": SECURITY_MEASURES,
    }


def as_markdown(record: dict[str, Any]) -> str:
    lines = ["# Record of processing activities (GDPR Art. 30)", "",
             f"Controller: {record['controller']['name']}; "
             f"data protection officer: {record['controller']['dpo']}. "
             f"Policy version {record['policyVersion']}.", "", "## Processing activities", ""]
    for activity in record["processingActivities"]:
        categories = ", ".join(c["title"] for c in activity["dataCategories"])
        lines += [f"### {activity['title']} (`{activity['purpose']}`)", "",
                  f"- Legal basis: {activity['legalBasis']}",
                  f"- Purpose: {activity['description']}",
                  f"- Data subjects: {', '.join(activity['dataSubjects'])}",
                  f"- Categories of data: {categories}",
                  f"- Recipients: {', '.join(activity['recipients']) or 'none'}", ""]
    lines += ["## Transfers to third countries", "", record["transfersToThirdCountries"], "",
              "## Time limits for erasure", ""]
    lines += [f"- {r['description']} (rule `{r['rule']}`)" for r in record["erasureTimeLimits"]]
    lines += ["", "## Security measures", ""]
    lines += [f"- {m}" for m in record["securityMeasures"]]
    return "\n".join(lines) + "\n"
