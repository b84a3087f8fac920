"""How long closed requests are kept: the sweeper's handler for the retention rule kind
``data_subject_request`` / ``closed`` / ``delete``. The requests live above retention, so
the composition root gives the sweeper this handler (:data:`HANDLERS`) beside its own."""

from __future__ import annotations

import datetime as dt
from typing import Any

from retention.sweeper import DeleteRows, Handler, Kind
from subject_requests.models import DataSubjectRequest


class ClosedRequests(DeleteRows):
    """Requests closed longer ago than the rule says."""

    key_column = (DataSubjectRequest.id,)

    def due(self, now: dt.datetime) -> list[Any]:
        return [DataSubjectRequest.closed_at < self.rule.after.before(now)]

    def member_column(self) -> Any:
        return DataSubjectRequest.member_id


HANDLERS: dict[Kind, list[type[Handler]]] = {
    ("data_subject_request", "closed", "delete"): [ClosedRequests],
}
