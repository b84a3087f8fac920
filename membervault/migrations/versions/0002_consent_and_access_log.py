"""consent ledger, objections, restriction, access log

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import vaultkernel.database


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('access_log',
    sa.Column('sequence', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('at', vaultkernel.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('request_id', sa.String(length=64), nullable=False),
    sa.Column('principal', sa.String(length=120), nullable=False),
    sa.Column('purpose', sa.String(length=64), nullable=False),
    sa.Column('member_id', sa.Uuid(), nullable=False),
    sa.Column('fields_returned', sa.JSON(), nullable=False),
    sa.Column('fields_denied', sa.JSON(), nullable=False),
    sa.Column('previous_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('entry_hash', sa.LargeBinary(length=32), nullable=False),
    sa.PrimaryKeyConstraint('sequence', name=op.f('pk_access_log'))
    )
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_access_log_member_id'), ['member_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_access_log_principal'), ['principal'], unique=False)
        batch_op.create_index(batch_op.f('ix_access_log_purpose'), ['purpose'], unique=False)

    op.create_table('consent_records',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('receipt_id', sa.Uuid(), nullable=False),
    sa.Column('member_id', sa.Uuid(), nullable=False),
    sa.Column('purpose', sa.String(length=64), nullable=False),
    sa.Column('granted', sa.Boolean(), nullable=False),
    sa.Column('notice_version', sa.Integer(), nullable=False),
    sa.Column('at', vaultkernel.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('actor', sa.String(length=120), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_records')),
    sa.UniqueConstraint('receipt_id', name=op.f('uq_consent_records_receipt_id'))
    )
    with op.batch_alter_table('consent_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consent_records_member_id'), ['member_id'], unique=False)

    op.create_table('consents',
    sa.Column('member_id', sa.Uuid(), nullable=False),
    sa.Column('purpose', sa.String(length=64), nullable=False),
    sa.Column('granted', sa.Boolean(), nullable=False),
    sa.Column('notice_version', sa.Integer(), nullable=False),
    sa.Column('updated_at', vaultkernel.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_consents_member_id_members'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('member_id', 'purpose', name=op.f('pk_consents'))
    )
    op.create_table('objections',
    sa.Column('member_id', sa.Uuid(), nullable=False),
    sa.Column('purpose', sa.String(length=64), nullable=False),
    sa.Column('at', vaultkernel.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=120), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_objections_member_id_members'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('member_id', 'purpose', name=op.f('pk_objections'))
    )
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('collects_consent', sa.Boolean(), nullable=False, server_default=sa.false()))

    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.add_column(sa.Column('restricted_at', vaultkernel.database.UTCDateTime(timezone=True), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_column('restricted_at')

    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_column('collects_consent')

    op.drop_table('objections')
    op.drop_table('consents')
    with op.batch_alter_table('consent_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consent_records_member_id'))

    op.drop_table('consent_records')
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_access_log_purpose'))
        batch_op.drop_index(batch_op.f('ix_access_log_principal'))
        batch_op.drop_index(batch_op.f('ix_access_log_member_id'))

    op.drop_table('access_log')
