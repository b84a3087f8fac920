"""Access requests wait for the worker; one export a day."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api
from tests.subject_requests.support import OPEN


def test_an_access_request_waits_for_the_worker_and_duplicates_are_refused(
        jane_api: Api) -> None:
    first = jane_api.graphql(OPEN, {"input": {"type": "ACCESS"}})["data"]["openMyRequest"]
    assert first["request"]["state"] == "IN_PROGRESS"
    assert first["request"]["overdue"] is False
    again = jane_api.graphql(OPEN, {"input": {"type": "ACCESS"}})["data"]["openMyRequest"]
    assert again["errors"] == [{"field": None, "code": "DUPLICATE"}]
    mine = jane_api.graphql("{ myRequests { type state } }")["data"]["myRequests"]
    assert mine == [{"type": "ACCESS", "state": "IN_PROGRESS"}]


def test_one_export_a_day(jane_api: Api, services: Any) -> None:
    from membervault import worker

    opened = jane_api.graphql("mutation { openMyRequest(input: {type: ACCESS}) "
                              "{ request { id } errors { code } } }")
    assert opened["data"]["openMyRequest"]["errors"] == []
    worker.run_once(services)
    again = jane_api.graphql("mutation { openMyRequest(input: {type: ACCESS}) "
                             "{ request { id } errors { code } } }")
    assert again["data"]["openMyRequest"]["errors"] == [{"code": "TOO_SOON"}]
