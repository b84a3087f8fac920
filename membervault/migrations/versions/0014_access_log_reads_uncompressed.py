"""access log: store an entry's packed reads without trying to compress them (PostgreSQL)

A page's entry packs ~1,000 random member ids as hex (~35 KB). PostgreSQL's default
storage of such a text tries pglz on every INSERT, finds too little to save and stores it
uncompressed anyway: 1.5-2 ms of server CPU per entry for nothing, measured on a 35 KB
page entry (docs/performance.md, B4). ``EXTERNAL`` keeps the text out of line (TOAST) as
before, without the attempt. Stored text and hashes are unchanged; SQLite has no such
setting.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE access_log ALTER COLUMN reads SET STORAGE EXTERNAL")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE access_log ALTER COLUMN reads SET STORAGE EXTENDED")
