"""Least privilege: every GraphQL field states who may reach it (design rule 9)."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import GraphQLObjectType
from strawberry.permission import PermissionExtension

from identity.principal import Principal
from schema.access import Allow, access_of
from schema.schema import build_schema
from vaultkernel.errors import DomainError
from vaultkernel.settings import Settings

SCHEMA = build_schema(Settings())
GRAPHQL = SCHEMA._schema
ROOTS = {"Query", "Mutation"}


def object_types() -> list[GraphQLObjectType]:
    return [t for name, t in GRAPHQL.type_map.items()
            if isinstance(t, GraphQLObjectType) and not name.startswith("__")]


def root_fields() -> list[tuple[str, str, Any]]:
    found = []
    for root in ROOTS:
        gql_type = GRAPHQL.type_map[root]
        assert isinstance(gql_type, GraphQLObjectType)
        for name, field in gql_type.fields.items():
            found.append((root, name, field.extensions["strawberry-definition"]))
    return found


def permissions_of(definition: Any) -> list[Allow]:
    return [p for ext in definition.extensions if isinstance(ext, PermissionExtension)
            for p in ext.permissions if isinstance(p, Allow)]


@pytest.mark.parametrize(("root", "name", "definition"), root_fields(),
                         ids=[f"{r}.{n}" for r, n, _ in root_fields()])
def test_every_root_field_is_guarded(root: str, name: str, definition: Any) -> None:
    permissions = permissions_of(definition)
    assert len(permissions) == 1, f"{root}.{name} has no Allow rule"
    assert permissions[0].roles, f"{root}.{name} allows nobody"


def test_every_object_type_names_who_may_be_handed_it() -> None:
    missing = [t.name for t in object_types() if t.name not in ROOTS
               and access_of(t.extensions["strawberry-definition"]) is None]
    assert missing == []


def test_the_rules_are_printed_in_the_sdl() -> None:
    sdl = SCHEMA.as_str()
    for root, name, _ in root_fields():
        line = next(line for line in sdl.splitlines()
                    if line.strip().startswith((f"{name}(", f"{name}:")))
        assert "@access(roles:" in line, f"{root}.{name} does not print its rule"


class FakeInfo:
    def __init__(self, principal: Principal | None):
        self.context = type("Ctx", (), {"principal": principal})()


@pytest.mark.parametrize(("root", "name", "definition"), root_fields(),
                         ids=[f"{r}.{n}" for r, n, _ in root_fields()])
def test_no_root_field_is_reachable_anonymously(root: str, name: str, definition: Any) -> None:
    with pytest.raises(DomainError) as raised:
        permissions_of(definition)[0].has_permission(None, FakeInfo(None))  # type: ignore[arg-type]
    assert raised.value.code == "UNAUTHENTICATED"


@pytest.mark.parametrize(("root", "name", "definition"), root_fields(),
                         ids=[f"{r}.{n}" for r, n, _ in root_fields()])
def test_roles_outside_the_rule_are_refused(root: str, name: str, definition: Any) -> None:
    allow = permissions_of(definition)[0]
    allowed = {r.value.replace("member_self", "member") for r in allow.roles}
    for role in {"member", "client", "officer", "admin"} - allowed:
        principal = Principal(role=role, subject="x")
        with pytest.raises(DomainError) as raised:
            allow.has_permission(None, FakeInfo(principal))  # type: ignore[arg-type]
        assert raised.value.code == "FORBIDDEN"
