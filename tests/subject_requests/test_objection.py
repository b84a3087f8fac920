"""Objection requests name the purpose objected to."""

from __future__ import annotations

from tests.conftest import Api
from tests.subject_requests.support import MY_STATUS, OPEN


def test_an_objection_request_names_its_purpose(jane_api: Api) -> None:
    missing = jane_api.graphql(OPEN, {"input": {"type": "OBJECTION"}})["data"]["openMyRequest"]
    assert missing["errors"] == [{"field": "purpose", "code": "PURPOSE_REQUIRED"}]
    done = jane_api.graphql(OPEN, {"input": {"type": "OBJECTION",
                                             "purpose": "analytics.segmentation"}})
    assert done["data"]["openMyRequest"]["request"]["state"] == "COMPLETED"
    assert jane_api.graphql(MY_STATUS)["data"]["myProcessingStatus"]["objectedPurposes"] == [
        "analytics.segmentation"]
