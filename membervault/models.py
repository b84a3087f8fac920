"""Every table, registered on the one metadata (for Alembic and the tests)."""

from __future__ import annotations

import audit.models
import consent.models
import export.models
import identity.models
import outbox.models
import retention.models
import subject_requests.models
from vaultkernel.database import Base

__all__ = ["Base", "audit", "consent", "export", "identity", "outbox", "retention",
           "subject_requests"]
