"""access log: index by member and sequence

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import vaultkernel.database


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_access_log_member_id'))
        batch_op.create_index('ix_access_log_member_id_sequence', ['member_id', 'sequence'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.drop_index('ix_access_log_member_id_sequence')
        batch_op.create_index(batch_op.f('ix_access_log_member_id'), ['member_id'], unique=False)

