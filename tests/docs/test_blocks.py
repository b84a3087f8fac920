"""The rule for the docs' code blocks (tests/docs/blocks.py): a new document's blocks are
either run, checked, shown output, or say why they are not run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docs.blocks import blocks

DOC = """# A new page

```sh
membervault --version
```

```
untagged
```

```yaml
key: value
```

```sh not-run:
docker compose up
```

```sh not-run: needs Docker
docker compose up
```

```text not-run: pointless
shown
```

   ```json
   {"indented": true}
   ```
"""


@pytest.fixture
def found(tmp_path: Path) -> list[tuple[str, str | None, str | None]]:
    page = tmp_path / "new.md"
    page.write_text(DOC)
    return [(b.kind, b.not_run, b.problem()) for b in blocks(page)]


def test_each_block_is_run_checked_shown_or_says_why_not(
        found: list[tuple[str, str | None, str | None]]) -> None:
    kinds = [kind for kind, _, _ in found]
    assert kinds == ["sh", "", "yaml", "sh", "sh", "text", "json"]
    problems = [problem for _, _, problem in found]
    assert problems[0] is None and problems[4] is None and problems[6] is None
    assert "has no kind" in str(problems[1])
    assert "unknown kind" in str(problems[2])
    assert "needs a reason" in str(problems[3])
    assert "never run" in str(problems[5])
    assert found[4][1] == "needs Docker"
