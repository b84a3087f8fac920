"""requests, archives, outbox, legal holds, suppression

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import vaultkernel.database


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('data_subject_requests',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('member_id', sa.Uuid(), nullable=False),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('jurisdiction', sa.String(length=8), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('received_at', vaultkernel.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('due_at', vaultkernel.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('paused_since', vaultkernel.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('extended', sa.Boolean(), nullable=False),
    sa.Column('extension_reason', sa.Text(), nullable=True),
    sa.Column('identity_verification', sa.String(length=200), nullable=True),
    sa.Column('opened_by', sa.String(length=120), nullable=False),
    sa.Column('closed_at', vaultkernel.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('denial_code', sa.String(length=40), nullable=True),
    sa.Column('denial_reason', sa.Text(), nullable=True),
    sa.Column('lease_until', vaultkernel.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_data_subject_requests'))
    )
    with op.batch_alter_table('data_subject_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_data_subject_requests_due_at'), ['due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_data_subject_requests_member_id'), ['member_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_data_subject_requests_state'), ['state'], unique=False)

    op.create_table('export_archives',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('request_id', sa.Uuid(), nullable=False),
    sa.Column('member_id', sa.Uuid(), nullable=False),
    sa.Column('path', sa.String(length=500), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('sealed_token', sa.LargeBinary(), nullable=False),
    sa.Column('signature', sa.Text(), nullable=False),
    sa.Column('created_at', vaultkernel.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', vaultkernel.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('downloaded_at', vaultkernel.database.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_export_archives')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_export_archives_token_hash'))
    )
    with op.batch_alter_table('export_archives', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_export_archives_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_export_archives_member_id'), ['member_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_export_archives_request_id'), ['request_id'], unique=False)

    op.create_table('legal_holds',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('member_id', sa.Uuid(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('placed_by', sa.String(length=120), nullable=False),
    sa.Column('placed_at', vaultkernel.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', vaultkernel.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('lifted_at', vaultkernel.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('lifted_by', sa.String(length=120), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_legal_holds'))
    )
    with op.batch_alter_table('legal_holds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_legal_holds_member_id'), ['member_id'], unique=False)

    op.create_table('outbox_events',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('type', sa.String(length=40), nullable=False),
    sa.Column('member_id', sa.Uuid(), nullable=False),
    sa.Column('facts', sa.JSON(), nullable=False),
    sa.Column('sealed_member_number', sa.LargeBinary(), nullable=True),
    sa.Column('created_at', vaultkernel.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('request_id', sa.Uuid(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_events'))
    )
    with op.batch_alter_table('outbox_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_events_member_id'), ['member_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_events_request_id'), ['request_id'], unique=False)

    op.create_table('suppression_list',
    sa.Column('email_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('added_at', vaultkernel.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('email_hash', name=op.f('pk_suppression_list'))
    )
    op.create_table('outbox_deliveries',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('event_id', sa.Uuid(), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', vaultkernel.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('lease_until', vaultkernel.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_status', sa.String(length=64), nullable=True),
    sa.Column('delivered_at', vaultkernel.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_at', vaultkernel.database.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['event_id'], ['outbox_events.id'], name=op.f('fk_outbox_deliveries_event_id_outbox_events'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_deliveries'))
    )
    with op.batch_alter_table('outbox_deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_deliveries_client_id'), ['client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_deliveries_event_id'), ['event_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_deliveries_state'), ['state'], unique=False)

    op.create_table('request_transitions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('request_id', sa.Uuid(), nullable=False),
    sa.Column('from_state', sa.String(length=32), nullable=True),
    sa.Column('to_state', sa.String(length=32), nullable=False),
    sa.Column('at', vaultkernel.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=120), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['request_id'], ['data_subject_requests.id'], name=op.f('fk_request_transitions_request_id_data_subject_requests'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_request_transitions'))
    )
    with op.batch_alter_table('request_transitions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_request_transitions_request_id'), ['request_id'], unique=False)

    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('webhook_url', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('sealed_webhook_secret', sa.LargeBinary(), nullable=True))

    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.add_column(sa.Column('erased_at', vaultkernel.database.UTCDateTime(timezone=True), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_column('erased_at')

    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_column('sealed_webhook_secret')
        batch_op.drop_column('webhook_url')

    with op.batch_alter_table('request_transitions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_request_transitions_request_id'))

    op.drop_table('request_transitions')
    with op.batch_alter_table('outbox_deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_deliveries_state'))
        batch_op.drop_index(batch_op.f('ix_outbox_deliveries_event_id'))
        batch_op.drop_index(batch_op.f('ix_outbox_deliveries_client_id'))

    op.drop_table('outbox_deliveries')
    op.drop_table('suppression_list')
    with op.batch_alter_table('outbox_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_events_request_id'))
        batch_op.drop_index(batch_op.f('ix_outbox_events_member_id'))

    op.drop_table('outbox_events')
    with op.batch_alter_table('legal_holds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_legal_holds_member_id'))

    op.drop_table('legal_holds')
    with op.batch_alter_table('export_archives', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_export_archives_request_id'))
        batch_op.drop_index(batch_op.f('ix_export_archives_member_id'))
        batch_op.drop_index(batch_op.f('ix_export_archives_expires_at'))

    op.drop_table('export_archives')
    with op.batch_alter_table('data_subject_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_data_subject_requests_state'))
        batch_op.drop_index(batch_op.f('ix_data_subject_requests_member_id'))
        batch_op.drop_index(batch_op.f('ix_data_subject_requests_due_at'))

    op.drop_table('data_subject_requests')
