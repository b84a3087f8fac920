"""legal holds name the data categories they cover; members: erasure_held_at

A legal hold covers some data categories (``categories``) or, when null, all of the
member's personal data. An erasure request meeting an active hold erases what the holds
do not cover and restricts the rest (``erasure_held_at``) until they end.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import vaultkernel.database

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('legal_holds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('categories', sa.JSON(), nullable=True))
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.add_column(sa.Column('erasure_held_at', vaultkernel.database.UTCDateTime(),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_column('erasure_held_at')
    with op.batch_alter_table('legal_holds', schema=None) as batch_op:
        batch_op.drop_column('categories')
