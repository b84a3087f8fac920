"""members, clients, signing keys, sign-in codes, audit trail

Revision ID: 0001
Revises: 
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import vaultkernel.database

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_events',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', vaultkernel.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=120), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('member_id', sa.Uuid(), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events'))
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_events_member_id'), ['member_id'], unique=False)

    op.create_table('clients',
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('secret_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('allowed_purposes', sa.JSON(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', vaultkernel.database.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('client_id', name=op.f('pk_clients'))
    )
    op.create_table('members',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('member_number_index', sa.LargeBinary(length=32), nullable=True),
    sa.Column('email_index', sa.LargeBinary(length=32), nullable=True),
    sa.Column('phone_index', sa.LargeBinary(length=32), nullable=True),
    sa.Column('kek_version', sa.Integer(), nullable=True),
    sa.Column('wrapped_key', sa.LargeBinary(), nullable=True),
    sa.Column('member_number', sa.LargeBinary(), nullable=True),
    sa.Column('given_name', sa.LargeBinary(), nullable=True),
    sa.Column('family_name', sa.LargeBinary(), nullable=True),
    sa.Column('email', sa.LargeBinary(), nullable=True),
    sa.Column('phone', sa.LargeBinary(), nullable=True),
    sa.Column('birthdate', sa.LargeBinary(), nullable=True),
    sa.Column('postal_address', sa.LargeBinary(), nullable=True),
    sa.Column('preferred_language', sa.LargeBinary(), nullable=True),
    sa.Column('preferences', sa.LargeBinary(), nullable=True),
    sa.Column('created_at', vaultkernel.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', vaultkernel.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_activity_at', vaultkernel.database.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_members')),
    sa.UniqueConstraint('email_index', name=op.f('uq_members_email_index')),
    sa.UniqueConstraint('member_number_index', name=op.f('uq_members_member_number_index')),
    sa.UniqueConstraint('phone_index', name=op.f('uq_members_phone_index'))
    )
    op.create_table('sign_in_codes',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('email_index', sa.LargeBinary(length=32), nullable=False),
    sa.Column('code_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('created_at', vaultkernel.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', vaultkernel.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('used_at', vaultkernel.database.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sign_in_codes'))
    )
    with op.batch_alter_table('sign_in_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sign_in_codes_email_index'), ['email_index'], unique=False)

    op.create_table('signing_keys',
    sa.Column('kid', sa.String(length=64), nullable=False),
    sa.Column('algorithm', sa.String(length=16), nullable=False),
    sa.Column('public_jwk', sa.JSON(), nullable=False),
    sa.Column('kek_version', sa.Integer(), nullable=False),
    sa.Column('wrapped_private_key', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', vaultkernel.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('retired_at', vaultkernel.database.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('kid', name=op.f('pk_signing_keys'))
    )


def downgrade() -> None:
    op.drop_table('signing_keys')
    with op.batch_alter_table('sign_in_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sign_in_codes_email_index'))

    op.drop_table('sign_in_codes')
    op.drop_table('members')
    op.drop_table('clients')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_events_member_id'))

    op.drop_table('audit_events')
