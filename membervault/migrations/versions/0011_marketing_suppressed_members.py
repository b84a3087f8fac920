"""members: marketing_suppressed_at, set when a member's email was on the marketing
suppression list as it became theirs (identity.suppression)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import vaultkernel.database

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.add_column(sa.Column('marketing_suppressed_at',
                                      vaultkernel.database.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_column('marketing_suppressed_at')
