"""catalogue: a published or superseded version's document is never changed or deleted

The service refuses such edits; these triggers make the database refuse them
too, so no code path (an import, a script, a bug) can rewrite what a case was
filed under. Only ``status`` (published → superseded) and the publish stamps
may change on a published row.

Revision ID: 0003_catalogue_immutable
Revises: 0002_audit_append_only
Create Date: 2026-11-21
"""

from __future__ import annotations

from alembic import op

revision = "0003_catalogue_immutable"
down_revision = "0002_audit_append_only"
branch_labels = None
depends_on = None

MESSAGE = "published catalogue versions are immutable"
TABLES = {
    "catalogue_item_version": ("fields", "content_hash", "item_id", "version"),
    "implementation_version": (
        "fields",
        "local",
        "form",
        "content_hash",
        "implementation_id",
        "version",
        "base_version_id",
    ),
}


def upgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    for table, cols in TABLES.items():
        if pg:
            changed = " OR ".join(f"NEW.{c}::text IS DISTINCT FROM OLD.{c}::text" for c in cols)
            op.execute(f"""
                CREATE FUNCTION {table}_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                  IF OLD.status <> 'draft' THEN
                    IF TG_OP = 'DELETE' THEN RAISE EXCEPTION '{MESSAGE}'; END IF;
                    IF {changed} THEN RAISE EXCEPTION '{MESSAGE}'; END IF;
                  END IF;
                  IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
                  RETURN NEW;
                END $$;
            """)
            op.execute(f"""
                CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE ON {table}
                FOR EACH ROW EXECUTE FUNCTION {table}_immutable();
            """)
        else:
            changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in cols)
            op.execute(f"""
                CREATE TRIGGER {table}_immutable_update BEFORE UPDATE ON {table}
                WHEN OLD.status <> 'draft' AND ({changed})
                BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END;
            """)
            op.execute(f"""
                CREATE TRIGGER {table}_immutable_delete BEFORE DELETE ON {table}
                WHEN OLD.status <> 'draft'
                BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END;
            """)


def downgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    for table in TABLES:
        if pg:
            op.execute(f"DROP TRIGGER {table}_immutable ON {table}")
            op.execute(f"DROP FUNCTION {table}_immutable()")
        else:
            op.execute(f"DROP TRIGGER {table}_immutable_update")
            op.execute(f"DROP TRIGGER {table}_immutable_delete")
