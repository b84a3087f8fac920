"""``membervault ropa``: the record of processing written as ropa.json and ropa.md, the
same record the GraphQL ``recordOfProcessing`` answers (the registered clients
included)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import Result

from membervault.services import Services
from retention import service
from tests.conftest import create_principal


def test_ropa_writes_the_record_with_the_registered_clients(
        cli: Callable[..., Result], services: Services, tmp_path: Path) -> None:
    create_principal(services, "crm-sync", purposes=("loyalty.membership",))
    result = cli("ropa", "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, (result.stdout, result.exception)
    written: dict[str, Any] = json.loads((tmp_path / "out" / "ropa.json").read_text())
    with services.db.unit_of_work() as uow:
        assert written == service.record_of_processing(uow, services.policy)
    assert [r["clientId"] for r in written["recipients"]] == ["crm-sync"]
    assert [a["activity"] for a in written["supportingActivities"]][:2] == [
        "access_log", "consent_evidence"]
    markdown = (tmp_path / "out" / "ropa.md").read_text()
    assert "crm-sync (`crm-sync`, client)" in markdown
    assert "## Supporting activities" in markdown
