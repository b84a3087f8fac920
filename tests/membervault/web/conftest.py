"""Fixtures of the privacy centre's tests: visitors, and Jane signed in."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.membervault.web.support import Visitor
from vaultkernel.settings import Settings


@pytest.fixture
def visitors(app: Any) -> Iterator[Callable[[], Visitor]]:
    made: list[Visitor] = []

    def visitor() -> Visitor:
        made.append(Visitor(app))
        return made[-1]

    yield visitor
    for v in made:
        v.close()


@pytest.fixture
def visitor(visitors: Callable[[], Visitor]) -> Visitor:
    return visitors()


@pytest.fixture
def mailbox(settings: Settings) -> Path:
    return Path(settings.mailbox_file)


@pytest.fixture
def jane_web(visitor: Visitor, jane: dict[str, Any], mailbox: Path) -> Visitor:
    """Jane, signed in to the privacy centre."""
    page = visitor.follow(visitor.sign_in(jane["email"], mailbox))
    assert page.status_code == 200, page.text
    return visitor
