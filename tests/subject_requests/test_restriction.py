"""Restriction requests: applied at once, or once identity is verified."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api
from tests.subject_requests.support import MY_STATUS, OPEN, OPEN_FOR


def test_a_member_restricts_processing_by_request(jane_api: Api) -> None:
    payload = jane_api.graphql(OPEN, {"input": {"type": "RESTRICTION"}})["data"]["openMyRequest"]
    assert payload["errors"] == []
    assert payload["request"]["state"] == "COMPLETED"
    assert [t["toState"] for t in payload["request"]["transitions"]] == [
        "RECEIVED", "IN_PROGRESS", "COMPLETED"]
    assert jane_api.graphql(MY_STATUS)["data"]["myProcessingStatus"]["restricted"] is True


def test_verifying_identity_carries_out_a_restriction(officer: Api, jane: dict[str, Any],
                                                      jane_api: Api) -> None:
    opened = officer.graphql(OPEN_FOR, {"m": jane["id"], "v": None,
                                        "input": {"type": "RESTRICTION"}})
    request = opened["data"]["openRequestFor"]["request"]
    assert request["state"] == "IDENTITY_VERIFICATION"
    status = "{ myProcessingStatus { restricted } }"
    assert jane_api.graphql(status)["data"]["myProcessingStatus"]["restricted"] is False
    verified = officer.graphql(
        """mutation($id: ID!) { verifyRequestIdentity(requestId: $id, method: "id seen")
           { request { state } errors { code } } }""", {"id": request["id"]})
    assert verified["data"]["verifyRequestIdentity"]["request"]["state"] == "COMPLETED"
    assert jane_api.graphql(status)["data"]["myProcessingStatus"]["restricted"] is True
