"""submit: no index entries nobody reads on the rows every case submission writes

A submission writes a case, its trail row, an inbox message, two outbox
events and an audit entry, and on SQLite every b-tree page it changes is one
more 4 KB frame in the write-ahead log (written, checksummed, later copied
into the database): 33.6 frames per submission before this revision, 7.6 of
them for these five indexes, which no query reads (every query on the three
tables checked: ``admin.outbox``, ``core.worker``, ``core.audit.verify``,
``web.read_models.latest_audit``, ``cases.queries``/``api``/``exchange``,
the CLI):

- ``ix_outbox_event_name``: events are read by id only (the worker, the
  failed-deliveries page joins them by ``event_id``); 2.3 frames a
  submission, the two events' names land on two different leaves.
- ``ix_outbox_event_region_code``: the outbox pages filter the deliveries'
  own ``region_code``, never the events'.
- ``ix_audit_entry_action`` and ``ix_audit_entry_target``: the audit log is
  read by chain (``ix_audit_entry_chain_seq``: region, seq — the verifier)
  and newest first (``latest_audit``: a region range ordered by time), never
  by action or target.
- ``ix_case_trail_region_code``: the trail is read by case
  (``ix_case_trail_case``).

Both databases; ``downgrade`` puts them back.

Revision ID: 0006_submit_indexes
Revises: 0005_licence_import
Create Date: 2026-11-21
"""

from __future__ import annotations

from alembic import op

revision = "0006_submit_indexes"
down_revision = "0005_licence_import"
branch_labels = None
depends_on = None

# (index, table, columns)
DROPPED = (
    ("ix_outbox_event_name", "outbox_event", ["name"]),
    ("ix_outbox_event_region_code", "outbox_event", ["region_code"]),
    ("ix_audit_entry_action", "audit_entry", ["action"]),
    ("ix_audit_entry_target", "audit_entry", ["target_type", "target_id"]),
    ("ix_case_trail_region_code", "case_trail", ["region_code"]),
)


def upgrade() -> None:
    for name, table, _columns in DROPPED:
        op.drop_index(name, table_name=table)


def downgrade() -> None:
    for name, table, columns in DROPPED:
        op.create_index(name, table, columns, unique=False)
