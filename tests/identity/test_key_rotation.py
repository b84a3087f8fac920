"""KEK rotation (identity/key_rotation.py) tells its progress batch by batch."""

from __future__ import annotations

import pytest

from identity import key_rotation, members
from membervault.services import Services


def test_rewrap_reports_progress_up_to_every_waiting_key(
        services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    for n in range(5):
        with services.db.unit_of_work() as uow:
            members.enrol_member(uow, services.crypto,
                                 {"given_name": f"Member{n}", "family_name": "Example",
                                  "email": f"m{n}@example.org"},
                                 actor="test", default_region="GB")
    monkeypatch.setattr(key_rotation, "BATCH", 2)
    rotated = services.keyring.with_new_version()
    told: list[tuple[int, int]] = []
    count = key_rotation.rewrap_all(services.db, rotated,
                                    progress=lambda done, total: told.append((done, total)))
    assert count == key_rotation.keys_under(services.db, rotated.active) >= 5
    assert told[-1] == (count, count)
    assert [done for done, _ in told] == sorted(done for done, _ in told)
    assert len(told) >= 3  # batches of two, then the signing keys
    assert key_rotation.keys_not_under(services.db, rotated.active) == 0
