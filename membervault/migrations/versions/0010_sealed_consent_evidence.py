"""consent records: identifying evidence sealed under the member's data key

The user agent and keyed IP hash of each consent record move from ``evidence`` (JSON, in
the clear) into ``sealed_evidence``, AES-256-GCM under the member's own data key
(``consent.evidence``), so erasing the member (destroying the key) makes every copy of
them unreadable, also the old row versions PostgreSQL keeps in dead tuples and WAL.
``evidence`` keeps only the GPC flag.

Sealing needs the members' data keys, so ``membervault db upgrade`` passes the keyring
(``config.attributes["keyring"]``). Without one, the upgrade of a database holding such
evidence stops with a message saying so (an empty database needs none). Records of
members without a data key (erased) are scrubbed as erasure does. The sealing code is
the application's own (``consent.evidence.seal``), so what this revision writes is what
the service reads.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-09
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import context, op

from membervault.migrate import KeyringRequired

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

BATCH = 1000

records = sa.table(
    'consent_records',
    sa.column('id', sa.Integer()), sa.column('receipt_id', sa.Uuid()),
    sa.column('member_id', sa.Uuid()), sa.column('evidence', sa.JSON()),
    sa.column('sealed_evidence', sa.LargeBinary()))
members = sa.table(
    'members',
    sa.column('id', sa.Uuid()), sa.column('kek_version', sa.Integer()),
    sa.column('wrapped_key', sa.LargeBinary()))


def upgrade() -> None:
    bind = op.get_bind()
    keyring = context.config.attributes.get("keyring")
    if keyring is None and any(_to_seal(bind)):
        # Before any change: SQLite's DDL is not rolled back with the migration.
        raise KeyringRequired(
            "consent records hold evidence to seal under their members' data keys: run "
            "`membervault db upgrade` with the service's keyring configured "
            "(MEMBERVAULT_KEK_FILE or MEMBERVAULT_KEK_JSON)")
    with op.batch_alter_table('consent_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sealed_evidence', sa.LargeBinary(), nullable=True))
    _seal_existing(bind, keyring)


def downgrade() -> None:
    with op.batch_alter_table('consent_records', schema=None) as batch_op:
        batch_op.drop_column('sealed_evidence')


def _evidence(value: Any) -> dict[str, Any]:
    if isinstance(value, str | bytes):
        value = orjson.loads(value)
    return value if isinstance(value, dict) else {}


def _with_clear_evidence(bind: sa.Connection) -> Iterator[tuple[Any, dict[str, Any]]]:
    """Every record whose evidence holds a user agent or IP hash in the clear, with its
    member's key (none for an erased member), a batch at a time."""
    after = 0
    while True:
        rows = bind.execute(
            sa.select(records.c.id, records.c.receipt_id, records.c.member_id,
                      records.c.evidence, members.c.kek_version, members.c.wrapped_key)
            .select_from(records.outerjoin(members, members.c.id == records.c.member_id))
            .where(records.c.id > after).order_by(records.c.id).limit(BATCH)).all()
        if not rows:
            return
        after = rows[-1].id
        for row in rows:
            evidence = _evidence(row.evidence)
            if evidence.get("ip_hash") or evidence.get("user_agent"):
                yield row, evidence


def _to_seal(bind: sa.Connection) -> Iterator[bool]:
    for row, _ in _with_clear_evidence(bind):
        if row.wrapped_key is not None and row.kek_version is not None:
            yield True


def _seal_existing(bind: sa.Connection, keyring: Any) -> None:
    crypto = None
    for row, evidence in _with_clear_evidence(bind):
        gpc = bool(evidence.get("gpc"))
        if row.wrapped_key is None or row.kek_version is None:  # erased: scrub
            bind.execute(sa.update(records).where(records.c.id == row.id).values(
                evidence={"gpc": gpc, "scrubbed_at_erasure": True}))
            continue
        if crypto is None:
            from identity.encryption import MemberCrypto

            crypto = MemberCrypto(keyring, keyring.derive)
        from consent.evidence import Evidence, seal

        cipher = crypto.cipher(row.member_id, row.kek_version, row.wrapped_key)
        clear, sealed = seal(cipher, row.receipt_id, Evidence(
            ip_hash=evidence.get("ip_hash"), user_agent=evidence.get("user_agent"), gpc=gpc))
        bind.execute(sa.update(records).where(records.c.id == row.id)
                     .values(evidence=clear, sealed_evidence=sealed))
