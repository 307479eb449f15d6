"""audit and case numbers: lanes (分道) — several chains and counters per region

A chain's head row, and a region's day counter of case numbers, stay locked
from the moment a writer takes them until its transaction's commit is
flushed to disk, so the writers of one region queue on them. On PostgreSQL
the case submissions of a region spread over ``core.audit.SUBMIT_LANES``
lanes (8), each its own audit chain (head, numbering, hashes) and its own
day counter (``cases.service.case_serial`` makes the lanes' numbers
unique); every other writer, and every writer on SQLite, uses lane 0. The
existing rows are lane 0, and the hash of a lane-0 entry is computed as
before (``core.audit.chain_name``), so the log stays verifiable across the
upgrade.

- ``lane`` (small integer, 0 by default) on ``audit_entry``,
  ``audit_chain_head`` and ``case_counter``.
- Primary keys: the head's (region_code, lane), the counter's (region6, day,
  lane); the chain index ``ix_audit_entry_chain_seq`` becomes (region_code,
  lane, seq).

``audit_entry`` keeps its append-only triggers: the column is added in place
(no table copy, on SQLite neither). ``downgrade`` refuses while any audit
entry or head of a lane other than 0 exists (folding the lanes back into one
chain would break their hashes); it folds the counters into lane 0 at the
highest number any lane gave, so no number is given twice.

Revision ID: 0007_audit_lanes
Revises: 0006_submit_indexes
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_audit_lanes"
down_revision = "0006_submit_indexes"
branch_labels = None
depends_on = None


# core.audit.SUBMIT_LANES when this revision was written: PostgreSQL's number
# of a counter's value (cases.service.case_serial), for the downgrade's fold
PG_LANES = 8
# (table, its primary key without the lane)
KEYED = (("audit_chain_head", ["region_code"]), ("case_counter", ["region6", "day"]))


def _lane() -> sa.Column:
    return sa.Column("lane", sa.SmallInteger(), server_default="0", nullable=False)


def _primary_key(table: str, columns: list[str], *, add_lane: bool) -> None:
    name = f"pk_{table}"
    if op.get_bind().dialect.name == "postgresql":
        if add_lane:
            op.add_column(table, _lane())
        op.drop_constraint(name, table, type_="primary")
        op.create_primary_key(name, table, columns)
        if not add_lane:
            op.drop_column(table, "lane")
    else:  # SQLite: a new primary key means a new table (neither has triggers)
        with op.batch_alter_table(table, recreate="always") as batch:
            if add_lane:
                batch.add_column(_lane())
            batch.drop_constraint(name, type_="primary")
            batch.create_primary_key(name, columns)
            if not add_lane:
                batch.drop_column("lane")


def upgrade() -> None:
    op.add_column("audit_entry", _lane())
    op.drop_index("ix_audit_entry_chain_seq", table_name="audit_entry")
    op.create_index(
        "ix_audit_entry_chain_seq", "audit_entry", ["region_code", "lane", "seq"], unique=True
    )
    for table, key in KEYED:
        _primary_key(table, [*key, "lane"], add_lane=True)


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
    factor = PG_LANES if bind.dialect.name == "postgresql" else 1
    op.execute(
        "INSERT INTO case_counter (region6, day, lane, value) "
        "SELECT DISTINCT region6, day, 0, 0 FROM case_counter WHERE lane <> 0 "
        "ON CONFLICT (region6, day, lane) DO NOTHING"
    )
    bind.execute(
        sa.text(
            "UPDATE case_counter SET value = (SELECT max((c.value - 1) * :factor + c.lane + 1) "
            "FROM case_counter c WHERE c.region6 = case_counter.region6 AND c.day = case_counter.day) "
            "WHERE lane = 0"
        ),
        {"factor": factor},
    )
    op.execute("DELETE FROM case_counter WHERE lane <> 0")
    for table, key in KEYED:
        _primary_key(table, key, add_lane=False)
    op.drop_index("ix_audit_entry_chain_seq", table_name="audit_entry")
    op.create_index("ix_audit_entry_chain_seq", "audit_entry", ["region_code", "seq"], unique=True)
    if bind.dialect.name == "postgresql":
        op.drop_column("audit_entry", "lane")
    else:  # SQLite drops a column in place (3.35+); the append-only triggers stay
        op.execute("ALTER TABLE audit_entry DROP COLUMN lane")
