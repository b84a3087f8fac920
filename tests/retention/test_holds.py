"""Officers place, lift and list legal holds; bad input is refused."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.testclient import TestClient

from membervault.services import Services
from tests.conftest import Api
from tests.retention.support import HOLDS, LIFT, PLACE, officer


def test_legal_hold_input_is_checked(http: TestClient, services: Services,
                                     jane: dict[str, Any], jane_api: Api) -> None:
    desk = officer(http, services)
    cases = [
        ({"m": jane["id"], "r": "   "}, "REASON_REQUIRED"),
        ({"m": jane["id"], "r": "x" * 1001}, "REASON_REQUIRED"),
        ({"m": jane["id"], "r": "audit", "e": "2001-01-01T00:00:00Z"}, "EXPIRY_IN_PAST"),
        ({"m": str(uuid.uuid4()), "r": "audit"}, "MEMBER_NOT_FOUND"),
    ]
    for variables, code in cases:
        payload = desk.graphql(PLACE, variables)["data"]["placeLegalHold"]
        assert payload["hold"] is None and [e["code"] for e in payload["errors"]] == [code]
    naive = desk.graphql(PLACE, {"m": jane["id"], "r": "audit", "e": "2999-01-01T00:00:00"})
    assert [e["extensions"]["code"] for e in naive["errors"]] == ["INVALID_DATETIME"]
    bad_id = desk.graphql(PLACE, {"m": "not-an-id", "r": "audit"})
    assert [e["extensions"]["code"] for e in bad_id["errors"]] == ["INVALID_MEMBER_ID"]
    unknown = desk.graphql(LIFT, {"h": str(uuid.uuid4())})["data"]["liftLegalHold"]
    assert [e["code"] for e in unknown["errors"]] == ["NOT_FOUND"]
    assert desk.graphql(HOLDS, {"m": jane["id"]})["data"]["legalHolds"]["items"] == []
    # A member cannot place or see holds.
    refused = jane_api.graphql(HOLDS, {"m": jane["id"]})
    assert [e["extensions"]["code"] for e in refused["errors"]] == ["FORBIDDEN"]
