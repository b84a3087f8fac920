"""Shared queries and principals of the request tests."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api, client_token, create_principal

OPEN = """mutation($input: OpenRequestInput!) { openMyRequest(input: $input) {
  request { id type state dueAt overdue transitions { fromState toState actor reason } }
  errors { field code } } }"""
OPEN_FOR = """mutation($m: ID!, $input: OpenRequestInput!, $v: String) {
  openRequestFor(memberId: $m, input: $input, identityVerification: $v) {
    request { id state } errors { field code } } }"""
MY_STATUS = "{ myProcessingStatus { restricted objectedPurposes } }"


def officer_api(http: Any, services: Any, client_id: str = "officer-ola") -> Api:
    return Api(http, client_token(http, client_id, create_principal(services, client_id,
                                                                     "officer")))
