"""audit: lanes (分道) — several chains per region

A chain's head row stays locked from the moment a writer claims it until its
transaction's commit is flushed to disk, so the writers of one region queue
on it. On PostgreSQL the case submissions of a region spread over
``core.audit.SUBMIT_LANES`` lanes, each its own chain (head, numbering,
hashes); every other writer, and every writer on SQLite, uses lane 0. The
existing entries are lane 0, and the hash of a lane-0 entry is computed as
before (``core.audit.chain_name``), so the log stays verifiable across the
upgrade.

- ``audit_entry.lane`` and ``audit_chain_head.lane``: small integer, 0 by default.
- The head's primary key becomes (region_code, lane); the chain index
  ``ix_audit_entry_chain_seq`` becomes (region_code, lane, seq).

``audit_entry`` keeps its append-only triggers: the column is added in place
(no table copy, on SQLite neither). ``downgrade`` refuses while any entry or
head of a lane other than 0 exists: folding the lanes back into one chain
would break their hashes.

Revision ID: 0007_audit_lanes
Revises: 0006_submit_indexes
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_audit_lanes"
down_revision = "0006_submit_indexes"
branch_labels = None
depends_on = None


def _lane() -> sa.Column:
    return sa.Column("lane", sa.SmallInteger(), server_default="0", nullable=False)


def upgrade() -> None:
    op.add_column("audit_entry", _lane())
    op.drop_index("ix_audit_entry_chain_seq", table_name="audit_entry")
    op.create_index(
        "ix_audit_entry_chain_seq", "audit_entry", ["region_code", "lane", "seq"], unique=True
    )
    if op.get_bind().dialect.name == "postgresql":
        op.add_column("audit_chain_head", _lane())
        op.drop_constraint("pk_audit_chain_head", "audit_chain_head", type_="primary")
        op.create_primary_key("pk_audit_chain_head", "audit_chain_head", ["region_code", "lane"])
    else:  # SQLite: a new primary key means a new table (the head has no triggers)
        with op.batch_alter_table("audit_chain_head", recreate="always") as batch:
            batch.add_column(_lane())
            batch.drop_constraint("pk_audit_chain_head", type_="primary")
            batch.create_primary_key("pk_audit_chain_head", ["region_code", "lane"])


def downgrade() -> None:
    bind = op.get_bind()
    lanes = bind.execute(
        sa.text(
            "SELECT (SELECT count(*) FROM audit_entry WHERE lane <> 0)"
            " + (SELECT count(*) FROM audit_chain_head WHERE lane <> 0)"
        )
    ).scalar_one()
    if lanes:
        raise RuntimeError(
            f"审计日志有 {lanes} 条分道记录，无法降级（合并分道会破坏哈希链）"
            f" / {lanes} audit rows in lanes other than 0: cannot downgrade"
        )
    op.drop_index("ix_audit_entry_chain_seq", table_name="audit_entry")
    op.create_index("ix_audit_entry_chain_seq", "audit_entry", ["region_code", "seq"], unique=True)
    if bind.dialect.name == "postgresql":
        op.drop_constraint("pk_audit_chain_head", "audit_chain_head", type_="primary")
        op.create_primary_key("pk_audit_chain_head", "audit_chain_head", ["region_code"])
        op.drop_column("audit_chain_head", "lane")
        op.drop_column("audit_entry", "lane")
    else:
        with op.batch_alter_table("audit_chain_head", recreate="always") as batch:
            batch.drop_constraint("pk_audit_chain_head", type_="primary")
            batch.create_primary_key("pk_audit_chain_head", ["region_code"])
            batch.drop_column("lane")
        # SQLite drops a column in place (3.35+); the append-only triggers stay
        op.execute("ALTER TABLE audit_entry DROP COLUMN lane")
