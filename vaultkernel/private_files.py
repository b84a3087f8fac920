"""Files that hold personal data or secrets (the SQLite database, the development mailbox,
export archives) are created readable and writable by their owner only: mode 0600, set
explicitly, so a permissive umask cannot widen it."""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE = 0o600


def create_new(path: str | Path) -> int:
    """Create ``path`` (which must not exist) with mode 0600; returns a descriptor open for
    writing. Raises ``FileExistsError`` when it exists."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE)
    try:
        os.fchmod(fd, PRIVATE)  # os.open's mode passes through the umask; this does not
    except BaseException:
        os.close(fd)
        raise
    return fd


def ensure_private(path: str | Path) -> bool:
    """Create ``path`` empty with mode 0600 unless it exists (an existing file keeps its
    mode); returns whether it was created."""
    try:
        fd = create_new(path)
    except FileExistsError:
        return False
    os.close(fd)
    return True
