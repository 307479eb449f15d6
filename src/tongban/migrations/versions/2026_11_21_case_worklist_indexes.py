"""case: worklist indexes that seek the clerk's scope (dates) and the applicant's name

- ``ix_case_state_submitted`` (state, submitted_at, region_code) held a month's
  cases of every region: replaced by ``ix_case_state_region_submitted`` (state,
  region_code, submitted_at), partial on ``state > ''`` (SQLite) or
  ``submitted_at IS NOT NULL AND region_code IS NOT NULL`` (PostgreSQL),
  true of every row, so that only the dated list shape of a staff scope, which
  repeats the condition, uses it (SQLite preferred it to the id order for plain
  lists; PostgreSQL ANDed an applicant's own cases with the state's month).
- ``ix_case_state_applicant`` (state, applicant_name, region_code): an
  applicant name prefix as a range (``varchar_pattern_ops`` on PostgreSQL:
  byte order whatever the database collation), partial on
  ``applicant_name IS NOT NULL`` (every row) as the dated one: PostgreSQL
  otherwise counted the queues on it (4x the pages of ``ix_case_state_id``).
- Both ``INCLUDE (id)`` on PostgreSQL, so a page's ids are read from the index
  alone (SQLite's indexes hold the rowid, which is the id).
- Dropped: ``ix_case_due`` (state, due_at), read by no query since the
  supervision sweep reads by (state, id); ``ix_case_region_code``, the leading
  column of ``ix_case_region_state_id``.

Eleven indexes on ``case`` besides the primary key and the two unique
constraints where there were twelve: every submission writes one fewer.

Revision ID: 0004_case_worklist_indexes
Revises: 0003_catalogue_immutable
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_case_worklist_indexes"
down_revision = "0003_catalogue_immutable"
branch_labels = None
depends_on = None

SUBMITTED_SQL = "submitted_at IS NOT NULL AND region_code IS NOT NULL"
SUBMITTED_SQLITE_SQL = "state > ''"  # every row
APPLICANT_SQL = "applicant_name IS NOT NULL"


def upgrade() -> None:
    op.drop_index("ix_case_state_submitted", table_name="case")
    op.drop_index("ix_case_due", table_name="case")
    op.drop_index("ix_case_region_code", table_name="case")
    op.create_index(
        "ix_case_state_region_submitted",
        "case",
        ["state", "region_code", "submitted_at"],
        unique=False,
        sqlite_where=sa.text(SUBMITTED_SQLITE_SQL),
        postgresql_where=sa.text(SUBMITTED_SQL),
        postgresql_include=["id"],
    )
    op.create_index(
        "ix_case_state_applicant",
        "case",
        ["state", "applicant_name", "region_code"],
        unique=False,
        sqlite_where=sa.text(APPLICANT_SQL),
        postgresql_where=sa.text(APPLICANT_SQL),
        postgresql_ops={"applicant_name": "varchar_pattern_ops"},
        postgresql_include=["id"],
    )


def downgrade() -> None:
    op.drop_index("ix_case_state_applicant", table_name="case")
    op.drop_index("ix_case_state_region_submitted", table_name="case")
    op.create_index("ix_case_region_code", "case", ["region_code"], unique=False)
    op.create_index("ix_case_due", "case", ["state", "due_at"], unique=False)
    op.create_index(
        "ix_case_state_submitted", "case", ["state", "submitted_at", "region_code"], unique=False
    )
