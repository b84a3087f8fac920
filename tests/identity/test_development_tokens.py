"""Development tokens (identity/development_tokens.py): a client's and a member's, each
verified by the service's own verifier; refused in production, before anything is
written."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from identity import development_tokens
from identity.errors import IdentityError
from identity.models import SigningKey
from membervault.services import Services
from tests.conftest import create_principal


def test_a_client_gets_a_token_for_the_purposes_it_is_registered_for(
        services: Services) -> None:
    create_principal(services, "crm-sync", purposes=("loyalty.membership",))
    with services.db.unit_of_work() as uow:
        token = development_tokens.client_token(uow, services.issuer, services.keyring,
                                                services.settings, "crm-sync")
    principal = services.verifier.verify(token)
    assert (principal.role, principal.subject) == ("client", "crm-sync")
    assert principal.purposes == {"loyalty.membership"}


def test_an_unknown_client_gets_none(services: Services) -> None:
    with services.db.unit_of_work() as uow, pytest.raises(IdentityError) as refused:
        development_tokens.client_token(uow, services.issuer, services.keyring,
                                        services.settings, "nobody")
    assert refused.value.code == "NOT_FOUND"


def test_a_member_gets_a_token_by_member_number(services: Services,
                                                jane: dict[str, Any]) -> None:
    with services.db.unit_of_work() as uow:
        token = development_tokens.member_token(uow, services.issuer, services.keyring,
                                                services.crypto, services.settings,
                                                jane["memberNumber"])
    principal = services.verifier.verify(token)
    assert (principal.role, principal.subject) == ("member", jane["id"])


@pytest.mark.parametrize(("number", "code"), [("123", "INVALID_MEMBER_NUMBER"),
                                              ("513242406975", "MEMBER_NOT_FOUND")])
def test_a_number_that_names_no_member_gets_none(services: Services, number: str,
                                                 code: str) -> None:
    with services.db.unit_of_work() as uow, pytest.raises(IdentityError) as refused:
        development_tokens.member_token(uow, services.issuer, services.keyring,
                                        services.crypto, services.settings, number)
    assert refused.value.code == code
    assert number not in refused.value.message


def test_production_refuses_before_writing_a_signing_key(services: Services) -> None:
    create_principal(services, "crm-sync", purposes=("loyalty.membership",))
    with services.db.engine.begin() as connection:
        connection.execute(sa.delete(SigningKey))
    production = services.settings.replace(mode="production")
    with services.db.unit_of_work() as uow, pytest.raises(IdentityError) as refused:
        development_tokens.client_token(uow, services.issuer, services.keyring, production,
                                        "crm-sync")
    assert refused.value.code == "FORBIDDEN"
    with services.db.unit_of_work() as uow:
        assert uow.session.scalar(sa.select(sa.func.count()).select_from(SigningKey)) == 0
        development_tokens.client_token(uow, services.issuer, services.keyring,
                                        services.settings, "crm-sync")
    with services.db.unit_of_work() as uow:
        assert uow.session.scalar(sa.select(sa.func.count()).select_from(SigningKey)) == 1
