"""access log: one entry per answered read, a derived per-member index

Existing entries (one member each) become entries of format 1 holding one packed group;
their hashes are kept and still verify (audit.chain hashes format 1 as before). The
per-member index is filled from them, so it starts caught up.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

BATCH = 5000

old_log = sa.table(
    'access_log',
    sa.column('sequence', sa.Integer()), sa.column('member_id', sa.Uuid()),
    sa.column('fields_returned', sa.JSON()), sa.column('fields_denied', sa.JSON()),
    sa.column('format', sa.SmallInteger()), sa.column('members', sa.Integer()),
    sa.column('reads', sa.Text()))
members_index = sa.table('access_log_members', sa.column('member_id', sa.Uuid()),
                         sa.column('sequence', sa.Integer()))
index_state = sa.table('access_log_index_state', sa.column('id', sa.Integer()),
                       sa.column('indexed_through', sa.Integer()))


def _packed(member_id: uuid.UUID, returned: Any, denied: Any) -> str:
    return orjson.dumps([[sorted(returned), dict(denied), [member_id.hex]]]).decode()


def upgrade() -> None:
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('format', sa.SmallInteger(), nullable=True))
        batch_op.add_column(sa.Column('members', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('reads', sa.Text(), nullable=True))
    op.create_table('access_log_members',
    sa.Column('member_id', sa.Uuid(), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('member_id', 'sequence', name=op.f('pk_access_log_members'))
    )
    with op.batch_alter_table('access_log_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_access_log_members_sequence'), ['sequence'], unique=False)
    op.create_table('access_log_index_state',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('indexed_through', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_log_index_state'))
    )

    connection = op.get_bind()
    after, through = 0, 0
    while True:
        rows = connection.execute(
            sa.select(old_log.c.sequence, old_log.c.member_id, old_log.c.fields_returned,
                      old_log.c.fields_denied)
            .where(old_log.c.sequence > after).order_by(old_log.c.sequence).limit(BATCH)).all()
        if not rows:
            break
        connection.execute(
            sa.update(old_log).where(old_log.c.sequence == sa.bindparam('at_sequence'))
            .values(format=1, members=1, reads=sa.bindparam('packed')),
            [{"at_sequence": sequence, "packed": _packed(member_id, returned, denied)}
             for sequence, member_id, returned, denied in rows])
        connection.execute(sa.insert(members_index),
                           [{"member_id": r.member_id, "sequence": r.sequence} for r in rows])
        after = through = rows[-1].sequence
    connection.execute(sa.insert(index_state), {"id": 1, "indexed_through": through})

    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.drop_index('ix_access_log_member_id_sequence')
        batch_op.drop_column('member_id')
        batch_op.drop_column('fields_returned')
        batch_op.drop_column('fields_denied')
        batch_op.alter_column('format', existing_type=sa.SmallInteger(), nullable=False)
        batch_op.alter_column('members', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('reads', existing_type=sa.Text(), nullable=False)


def downgrade() -> None:
    connection = op.get_bind()
    packed = connection.scalar(sa.select(sa.func.count()).select_from(old_log)
                               .where(old_log.c.format != 1))
    if packed:
        raise RuntimeError(f"{packed} access-log entries are in the packed format, which the "
                           "old shape cannot hold without breaking the chain; not downgrading")
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('member_id', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('fields_returned', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('fields_denied', sa.JSON(), nullable=True))
    for sequence, reads in connection.execute(sa.select(old_log.c.sequence, old_log.c.reads)).all():
        ((returned, denied, (member_hex,)),) = orjson.loads(reads)
        connection.execute(sa.update(old_log).where(old_log.c.sequence == sequence)
                           .values(member_id=uuid.UUID(hex=member_hex), fields_returned=returned,
                                   fields_denied=denied))
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.alter_column('member_id', existing_type=sa.Uuid(), nullable=False)
        batch_op.alter_column('fields_returned', existing_type=sa.JSON(), nullable=False)
        batch_op.alter_column('fields_denied', existing_type=sa.JSON(), nullable=False)
        batch_op.drop_column('format')
        batch_op.drop_column('members')
        batch_op.drop_column('reads')
        batch_op.create_index('ix_access_log_member_id_sequence', ['member_id', 'sequence'], unique=False)
    op.drop_table('access_log_index_state')
    with op.batch_alter_table('access_log_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_access_log_members_sequence'))
    op.drop_table('access_log_members')
