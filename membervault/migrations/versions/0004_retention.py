"""retention: inactivity notices, access log checkpoints

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import vaultkernel.database


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('access_log_checkpoints',
    sa.Column('sequence', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('entry_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('at', vaultkernel.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('pruned', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('sequence', name=op.f('pk_access_log_checkpoints'))
    )
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.add_column(sa.Column('inactivity_notice_at', vaultkernel.database.UTCDateTime(timezone=True), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_column('inactivity_notice_at')

    op.drop_table('access_log_checkpoints')
