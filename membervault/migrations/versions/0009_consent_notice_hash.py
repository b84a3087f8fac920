"""consent records: the hash of the notice each was given to

A consent receipt names the notice text the member saw (ISO/IEC TS 27560 privacy notice);
the policy file keeps only the current text, so the hash is taken when the record is made.
Records made before this revision have none (their receipts say null).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('consent_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notice_hash', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('consent_records', schema=None) as batch_op:
        batch_op.drop_column('notice_hash')
