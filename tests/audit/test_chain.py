"""The entry format (audit.chain): reads collected group by group pack exactly as the
same reads given one by one, so entries written either way verify alike."""

from __future__ import annotations

import uuid

from audit import chain
from audit.chain import Read, ReadGroups


def test_groups_pack_as_the_same_reads_given_one_by_one() -> None:
    first, second, third = (uuid.UUID(int=n) for n in (3, 1, 2))
    groups = ReadGroups()
    groups.group(["given_name", "email"], {"phone": "CONSENT_REQUIRED"}).append(first)
    groups.group(["email"], {"phone": "CONSENT_REQUIRED", "email": "X"}).append(third)
    # The same fields in another order name the same group.
    groups.group(["email", "given_name"], {"phone": "CONSENT_REQUIRED"}).append(second)
    one_by_one = [Read(first, ["given_name", "email"], {"phone": "CONSENT_REQUIRED"}),
                  Read(second, ["email", "given_name"], {"phone": "CONSENT_REQUIRED"}),
                  Read(third, ["email"], {"phone": "CONSENT_REQUIRED", "email": "X"})]
    assert chain.pack(groups) == chain.pack(one_by_one)
    assert sorted(groups, key=lambda r: r.member_id) == sorted(
        (Read(r.member_id, sorted(r.returned), {k: v for k, v in r.denied.items()
                                                if k not in r.returned})
         for r in one_by_one), key=lambda r: r.member_id)


def test_a_member_in_two_groups_is_merged_into_one() -> None:
    member = uuid.uuid4()
    groups = ReadGroups()
    groups.group(["email"], {}).append(member)
    groups.group(["phone"], {"email": "CONSENT_REQUIRED"}).append(member)
    packed, count = chain.pack(groups)
    assert count == 1
    assert list(chain.unpack(packed)) == [Read(member, ["email", "phone"], {})]


def test_no_groups_pack_as_an_answer_that_named_nobody() -> None:
    assert chain.pack(ReadGroups()) == chain.pack([]) == ("[]", 0)
