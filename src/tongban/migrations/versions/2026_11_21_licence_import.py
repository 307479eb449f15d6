"""licences: cheaper rows for 证照汇聚 (bulk import) — fewer index entries, set-based parent checks

Each imported licence is two rows (``licence``, ``licence_history``) written by
``COPY``; PostgreSQL maintains every index and fires every foreign-key trigger
per row. Measured per licence (backend CPU, ``docs/licences.md``): the nine
foreign-key checks cost about as much as the two heap rows and all their
indexes together.

Indexes (both databases):

- ``ix_licence_region_code`` dropped: ``ix_licence_region_status``
  (region_code, status, id) leads with the same column and serves every region
  filter.
- ``ix_licence_history_region_code`` dropped: no query reads the history by
  region (it is read by licence and by identifier).
- ``ix_licence_holder_person`` / ``ix_licence_holder_enterprise`` partial
  (``WHERE … IS NOT NULL``): every query probes them with ``= id``; a licence
  has one of the two, and imported licences of holders not yet registered have
  neither, so the NULL entries were never read.

Parent checks (PostgreSQL only): the references of a licence and of a history
row to its type, department and seal name the same few parent rows for a whole
import. The per-row foreign keys ``licence.licence_type_id``,
``licence.issuer_department_id``, ``licence.seal_id`` and
``licence_history.seal_id`` become set-based checks with the same effect:

- on INSERT, one statement trigger per statement (a ``COPY`` of 500 rows is
  one): the distinct parents of the new rows are locked ``FOR KEY SHARE`` (as
  a foreign-key check locks them, so a concurrent delete waits for this
  transaction) and must all exist, else ``foreign_key_violation`` naming the
  constraint it replaces;
- on UPDATE of one of those columns, a row trigger does the same for the row;
- on DELETE (or a change of ``id``) of a parent row, a row trigger refuses
  while a licence or history row still names it (NO ACTION, checked after the
  row, as the foreign key did).

SQLite keeps its foreign keys (checked per row in process, cheaply); the
models keep declaring them.

Revision ID: 0005_licence_import
Revises: 0004_case_worklist_indexes
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_licence_import"
down_revision = "0004_case_worklist_indexes"
branch_labels = None
depends_on = None

# (child table, column, parent table, the foreign key it replaces)
REFS = (
    ("licence", "licence_type_id", "licence_type", "fk_licence_licence_type_id_licence_type"),
    ("licence", "issuer_department_id", "department", "fk_licence_issuer_department_id_department"),
    ("licence", "seal_id", "licence_seal", "fk_licence_seal_id_licence_seal"),
    ("licence_history", "seal_id", "licence_seal", "fk_licence_history_seal_id_licence_seal"),
)
CHILDREN = ("licence", "licence_history")


def _violation(child: str, fk: str) -> str:
    return (
        f'RAISE foreign_key_violation USING MESSAGE = \'insert or update on table "{child}" '
        f"violates foreign key constraint \"{fk}\"', CONSTRAINT = '{fk}', TABLE = '{child}';"
    )


def _pg_upgrade() -> None:
    for child, _col, _parent, fk in REFS:
        op.drop_constraint(fk, child, type_="foreignkey")
    for child in CHILDREN:
        refs = [r for r in REFS if r[0] == child]
        # INSERT: once per statement, over the distinct parents of the new rows.
        body = "\n".join(
            f"""
              PERFORM 1 FROM {parent} p
                WHERE p.id IN (SELECT DISTINCT {col} FROM new_rows) FOR KEY SHARE OF p;
              IF EXISTS (SELECT 1 FROM (SELECT DISTINCT {col} AS ref FROM new_rows) n
                         WHERE n.ref IS NOT NULL
                           AND NOT EXISTS (SELECT 1 FROM {parent} p WHERE p.id = n.ref)) THEN
                {_violation(child, fk)}
              END IF;"""  # noqa: S608 - table and column names from REFS, no input
            for _c, col, parent, fk in refs
        )
        op.execute(f"""
            CREATE FUNCTION {child}_parents_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN{body}
              RETURN NULL;
            END $$;
        """)
        op.execute(f"""
            CREATE TRIGGER {child}_parents_inserted AFTER INSERT ON {child}
            REFERENCING NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION {child}_parents_inserted();
        """)
        # UPDATE of a reference: per row, only when one changed.
        body = "\n".join(
            f"""
              IF NEW.{col} IS NOT NULL AND NEW.{col} IS DISTINCT FROM OLD.{col} THEN
                PERFORM 1 FROM {parent} p WHERE p.id = NEW.{col} FOR KEY SHARE OF p;
                IF NOT FOUND THEN
                  {_violation(child, fk)}
                END IF;
              END IF;"""
            for _c, col, parent, fk in refs
        )
        changed = " OR ".join(f"NEW.{col} IS DISTINCT FROM OLD.{col}" for _c, col, _p, _f in refs)
        op.execute(f"""
            CREATE FUNCTION {child}_parents_updated() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN{body}
              RETURN NULL;
            END $$;
        """)
        op.execute(f"""
            CREATE TRIGGER {child}_parents_updated AFTER UPDATE ON {child}
            FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION {child}_parents_updated();
        """)
    # The parent side: a row still named by a licence or history row is not deleted.
    op.execute("""
        CREATE FUNCTION licence_parent_in_use() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
          used boolean;
        BEGIN
          IF TG_OP = 'UPDATE' AND NEW.id = OLD.id THEN
            RETURN NULL;
          END IF;
          EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I WHERE %I = $1)', TG_ARGV[0], TG_ARGV[1])
            INTO used USING OLD.id;
          IF used THEN
            RAISE foreign_key_violation USING
              MESSAGE = format('update or delete on table "%s" violates foreign key constraint "%s" on table "%s"',
                               TG_TABLE_NAME, TG_ARGV[2], TG_ARGV[0]),
              CONSTRAINT = TG_ARGV[2], TABLE = TG_ARGV[0];
          END IF;
          RETURN NULL;
        END $$;
    """)
    for child, col, parent, fk in REFS:
        op.execute(f"""
            CREATE TRIGGER {fk}_parent AFTER DELETE OR UPDATE OF id ON {parent}
            FOR EACH ROW EXECUTE FUNCTION licence_parent_in_use('{child}', '{col}', '{fk}');
        """)


def _pg_downgrade() -> None:
    for _child, _col, parent, fk in REFS:
        op.execute(f"DROP TRIGGER {fk}_parent ON {parent}")
    op.execute("DROP FUNCTION licence_parent_in_use()")
    for child in CHILDREN:
        op.execute(f"DROP TRIGGER {child}_parents_updated ON {child}")
        op.execute(f"DROP FUNCTION {child}_parents_updated()")
        op.execute(f"DROP TRIGGER {child}_parents_inserted ON {child}")
        op.execute(f"DROP FUNCTION {child}_parents_inserted()")
    for child, col, parent, fk in REFS:
        op.create_foreign_key(fk, child, parent, [col], ["id"])


def upgrade() -> None:
    op.drop_index("ix_licence_region_code", table_name="licence")
    op.drop_index("ix_licence_history_region_code", table_name="licence_history")
    for kind in ("person", "enterprise"):
        op.drop_index(f"ix_licence_holder_{kind}", table_name="licence")
        where = sa.text(f"holder_{kind}_id IS NOT NULL")
        op.create_index(
            f"ix_licence_holder_{kind}",
            "licence",
            [f"holder_{kind}_id", "id"],
            postgresql_where=where,
            sqlite_where=where,
        )
    if op.get_bind().dialect.name == "postgresql":
        _pg_upgrade()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _pg_downgrade()
    for kind in ("person", "enterprise"):
        op.drop_index(f"ix_licence_holder_{kind}", table_name="licence")
        op.create_index(f"ix_licence_holder_{kind}", "licence", [f"holder_{kind}_id", "id"])
    op.create_index("ix_licence_history_region_code", "licence_history", ["region_code"])
    op.create_index("ix_licence_region_code", "licence", ["region_code"])
