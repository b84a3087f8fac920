"""sign-in guesses: wrong codes counted per address, per caller and overall

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import vaultkernel.database


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sign_in_guesses',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('guessed_at', vaultkernel.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('email_index', sa.LargeBinary(length=32), nullable=False),
    sa.Column('caller', sa.LargeBinary(length=16), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sign_in_guesses'))
    )
    with op.batch_alter_table('sign_in_guesses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sign_in_guesses_guessed_at'), ['guessed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_sign_in_guesses_email_index'), ['email_index'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sign_in_guesses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sign_in_guesses_email_index'))
        batch_op.drop_index(batch_op.f('ix_sign_in_guesses_guessed_at'))

    op.drop_table('sign_in_guesses')
