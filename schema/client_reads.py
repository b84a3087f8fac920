"""Purpose-bound reads for client services (design rule 1), logged before answering."""

from __future__ import annotations

import datetime as dt
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from audit.access_log import Access, append
from consent import gate
from consent.gate import MemberData as GatedData
from schema.access import Role, guarded, reachable_by
from schema.names import GRAPHQL_NAME
from schema.selection import requested_attributes
from schema.types import PostalAddress
from vaultkernel.errors import DomainError


@strawberry.type(description="A field left null, and why (a stable reason code).",
                 directives=reachable_by(Role.MEMBER_SELF, Role.CLIENT, Role.OFFICER, Role.ADMIN))
class DeniedField:
    field: str
    reason: str


@strawberry.type(description="A member's data as one purpose permits: a denied field is "
                 "null and listed in `denied` with its reason.",
                 directives=reachable_by(Role.CLIENT))
class MemberData:
    member_number: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    email: str | None = None
    phone: str | None = None
    birthdate: dt.date | None = None
    postal_address: PostalAddress | None = None
    preferred_language: str | None = None
    preferences: JSON | None = None
    denied: list[DeniedField] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, data: GatedData) -> MemberData:
        values = dict(data.values)
        if values.get("birthdate"):
            values["birthdate"] = dt.date.fromisoformat(values["birthdate"])
        if values.get("postal_address"):
            address = values["postal_address"]
            values["postal_address"] = PostalAddress(
                lines=address["lines"], locality=address["locality"],
                region=address.get("region"), postal_code=address.get("postal_code"),
                country=address["country"])
        return cls(**values, denied=[DeniedField(field=GRAPHQL_NAME[f], reason=r)
                                     for f, r in sorted(data.decision.denied.items())])


@strawberry.type(directives=reachable_by(Role.CLIENT))
class MemberDataPage:
    items: list[MemberData]
    next_cursor: str | None = strawberry.field(
        description="Pass as `after` for the next page; null on the last page.")


@strawberry.type(directives=reachable_by(Role.CLIENT))
class ConsentCheck:
    member_number: str
    permitted: bool
    reason: str | None


def log_reads(info: Info, purpose: str, reads: list[tuple[Any, list[str], dict[str, str]]]) -> None:
    """Write the access log before the answer leaves; without it, no answer (fail closed)."""
    ctx = info.context
    accesses = [Access(principal=ctx.principal.actor, purpose=purpose, member_id=member_id,
                       fields_returned=returned, fields_denied=denied_fields)
                for member_id, returned, denied_fields in reads if member_id is not None]
    append(ctx.services.db, accesses, ctx.request_id,
           clock=ctx.services.clock)  # AccessLogUnavailable: no answer


def _purpose(info: Info, key: str) -> Any:
    return info.context.services.policy.purposes[key]


@strawberry.type
class ClientQuery:
    @strawberry.field(
        description="One member's data for a declared purpose, found by exactly one of "
        "memberNumber, email or phone. An unknown member is answered like one who has not "
        "consented, so the answer never reveals who is a member.",
        extensions=guarded(Role.CLIENT, purpose_argument="purpose"))
    def member_data(self, info: Info, purpose: str, member_number: str | None = None,
                    email: str | None = None, phone: str | None = None) -> MemberData:
        keys = [(k, v) for k, v in (("member_number", member_number), ("email", email),
                                    ("phone", phone)) if v is not None]
        if len(keys) != 1:
            raise DomainError("ONE_KEY_REQUIRED",
                              "give exactly one of memberNumber, email or phone")
        ctx = info.context
        kind = keys[0][0]
        # Looking a member up by email or phone uses that value: only a purpose that covers
        # it may (the member number is the public handle every client may use).
        if kind != "member_number" and kind not in ctx.services.policy.attributes_of(purpose):
            raise DomainError("LOOKUP_KEY_NOT_IN_PURPOSE",
                         f"purpose {purpose} does not cover {kind}; look up by memberNumber")
        requested = requested_attributes(info)
        data = gate.read_one(ctx.uow.session, ctx.services.crypto, ctx.services.policy,
                             _purpose(info, purpose), requested, kind=kind, key=keys[0][1],
                             default_region=ctx.services.settings.default_region)
        log_reads(info, purpose, [(data.member_id, list(data.decision.allowed),
                                   data.decision.denied)])
        return MemberData.of(data)

    @strawberry.field(
        description="Every member for whom the purpose is permitted now, a page at a time "
        "(at most 1000), with the fields the purpose covers.",
        extensions=guarded(Role.CLIENT, purpose_argument="purpose"))
    def audience(self, info: Info, purpose: str, first: int = 100,
                 after: str | None = None) -> MemberDataPage:
        ctx = info.context
        if not 1 <= first <= gate.MAX_PAGE:
            raise DomainError("INVALID_PAGE_SIZE", f"first must be between 1 and {gate.MAX_PAGE}")
        bound = f"audience:{ctx.principal.client_id}:{purpose}"
        position = ctx.services.cursors.decode_id(after, bound_to=bound) if after else None
        requested = requested_attributes(info, ("items",))
        page = gate.read_page(ctx.uow.session, ctx.services.crypto, ctx.services.policy,
                              _purpose(info, purpose), requested, first=first, after=position)
        log_reads(info, purpose, [(d.member_id, list(d.decision.allowed), d.decision.denied)
                                  for d in page])
        last = page[-1].member_id if len(page) == first else None
        return MemberDataPage(
            items=[MemberData.of(d) for d in page],
            next_cursor=ctx.services.cursors.encode_id(last, bound_to=bound) if last else None)

    @strawberry.field(
        description="Whether the purpose is permitted now, for up to 10,000 member numbers.",
        extensions=guarded(Role.CLIENT, purpose_argument="purpose"))
    def consent_check(self, info: Info, purpose: str,
                      member_numbers: list[str]) -> list[ConsentCheck]:
        ctx = info.context
        if len(member_numbers) > gate.MAX_CONSENT_CHECK:
            raise DomainError("TOO_MANY",
                              f"at most {gate.MAX_CONSENT_CHECK} member numbers per call")
        answers = gate.check_many(ctx.uow.session, ctx.services.crypto, _purpose(info, purpose),
                                  member_numbers)
        field = f"consent:{purpose}"
        log_reads(info, purpose, [(member_id, [field] if reason is None else [],
                                   {} if reason is None else {field: reason})
                                  for _, member_id, reason in answers])
        return [ConsentCheck(member_number=number, permitted=reason is None, reason=reason)
                for number, _, reason in answers]
