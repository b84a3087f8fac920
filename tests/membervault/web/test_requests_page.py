"""The member's requests: open, follow the state and due date, download the copy."""

from __future__ import annotations

import io
import re
import uuid
import zipfile
from typing import Any

from membervault.services import Services
from subject_requests import access
from subject_requests.models import DataSubjectRequest
from tests.audit.support import logged
from tests.membervault.web.support import Visitor
from vaultkernel.clock import utcnow


def requests_of(services: Services, member_id: str) -> list[DataSubjectRequest]:
    import sqlalchemy as sa

    with services.db.unit_of_work() as uow:
        return list(uow.session.scalars(sa.select(DataSubjectRequest).where(
            DataSubjectRequest.member_id == uuid.UUID(member_id))))


def test_an_access_request_is_opened_followed_and_downloaded(
        jane_web: Visitor, jane: dict[str, Any], services: Services) -> None:
    assert "You have no requests yet." in jane_web.get("/privacy/requests").text
    opened = jane_web.post("/privacy/requests", {"type": "access"})
    page = jane_web.follow(opened).text
    assert "Your request is open." in page
    row = page.split("<tbody>")[1].split("</tr>")[0]
    assert "A copy of your data" in row and "In progress" in row
    (request,) = requests_of(services, jane["id"])
    assert request.type == "access" and request.opened_by == f"member:{jane['id']}"
    assert request.due_at.strftime("%B") in row  # the due date, a month on

    assert access.build_pending_exports(services.db, services.exports, now=utcnow()) == 1
    page = jane_web.get("/privacy/requests").text
    link = f"/privacy/requests/{request.id}/export"
    assert f'href="{link}"' in page and "Done" in page
    before = len(logged(services))
    download = jane_web.get(link)
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/zip"
    assert download.headers["cache-control"] == "no-store"
    assert "attachment" in download.headers["content-disposition"]
    assert "member.json" in zipfile.ZipFile(io.BytesIO(download.content)).namelist()
    after = logged(services)
    assert len(after) == before + 1 and after[-1].fields_returned == ["export_archive"]


def test_someone_elses_or_an_unknown_download_is_not_found(
        jane_web: Visitor, jane: dict[str, Any], services: Services) -> None:
    jane_web.post("/privacy/requests", {"type": "access"})
    access.build_pending_exports(services.db, services.exports, now=utcnow())
    (request,) = requests_of(services, jane["id"])
    for path in (f"/privacy/requests/{uuid.uuid4()}/export", "/privacy/requests/x/export"):
        assert jane_web.get(path).status_code == 404
    jane_web.post("/privacy/sign-out")
    assert jane_web.get(f"/privacy/requests/{request.id}/export").status_code == 303


def test_a_second_open_request_of_a_kind_is_refused(jane_web: Visitor) -> None:
    jane_web.post("/privacy/requests", {"type": "access"})
    again = jane_web.post("/privacy/requests", {"type": "access"})
    assert "You already have an open request of this kind." in jane_web.follow(again).text


def test_erasure_asks_for_confirmation(jane_web: Visitor, jane: dict[str, Any],
                                       services: Services) -> None:
    unconfirmed = jane_web.post("/privacy/requests", {"type": "erasure"})
    assert unconfirmed.headers["location"] == "/privacy/requests#erasure"
    assert "Tick the box" in jane_web.follow(unconfirmed).text
    assert requests_of(services, jane["id"]) == []
    confirmed = jane_web.post("/privacy/requests", {"type": "erasure", "confirm": "yes"})
    row = jane_web.follow(confirmed).text.split("<tbody>")[1]
    assert "Erase your data" in row
    assert [r.type for r in requests_of(services, jane["id"])] == ["erasure"]


def test_restriction_applies_at_once_and_can_be_lifted(jane_web: Visitor) -> None:
    page = jane_web.follow(jane_web.post("/privacy/requests", {"type": "restriction"})).text
    assert "The use of your data is restricted" in page
    assert re.search(r"Restrict the use of your data</td>\s*<td>[^<]+</td>\s*<td>Done", page)
    page = jane_web.follow(jane_web.post("/privacy/requests/lift-restriction")).text
    assert "The restriction is lifted." in page
    assert "Restrict the use of my data" in page


def test_only_the_kinds_offered_can_be_opened(jane_web: Visitor) -> None:
    assert jane_web.post("/privacy/requests", {"type": "objection"}).status_code == 400
