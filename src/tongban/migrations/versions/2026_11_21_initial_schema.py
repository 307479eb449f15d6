"""initial schema

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-21 10:29:17.760848
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tongban.core.db

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_chain_head",
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("region_code", name=op.f("pk_audit_chain_head")),
    )
    op.create_table(
        "audit_entry",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("target_type", sa.String(length=40), nullable=False),
        sa.Column("target_id", sa.String(length=64), nullable=False),
        sa.Column("at", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entry")),
    )
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_entry_action"), ["action"], unique=False)
        batch_op.create_index("ix_audit_entry_chain_seq", ["region_code", "seq"], unique=True)
        batch_op.create_index("ix_audit_entry_target", ["target_type", "target_id"], unique=False)

    op.create_table(
        "calendar_day",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("is_workday", sa.Boolean(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_calendar_day")),
    )
    op.create_table(
        "calendar_year",
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("loaded_at", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_calendar_year")),
    )
    op.create_table(
        "case_counter",
        sa.Column("region6", sa.String(length=6), nullable=False),
        sa.Column("day", sa.String(length=8), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("region6", "day", name=op.f("pk_case_counter")),
    )
    op.create_table(
        "catalogue_item",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("base_code", sa.String(length=40), nullable=False),
        sa.Column("code_scheme", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("item_type", sa.String(length=2), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("published_version", sa.Integer(), nullable=True),
        sa.Column("created_at", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalogue_item")),
        sa.UniqueConstraint("base_code", name=op.f("uq_catalogue_item_base_code")),
    )
    with op.batch_alter_table("catalogue_item", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_catalogue_item_item_type"), ["item_type"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_catalogue_item_name"), ["name"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_catalogue_item_region_code"), ["region_code"], unique=False
        )
        batch_op.create_index(
            "ix_catalogue_item_region_status", ["region_code", "status"], unique=False
        )

    op.create_table(
        "job_run",
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("last_started_at", tongban.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_finished_at", tongban.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_job_run")),
    )
    op.create_table(
        "licence_counter",
        sa.Column("type_code", sa.String(length=21), nullable=False),
        sa.Column("issuer_code", sa.String(length=18), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "type_code", "issuer_code", "year", name=op.f("pk_licence_counter")
        ),
    )
    op.create_table(
        "licence_type",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=21), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("defining_body", sa.String(length=200), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("holder_kind", sa.String(length=12), nullable=False),
        sa.Column("issuing_department_ids", sa.JSON(), nullable=False),
        sa.Column("field_schema", sa.JSON(), nullable=False),
        sa.Column("validity_years", sa.SmallInteger(), nullable=True),
        sa.Column("validity_months", sa.SmallInteger(), nullable=True),
        sa.Column("template", sa.JSON(), nullable=False),
        sa.Column("reminder_days", sa.JSON(), nullable=False),
        sa.Column("auto_renewal", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_licence_type")),
        sa.UniqueConstraint("code", name=op.f("uq_licence_type_code")),
    )
    with op.batch_alter_table("licence_type", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_licence_type_name"), ["name"], unique=False)

    op.create_table(
        "outbox_event",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_event")),
    )
    with op.batch_alter_table("outbox_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_event_name"), ["name"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_outbox_event_region_code"), ["region_code"], unique=False
        )

    op.create_table(
        "person",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("id_number", sa.String(length=18), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("real_name_level", sa.SmallInteger(), nullable=False),
        sa.Column("is_demo", sa.Boolean(), nullable=False),
        sa.Column("created_at", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person")),
        sa.UniqueConstraint("id_number", name=op.f("uq_person_id_number")),
    )
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_person_name"), ["name"], unique=False)
        batch_op.create_index(batch_op.f("ix_person_phone"), ["phone"], unique=False)
        batch_op.create_index(batch_op.f("ix_person_region_code"), ["region_code"], unique=False)

    op.create_table(
        "region",
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("parent_code", sa.String(length=12), nullable=True),
        sa.Column("full_name", sa.String(length=300), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_region")),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("region", schema=None) as batch_op:
        batch_op.create_index("ix_region_level_code", ["level", "code"], unique=False)
        batch_op.create_index(
            "ix_region_level_name",
            ["level", "name"],
            unique=False,
            postgresql_ops={"name": "varchar_pattern_ops"},
        )
        batch_op.create_index("ix_region_parent_code_code", ["parent_code", "code"], unique=False)

    op.create_table(
        "scheduler_lease",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("holder", sa.String(length=80), nullable=False),
        sa.Column("expires_at", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_scheduler_lease")),
    )
    op.create_table(
        "search_popularity",
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("clicks", sa.Float(), nullable=False),
        sa.Column("updated_at", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kind", "key", name=op.f("pk_search_popularity")),
    )
    op.create_table(
        "search_state",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_search_state")),
    )
    op.create_table(
        "sms_code",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("attempts", sa.SmallInteger(), nullable=False),
        sa.Column("created_at", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("consumed_at", tongban.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_code")),
    )
    with op.batch_alter_table("sms_code", schema=None) as batch_op:
        batch_op.create_index("ix_sms_code_phone_created", ["phone", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_sms_code_region_code"), ["region_code"], unique=False)

    op.create_table(
        "theme",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("audience", sa.String(length=12), nullable=False),
        sa.Column("description", sa.String(length=300), nullable=False),
        sa.Column("keywords", sa.String(length=500), nullable=False),
        sa.Column("sort", sa.SmallInteger(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_theme")),
    )
    op.create_table(
        "department",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("credit_code", sa.String(length=18), nullable=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("short_name", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("created_at", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["region_code"], ["region.code"], name=op.f("fk_department_region_code_region")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_department")),
        sa.UniqueConstraint("credit_code", name=op.f("uq_department_credit_code")),
    )
    with op.batch_alter_table("department", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_department_region_code"), ["region_code"], unique=False
        )
        batch_op.create_index("ix_department_region_name", ["region_code", "name"], unique=True)

    op.create_table(
        "enterprise",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("credit_code", sa.String(length=18), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "legal_rep_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("is_demo", sa.Boolean(), nullable=False),
        sa.Column("created_at", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(
            ["legal_rep_id"], ["person.id"], name=op.f("fk_enterprise_legal_rep_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enterprise")),
        sa.UniqueConstraint("credit_code", name=op.f("uq_enterprise_credit_code")),
    )
    with op.batch_alter_table("enterprise", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_enterprise_legal_rep_id"), ["legal_rep_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_enterprise_name"), ["name"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_enterprise_region_code"), ["region_code"], unique=False
        )

    op.create_table(
        "outbox_delivery",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("handler", sa.String(length=120), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.SmallInteger(), nullable=False),
        sa.Column("available_at", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("locked_by", sa.String(length=80), nullable=True),
        sa.Column("locked_until", tongban.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("done_at", tongban.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["outbox_event.id"],
            name=op.f("fk_outbox_delivery_event_id_outbox_event"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_delivery")),
    )
    with op.batch_alter_table("outbox_delivery", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_delivery_due", ["status", "available_at"], unique=False)
        batch_op.create_index(
            "ix_outbox_delivery_event_handler", ["event_id", "handler"], unique=True
        )
        batch_op.create_index(
            batch_op.f("ix_outbox_delivery_region_code"), ["region_code"], unique=False
        )

    op.create_table(
        "account",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("display_name", sa.String(length=50), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "department_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.SmallInteger(), nullable=False),
        sa.Column("locked_until", tongban.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_login_at", tongban.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("preferences", sa.JSON(), nullable=False),
        sa.Column("created_at", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"], ["department.id"], name=op.f("fk_account_department_id_department")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_account_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account")),
        sa.UniqueConstraint("person_id", name=op.f("uq_account_person_id")),
        sa.UniqueConstraint("username", name=op.f("uq_account_username")),
    )
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_account_department_id"), ["department_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_account_phone"), ["phone"], unique=False)
        batch_op.create_index(batch_op.f("ix_account_region_code"), ["region_code"], unique=False)

    op.create_table(
        "api_client",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column(
            "department_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["department.id"],
            name=op.f("fk_api_client_department_id_department"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_client")),
        sa.UniqueConstraint("name", name=op.f("uq_api_client_name")),
    )
    with op.batch_alter_table("api_client", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_api_client_region_code"), ["region_code"], unique=False
        )

    op.create_table(
        "enterprise_agent",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "enterprise_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "authorised_by_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("valid_from", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("valid_until", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", tongban.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(
            ["authorised_by_id"],
            ["person.id"],
            name=op.f("fk_enterprise_agent_authorised_by_id_person"),
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprise.id"],
            name=op.f("fk_enterprise_agent_enterprise_id_enterprise"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_enterprise_agent_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enterprise_agent")),
    )
    with op.batch_alter_table("enterprise_agent", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_enterprise_agent_enterprise_id"), ["enterprise_id"], unique=False
        )
        batch_op.create_index(
            "ix_enterprise_agent_person", ["person_id", "enterprise_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_enterprise_agent_region_code"), ["region_code"], unique=False
        )

    op.create_table(
        "licence_import",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("file_name", sa.String(length=200), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("type_code", sa.String(length=21), nullable=False),
        sa.Column(
            "department_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("total_rows", sa.Integer(), nullable=False),
        sa.Column("next_row", sa.Integer(), nullable=False),
        sa.Column("imported", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("actor_ref", sa.String(length=40), nullable=False),
        sa.Column("started_at", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", tongban.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["department.id"],
            name=op.f("fk_licence_import_department_id_department"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_licence_import")),
    )
    with op.batch_alter_table("licence_import", schema=None) as batch_op:
        batch_op.create_index(
            "ix_licence_import_file", ["file_sha256", "type_code", "department_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_licence_import_region_code"), ["region_code"], unique=False
        )

    op.create_table(
        "account_role",
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_account_role_account_id_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", "role", name=op.f("pk_account_role")),
    )
    op.create_table(
        "api_token",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "client_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("created_at", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", tongban.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", tongban.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", tongban.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["api_client.id"],
            name=op.f("fk_api_token_client_id_api_client"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_token_token_hash")),
    )
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_token_client_id"), ["client_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_api_token_region_code"), ["region_code"], unique=False)

    op.create_table(
        "catalogue_change",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("entity", sa.String(length=20), nullable=False),
        sa.Column(
            "entity_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("changed", sa.JSON(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("actor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("at", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["account.id"], name=op.f("fk_catalogue_change_actor_id_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalogue_change")),
    )
    with op.batch_alter_table("catalogue_change", schema=None) as batch_op:
        batch_op.create_index(
            "ix_catalogue_change_entity", ["entity", "entity_id", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_catalogue_change_region_code"), ["region_code"], unique=False
        )

    op.create_table(
        "catalogue_item_version",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("item_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column(
            "created_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("created_at", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "published_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("published_at", tongban.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["account.id"],
            name=op.f("fk_catalogue_item_version_created_by_account"),
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["catalogue_item.id"],
            name=op.f("fk_catalogue_item_version_item_id_catalogue_item"),
        ),
        sa.ForeignKeyConstraint(
            ["published_by"],
            ["account.id"],
            name=op.f("fk_catalogue_item_version_published_by_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalogue_item_version")),
        sa.UniqueConstraint("item_id", "version", name=op.f("uq_catalogue_item_version_item_id")),
    )
    with op.batch_alter_table("catalogue_item_version", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_catalogue_item_version_item_id"), ["item_id"], unique=False
        )

    op.create_table(
        "faq_import",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=60), nullable=False),
        sa.Column("rows_read", sa.Integer(), nullable=False),
        sa.Column("rows_written", sa.Integer(), nullable=False),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("actor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["account.id"], name=op.f("fk_faq_import_actor_id_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_faq_import")),
    )
    with op.batch_alter_table("faq_import", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_faq_import_region_code"), ["region_code"], unique=False
        )

    op.create_table(
        "implementation",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("item_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "department_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("impl_code", sa.String(length=80), nullable=False),
        sa.Column("code_scheme", sa.String(length=20), nullable=False),
        sa.Column("level", sa.String(length=1), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("item_type", sa.String(length=2), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("published_version", sa.Integer(), nullable=True),
        sa.Column(
            "published_version_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column("for_persons", sa.Boolean(), nullable=False),
        sa.Column("for_enterprises", sa.Boolean(), nullable=False),
        sa.Column("online_status", sa.String(length=8), nullable=False),
        sa.Column("online_reason", sa.String(length=500), nullable=False),
        sa.Column("online_override", sa.Boolean(), nullable=False),
        sa.Column(
            "online_override_by",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column("online_override_at", tongban.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["department.id"],
            name=op.f("fk_implementation_department_id_department"),
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["catalogue_item.id"],
            name=op.f("fk_implementation_item_id_catalogue_item"),
        ),
        sa.ForeignKeyConstraint(
            ["online_override_by"],
            ["account.id"],
            name=op.f("fk_implementation_online_override_by_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_implementation")),
        sa.UniqueConstraint("impl_code", name=op.f("uq_implementation_impl_code")),
    )
    with op.batch_alter_table("implementation", schema=None) as batch_op:
        batch_op.create_index(
            "ix_implementation_department_status", ["department_id", "status"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_implementation_item_id"), ["item_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_implementation_name"), ["name"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_implementation_region_code"), ["region_code"], unique=False
        )
        batch_op.create_index(
            "ix_implementation_region_status", ["region_code", "status"], unique=False
        )

    op.create_table(
        "login_attempt",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=False),
        sa.Column("at", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_login_attempt_account_id_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempt")),
    )
    with op.batch_alter_table("login_attempt", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_login_attempt_region_code"), ["region_code"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_login_attempt_username"), ["username"], unique=False)

    op.create_table(
        "search_correction",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("normalised", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("actor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["account.id"], name=op.f("fk_search_correction_actor_id_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_correction")),
        sa.UniqueConstraint("normalised", "kind", "key", name="uq_search_correction_normalised"),
    )
    with op.batch_alter_table("search_correction", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_search_correction_normalised"), ["normalised"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_search_correction_region_code"), ["region_code"], unique=False
        )

    op.create_table(
        "search_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("search_id", sa.String(length=32), nullable=False),
        sa.Column("query", sa.String(length=200), nullable=False),
        sa.Column("normalised", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("results_count", sa.Integer(), nullable=False),
        sa.Column("chosen_kind", sa.String(length=10), nullable=True),
        sa.Column("chosen_key", sa.String(length=100), nullable=True),
        sa.Column("chosen_title", sa.String(length=300), nullable=True),
        sa.Column("actor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["account.id"], name=op.f("fk_search_log_actor_id_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_log")),
        sa.UniqueConstraint("search_id", name=op.f("uq_search_log_search_id")),
    )
    with op.batch_alter_table("search_log", schema=None) as batch_op:
        batch_op.create_index(
            "ix_search_log_norm_created", ["normalised", "created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_search_log_region_code"), ["region_code"], unique=False
        )

    op.create_table(
        "search_synonym",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("term", sa.String(length=50), nullable=False),
        sa.Column("canonical", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("evidence", sa.Integer(), nullable=False),
        sa.Column(
            "proposed_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "approved_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("created_at", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("approved_at", tongban.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["approved_by"], ["account.id"], name=op.f("fk_search_synonym_approved_by_account")
        ),
        sa.ForeignKeyConstraint(
            ["proposed_by"], ["account.id"], name=op.f("fk_search_synonym_proposed_by_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_synonym")),
        sa.UniqueConstraint("term", "canonical", name="uq_search_synonym_term_canonical"),
    )
    with op.batch_alter_table("search_synonym", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_search_synonym_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_search_synonym_term"), ["term"], unique=False)

    op.create_table(
        "stored_file",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "uploaded_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("created_at", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["uploaded_by"], ["account.id"], name=op.f("fk_stored_file_uploaded_by_account")
        ),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_stored_file")),
    )
    op.create_table(
        "web_session",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("created_at", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", tongban.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ip", sa.String(length=45), nullable=False),
        sa.Column("user_agent", sa.String(length=200), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_web_session_account_id_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_session")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_web_session_token_hash")),
    )
    with op.batch_alter_table("web_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_web_session_account_id"), ["account_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_web_session_region_code"), ["region_code"], unique=False
        )

    op.create_table(
        "faq_entry",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=60), nullable=False),
        sa.Column("topic", sa.String(length=64), nullable=False),
        sa.Column("question", sa.String(length=500), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("item_code", sa.String(length=40), nullable=False),
        sa.Column("import_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(
            ["import_id"], ["faq_import.id"], name=op.f("fk_faq_entry_import_id_faq_import")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_faq_entry")),
        sa.UniqueConstraint("source", "external_id", name="uq_faq_entry_source_external_id"),
    )
    with op.batch_alter_table("faq_entry", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_faq_entry_item_code"), ["item_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_faq_entry_region_code"), ["region_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_faq_entry_topic"), ["topic"], unique=False)

    op.create_table(
        "implementation_theme",
        sa.Column(
            "implementation_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("theme_code", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["implementation_id"],
            ["implementation.id"],
            name=op.f("fk_implementation_theme_implementation_id_implementation"),
        ),
        sa.ForeignKeyConstraint(
            ["theme_code"], ["theme.code"], name=op.f("fk_implementation_theme_theme_code_theme")
        ),
        sa.PrimaryKeyConstraint(
            "implementation_id", "theme_code", name=op.f("pk_implementation_theme")
        ),
    )
    with op.batch_alter_table("implementation_theme", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_implementation_theme_theme_code"), ["theme_code"], unique=False
        )

    op.create_table(
        "implementation_version",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "implementation_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column(
            "base_version_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("local", sa.JSON(), nullable=False),
        sa.Column("form", sa.JSON(), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column(
            "created_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("created_at", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "published_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("published_at", tongban.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["base_version_id"],
            ["catalogue_item_version.id"],
            name=op.f("fk_implementation_version_base_version_id_catalogue_item_version"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["account.id"],
            name=op.f("fk_implementation_version_created_by_account"),
        ),
        sa.ForeignKeyConstraint(
            ["implementation_id"],
            ["implementation.id"],
            name=op.f("fk_implementation_version_implementation_id_implementation"),
        ),
        sa.ForeignKeyConstraint(
            ["published_by"],
            ["account.id"],
            name=op.f("fk_implementation_version_published_by_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_implementation_version")),
        sa.UniqueConstraint(
            "implementation_id", "version", name=op.f("uq_implementation_version_implementation_id")
        ),
    )
    with op.batch_alter_table("implementation_version", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_implementation_version_implementation_id"),
            ["implementation_id"],
            unique=False,
        )

    op.create_table(
        "licence_seal",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column(
            "department_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("esid", sa.String(length=64), nullable=False),
        sa.Column("algorithm", sa.String(length=10), nullable=False),
        sa.Column("key_id", sa.String(length=40), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("private_key_enc", sa.Text(), nullable=True),
        sa.Column("keystore", sa.String(length=20), nullable=False),
        sa.Column("key_ref", sa.String(length=200), nullable=False),
        sa.Column("image_svg", sa.Text(), nullable=True),
        sa.Column("image_sha256", sa.String(length=64), nullable=True),
        sa.Column("document", sa.JSON(), nullable=True),
        sa.Column(
            "maker_seal_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("valid_from", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("valid_until", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("retired_at", tongban.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "created_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("created_at", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["account.id"], name=op.f("fk_licence_seal_created_by_account")
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["department.id"],
            name=op.f("fk_licence_seal_department_id_department"),
        ),
        sa.ForeignKeyConstraint(
            ["image_sha256"],
            ["stored_file.sha256"],
            name=op.f("fk_licence_seal_image_sha256_stored_file"),
        ),
        sa.ForeignKeyConstraint(
            ["maker_seal_id"],
            ["licence_seal.id"],
            name=op.f("fk_licence_seal_maker_seal_id_licence_seal"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_licence_seal")),
        sa.UniqueConstraint("esid", name=op.f("uq_licence_seal_esid")),
        sa.UniqueConstraint("key_id", name=op.f("uq_licence_seal_key_id")),
    )
    with op.batch_alter_table("licence_seal", schema=None) as batch_op:
        batch_op.create_index(
            "ix_licence_seal_department_status", ["department_id", "status"], unique=False
        )

    op.create_table(
        "case",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("number", sa.String(length=50), nullable=False),
        sa.Column(
            "implementation_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column(
            "implementation_version_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column(
            "department_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("item_name", sa.String(length=200), nullable=False),
        sa.Column(
            "applicant_person_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column(
            "applicant_enterprise_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column("applicant_name", sa.String(length=200), nullable=False),
        sa.Column(
            "submitted_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("idempotency_key", sa.String(length=80), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("step_index", sa.SmallInteger(), nullable=False),
        sa.Column("current_step", sa.String(length=50), nullable=False),
        sa.Column("at_last_step", sa.Boolean(), nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("form_data", sa.JSON(), nullable=False),
        sa.Column("limit_value", sa.Integer(), nullable=False),
        sa.Column("limit_unit", sa.String(length=12), nullable=False),
        sa.Column("extension_days", sa.Integer(), nullable=False),
        sa.Column("correction_round", sa.SmallInteger(), nullable=False),
        sa.Column("submitted_at", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("accept_due_at", tongban.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("accepted_at", tongban.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("due_at", tongban.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("step_started_at", tongban.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("concluded_at", tongban.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", tongban.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=2), nullable=True),
        sa.Column("outcome_reason", sa.Text(), nullable=False),
        sa.Column("delivery_method", sa.String(length=12), nullable=True),
        sa.Column("tracking_number", sa.String(length=40), nullable=True),
        sa.Column("alert", sa.String(length=8), nullable=False),
        sa.Column("created_at", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(
            ["applicant_enterprise_id"],
            ["enterprise.id"],
            name=op.f("fk_case_applicant_enterprise_id_enterprise"),
        ),
        sa.ForeignKeyConstraint(
            ["applicant_person_id"], ["person.id"], name=op.f("fk_case_applicant_person_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["department_id"], ["department.id"], name=op.f("fk_case_department_id_department")
        ),
        sa.ForeignKeyConstraint(
            ["implementation_id"],
            ["implementation.id"],
            name=op.f("fk_case_implementation_id_implementation"),
        ),
        sa.ForeignKeyConstraint(
            ["implementation_version_id"],
            ["implementation_version.id"],
            name=op.f("fk_case_implementation_version_id_implementation_version"),
        ),
        sa.ForeignKeyConstraint(
            ["submitted_by"], ["account.id"], name=op.f("fk_case_submitted_by_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case")),
        sa.UniqueConstraint("number", name=op.f("uq_case_number")),
        sa.UniqueConstraint("submitted_by", "idempotency_key", name="uq_case_idempotency"),
    )
    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.create_index(
            "ix_case_alert_counts",
            ["alert", "region_code"],
            unique=False,
            sqlite_where=sa.text("alert IN ('yellow', 'red')"),
            postgresql_where=sa.text("alert IN ('yellow', 'red')"),
        )
        batch_op.create_index("ix_case_alert_id", ["alert", "id", "region_code"], unique=False)
        batch_op.create_index(
            "ix_case_applicant_person", ["applicant_person_id", "id"], unique=False
        )
        batch_op.create_index(
            "ix_case_department_state_id", ["department_id", "state", "id"], unique=False
        )
        batch_op.create_index("ix_case_due", ["state", "due_at"], unique=False)
        batch_op.create_index(
            "ix_case_implementation_state_id", ["implementation_id", "state", "id"], unique=False
        )
        batch_op.create_index(
            "ix_case_queue_counts",
            ["state", "region_code", "at_last_step"],
            unique=False,
            sqlite_where=sa.text(
                "state IN ('concluded', 'correction', 'reviewing', 'submitted', 'suspended')"
            ),
            postgresql_where=sa.text(
                "state IN ('concluded', 'correction', 'reviewing', 'submitted', 'suspended')"
            ),
        )
        batch_op.create_index(batch_op.f("ix_case_region_code"), ["region_code"], unique=False)
        batch_op.create_index(
            "ix_case_region_state_id", ["region_code", "state", "id"], unique=False
        )
        batch_op.create_index(
            "ix_case_state_id", ["state", "id", "region_code", "at_last_step"], unique=False
        )
        batch_op.create_index(
            "ix_case_state_submitted", ["state", "submitted_at", "region_code"], unique=False
        )

    op.create_table(
        "case_material",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=True),
        sa.Column("replaced_by", sa.String(length=120), nullable=True),
        sa.Column("round", sa.SmallInteger(), nullable=False),
        sa.Column("uploaded_at", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["case.id"], name=op.f("fk_case_material_case_id_case")
        ),
        sa.ForeignKeyConstraint(
            ["file_sha256"],
            ["stored_file.sha256"],
            name=op.f("fk_case_material_file_sha256_stored_file"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_material")),
    )
    with op.batch_alter_table("case_material", schema=None) as batch_op:
        batch_op.create_index("ix_case_material_case", ["case_id", "id"], unique=False)

    op.create_table(
        "case_pause",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("started_at", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", tongban.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("result", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"], name=op.f("fk_case_pause_case_id_case")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_pause")),
    )
    with op.batch_alter_table("case_pause", schema=None) as batch_op:
        batch_op.create_index("ix_case_pause_case", ["case_id"], unique=False)

    op.create_table(
        "case_trail",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("action", sa.String(length=24), nullable=False),
        sa.Column("from_state", sa.String(length=20), nullable=False),
        sa.Column("to_state", sa.String(length=20), nullable=False),
        sa.Column("step_name", sa.String(length=50), nullable=False),
        sa.Column("actor_ref", sa.String(length=40), nullable=False),
        sa.Column("actor_name", sa.String(length=100), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("at", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"], name=op.f("fk_case_trail_case_id_case")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_trail")),
    )
    with op.batch_alter_table("case_trail", schema=None) as batch_op:
        batch_op.create_index("ix_case_trail_case", ["case_id", "id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_case_trail_region_code"), ["region_code"], unique=False
        )

    op.create_table(
        "correction_notice",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("round", sa.SmallInteger(), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("new_items", sa.JSON(), nullable=False),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column(
            "approved_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "issued_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("issued_at", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("answered_at", tongban.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["approved_by"], ["account.id"], name=op.f("fk_correction_notice_approved_by_account")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["case.id"], name=op.f("fk_correction_notice_case_id_case")
        ),
        sa.ForeignKeyConstraint(
            ["issued_by"], ["account.id"], name=op.f("fk_correction_notice_issued_by_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_correction_notice")),
        sa.UniqueConstraint("case_id", "round", name=op.f("uq_correction_notice_case_id")),
    )
    op.create_table(
        "licence",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "licence_type_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("type_name", sa.String(length=100), nullable=False),
        sa.Column("type_code", sa.String(length=21), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("identifier", sa.String(length=160), nullable=False),
        sa.Column("serial", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("issuer_name", sa.String(length=200), nullable=False),
        sa.Column("issuer_code", sa.String(length=18), nullable=False),
        sa.Column(
            "issuer_department_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("holder_name", sa.String(length=200), nullable=False),
        sa.Column("holder_code", sa.String(length=18), nullable=False),
        sa.Column("holder_code_type", sa.String(length=3), nullable=False),
        sa.Column(
            "holder_person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "holder_enterprise_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=False),
        sa.Column("status_changed_at", tongban.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("seal_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("signature", sa.JSON(), nullable=False),
        sa.Column("canonical_hash", sa.String(length=64), nullable=False),
        sa.Column("qr_payload", sa.Text(), nullable=False),
        sa.Column("issued_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"], name=op.f("fk_licence_case_id_case")),
        sa.ForeignKeyConstraint(
            ["holder_enterprise_id"],
            ["enterprise.id"],
            name=op.f("fk_licence_holder_enterprise_id_enterprise"),
        ),
        sa.ForeignKeyConstraint(
            ["holder_person_id"], ["person.id"], name=op.f("fk_licence_holder_person_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["issued_by"], ["account.id"], name=op.f("fk_licence_issued_by_account")
        ),
        sa.ForeignKeyConstraint(
            ["issuer_department_id"],
            ["department.id"],
            name=op.f("fk_licence_issuer_department_id_department"),
        ),
        sa.ForeignKeyConstraint(
            ["licence_type_id"],
            ["licence_type.id"],
            name=op.f("fk_licence_licence_type_id_licence_type"),
        ),
        sa.ForeignKeyConstraint(
            ["seal_id"], ["licence_seal.id"], name=op.f("fk_licence_seal_id_licence_seal")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_licence")),
        sa.UniqueConstraint("case_id", name=op.f("uq_licence_case_id")),
        sa.UniqueConstraint("identifier", name=op.f("uq_licence_identifier")),
        sa.UniqueConstraint("type_code", "issuer_code", "serial", name="uq_licence_serial"),
    )
    with op.batch_alter_table("licence", schema=None) as batch_op:
        batch_op.create_index(
            "ix_licence_department_id", ["issuer_department_id", "id"], unique=False
        )
        batch_op.create_index("ix_licence_holder_code", ["holder_code"], unique=False)
        batch_op.create_index(
            "ix_licence_holder_enterprise", ["holder_enterprise_id", "id"], unique=False
        )
        batch_op.create_index("ix_licence_holder_person", ["holder_person_id", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_licence_region_code"), ["region_code"], unique=False)
        batch_op.create_index(
            "ix_licence_region_status", ["region_code", "status", "id"], unique=False
        )
        batch_op.create_index(
            "ix_licence_type_valid_until", ["licence_type_id", "valid_until"], unique=False
        )
        batch_op.create_index(
            "uq_licence_import_number",
            ["number", "type_code"],
            unique=True,
            postgresql_where=sa.text("source = 'import'"),
            sqlite_where=sa.text("source = 'import'"),
        )

    op.create_table(
        "notification",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("read_at", tongban.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_notification_account_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["case.id"], name=op.f("fk_notification_case_id_case")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification")),
    )
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.create_index("ix_notification_account", ["account_id", "id"], unique=False)

    op.create_table(
        "supervision_card",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "department_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("colour", sa.String(length=8), nullable=False),
        sa.Column("rule", sa.String(length=20), nullable=False),
        sa.Column("at", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["case.id"], name=op.f("fk_supervision_card_case_id_case")
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["department.id"],
            name=op.f("fk_supervision_card_department_id_department"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervision_card")),
    )
    with op.batch_alter_table("supervision_card", schema=None) as batch_op:
        batch_op.create_index("ix_supervision_card_case", ["case_id", "id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_supervision_card_region_code"), ["region_code"], unique=False
        )

    op.create_table(
        "supervision_notice",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "department_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("reply_due_at", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column(
            "issued_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("issued_at", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reply", sa.Text(), nullable=False),
        sa.Column(
            "replied_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("replied_at", tongban.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", tongban.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["case.id"], name=op.f("fk_supervision_notice_case_id_case")
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["department.id"],
            name=op.f("fk_supervision_notice_department_id_department"),
        ),
        sa.ForeignKeyConstraint(
            ["issued_by"], ["account.id"], name=op.f("fk_supervision_notice_issued_by_account")
        ),
        sa.ForeignKeyConstraint(
            ["replied_by"], ["account.id"], name=op.f("fk_supervision_notice_replied_by_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervision_notice")),
    )
    with op.batch_alter_table("supervision_notice", schema=None) as batch_op:
        batch_op.create_index(
            "ix_supervision_notice_department_state", ["department_id", "state"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_supervision_notice_region_code"), ["region_code"], unique=False
        )

    op.create_table(
        "licence_expiry_reminder",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "licence_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("days", sa.SmallInteger(), nullable=False),
        sa.Column("days_left", sa.SmallInteger(), nullable=False),
        sa.Column("sent", sa.Boolean(), nullable=False),
        sa.Column("at", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(
            ["licence_id"],
            ["licence.id"],
            name=op.f("fk_licence_expiry_reminder_licence_id_licence"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_licence_expiry_reminder")),
        sa.UniqueConstraint("licence_id", "valid_until", "days", name="uq_licence_expiry_reminder"),
    )
    with op.batch_alter_table("licence_expiry_reminder", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_licence_expiry_reminder_region_code"), ["region_code"], unique=False
        )

    op.create_table(
        "licence_history",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "licence_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("identifier", sa.String(length=160), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.Column("signature", sa.JSON(), nullable=True),
        sa.Column("canonical_hash", sa.String(length=64), nullable=True),
        sa.Column("seal_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor_ref", sa.String(length=40), nullable=False),
        sa.Column("actor_name", sa.String(length=100), nullable=False),
        sa.Column("at", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(
            ["licence_id"], ["licence.id"], name=op.f("fk_licence_history_licence_id_licence")
        ),
        sa.ForeignKeyConstraint(
            ["seal_id"], ["licence_seal.id"], name=op.f("fk_licence_history_seal_id_licence_seal")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_licence_history")),
    )
    with op.batch_alter_table("licence_history", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_licence_history_identifier"), ["identifier"], unique=False
        )
        batch_op.create_index("ix_licence_history_licence", ["licence_id", "id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_licence_history_region_code"), ["region_code"], unique=False
        )

    op.create_table(
        "licence_renewal",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "licence_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column(
            "holder_person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "holder_enterprise_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column(
            "implementation_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("item_name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "decided_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("decided_at", tongban.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["case.id"], name=op.f("fk_licence_renewal_case_id_case")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["account.id"], name=op.f("fk_licence_renewal_decided_by_account")
        ),
        sa.ForeignKeyConstraint(
            ["holder_enterprise_id"],
            ["enterprise.id"],
            name=op.f("fk_licence_renewal_holder_enterprise_id_enterprise"),
        ),
        sa.ForeignKeyConstraint(
            ["holder_person_id"],
            ["person.id"],
            name=op.f("fk_licence_renewal_holder_person_id_person"),
        ),
        sa.ForeignKeyConstraint(
            ["implementation_id"],
            ["implementation.id"],
            name=op.f("fk_licence_renewal_implementation_id_implementation"),
        ),
        sa.ForeignKeyConstraint(
            ["licence_id"], ["licence.id"], name=op.f("fk_licence_renewal_licence_id_licence")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_licence_renewal")),
        sa.UniqueConstraint("licence_id", "valid_until", name="uq_licence_renewal"),
    )
    with op.batch_alter_table("licence_renewal", schema=None) as batch_op:
        batch_op.create_index(
            "ix_licence_renewal_enterprise", ["holder_enterprise_id", "status"], unique=False
        )
        batch_op.create_index(
            "ix_licence_renewal_person", ["holder_person_id", "status"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_licence_renewal_region_code"), ["region_code"], unique=False
        )

    op.create_table(
        "licence_share",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "licence_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("case_region_code", sa.String(length=12), nullable=True),
        sa.Column("material_name", sa.String(length=200), nullable=False),
        sa.Column("recipient", sa.String(length=200), nullable=False),
        sa.Column("purpose", sa.String(length=500), nullable=False),
        sa.Column("show_full", sa.Boolean(), nullable=False),
        sa.Column("valid_from", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("valid_until", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("token_hint", sa.String(length=8), nullable=False),
        sa.Column(
            "granted_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "granted_by_person", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("revoked_at", tongban.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("use_count", sa.Integer(), nullable=False),
        sa.Column("last_used_at", tongban.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["case.id"], name=op.f("fk_licence_share_case_id_case")
        ),
        sa.ForeignKeyConstraint(
            ["granted_by"], ["account.id"], name=op.f("fk_licence_share_granted_by_account")
        ),
        sa.ForeignKeyConstraint(
            ["granted_by_person"],
            ["person.id"],
            name=op.f("fk_licence_share_granted_by_person_person"),
        ),
        sa.ForeignKeyConstraint(
            ["licence_id"], ["licence.id"], name=op.f("fk_licence_share_licence_id_licence")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_licence_share")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_licence_share_token_hash")),
    )
    with op.batch_alter_table("licence_share", schema=None) as batch_op:
        batch_op.create_index("ix_licence_share_case", ["case_id", "licence_id"], unique=False)
        batch_op.create_index(
            "ix_licence_share_case_region", ["case_region_code", "kind"], unique=False
        )
        batch_op.create_index("ix_licence_share_licence", ["licence_id", "id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_licence_share_region_code"), ["region_code"], unique=False
        )

    op.create_table(
        "licence_verification",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "licence_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("identifier", sa.String(length=160), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("requester", sa.String(length=100), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=False),
        sa.Column("result", sa.String(length=12), nullable=False),
        sa.Column("at", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(
            ["licence_id"], ["licence.id"], name=op.f("fk_licence_verification_licence_id_licence")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_licence_verification")),
    )
    with op.batch_alter_table("licence_verification", schema=None) as batch_op:
        batch_op.create_index("ix_licence_verification_licence", ["licence_id", "id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_licence_verification_region_code"), ["region_code"], unique=False
        )

    op.create_table(
        "licence_use",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "licence_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("share_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("party", sa.String(length=200), nullable=False),
        sa.Column("actor_ref", sa.String(length=40), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=False),
        sa.Column("result", sa.String(length=12), nullable=False),
        sa.Column("at", tongban.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"], name=op.f("fk_licence_use_case_id_case")),
        sa.ForeignKeyConstraint(
            ["licence_id"], ["licence.id"], name=op.f("fk_licence_use_licence_id_licence")
        ),
        sa.ForeignKeyConstraint(
            ["share_id"], ["licence_share.id"], name=op.f("fk_licence_use_share_id_licence_share")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_licence_use")),
    )
    with op.batch_alter_table("licence_use", schema=None) as batch_op:
        batch_op.create_index("ix_licence_use_licence", ["licence_id", "id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_licence_use_region_code"), ["region_code"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("licence_use", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_licence_use_region_code"))
        batch_op.drop_index("ix_licence_use_licence")

    op.drop_table("licence_use")
    with op.batch_alter_table("licence_verification", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_licence_verification_region_code"))
        batch_op.drop_index("ix_licence_verification_licence")

    op.drop_table("licence_verification")
    with op.batch_alter_table("licence_share", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_licence_share_region_code"))
        batch_op.drop_index("ix_licence_share_licence")
        batch_op.drop_index("ix_licence_share_case_region")
        batch_op.drop_index("ix_licence_share_case")

    op.drop_table("licence_share")
    with op.batch_alter_table("licence_renewal", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_licence_renewal_region_code"))
        batch_op.drop_index("ix_licence_renewal_person")
        batch_op.drop_index("ix_licence_renewal_enterprise")

    op.drop_table("licence_renewal")
    with op.batch_alter_table("licence_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_licence_history_region_code"))
        batch_op.drop_index("ix_licence_history_licence")
        batch_op.drop_index(batch_op.f("ix_licence_history_identifier"))

    op.drop_table("licence_history")
    with op.batch_alter_table("licence_expiry_reminder", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_licence_expiry_reminder_region_code"))

    op.drop_table("licence_expiry_reminder")
    with op.batch_alter_table("supervision_notice", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_supervision_notice_region_code"))
        batch_op.drop_index("ix_supervision_notice_department_state")

    op.drop_table("supervision_notice")
    with op.batch_alter_table("supervision_card", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_supervision_card_region_code"))
        batch_op.drop_index("ix_supervision_card_case")

    op.drop_table("supervision_card")
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.drop_index("ix_notification_account")

    op.drop_table("notification")
    with op.batch_alter_table("licence", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_licence_import_number",
            postgresql_where=sa.text("source = 'import'"),
            sqlite_where=sa.text("source = 'import'"),
        )
        batch_op.drop_index("ix_licence_type_valid_until")
        batch_op.drop_index("ix_licence_region_status")
        batch_op.drop_index(batch_op.f("ix_licence_region_code"))
        batch_op.drop_index("ix_licence_holder_person")
        batch_op.drop_index("ix_licence_holder_enterprise")
        batch_op.drop_index("ix_licence_holder_code")
        batch_op.drop_index("ix_licence_department_id")

    op.drop_table("licence")
    op.drop_table("correction_notice")
    with op.batch_alter_table("case_trail", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_trail_region_code"))
        batch_op.drop_index("ix_case_trail_case")

    op.drop_table("case_trail")
    with op.batch_alter_table("case_pause", schema=None) as batch_op:
        batch_op.drop_index("ix_case_pause_case")

    op.drop_table("case_pause")
    with op.batch_alter_table("case_material", schema=None) as batch_op:
        batch_op.drop_index("ix_case_material_case")

    op.drop_table("case_material")
    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.drop_index("ix_case_state_submitted")
        batch_op.drop_index("ix_case_state_id")
        batch_op.drop_index("ix_case_region_state_id")
        batch_op.drop_index(batch_op.f("ix_case_region_code"))
        batch_op.drop_index(
            "ix_case_queue_counts",
            sqlite_where=sa.text(
                "state IN ('concluded', 'correction', 'reviewing', 'submitted', 'suspended')"
            ),
            postgresql_where=sa.text(
                "state IN ('concluded', 'correction', 'reviewing', 'submitted', 'suspended')"
            ),
        )
        batch_op.drop_index("ix_case_implementation_state_id")
        batch_op.drop_index("ix_case_due")
        batch_op.drop_index("ix_case_department_state_id")
        batch_op.drop_index("ix_case_applicant_person")
        batch_op.drop_index("ix_case_alert_id")
        batch_op.drop_index(
            "ix_case_alert_counts",
            sqlite_where=sa.text("alert IN ('yellow', 'red')"),
            postgresql_where=sa.text("alert IN ('yellow', 'red')"),
        )

    op.drop_table("case")
    with op.batch_alter_table("licence_seal", schema=None) as batch_op:
        batch_op.drop_index("ix_licence_seal_department_status")

    op.drop_table("licence_seal")
    with op.batch_alter_table("implementation_version", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_implementation_version_implementation_id"))

    op.drop_table("implementation_version")
    with op.batch_alter_table("implementation_theme", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_implementation_theme_theme_code"))

    op.drop_table("implementation_theme")
    with op.batch_alter_table("faq_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_faq_entry_topic"))
        batch_op.drop_index(batch_op.f("ix_faq_entry_region_code"))
        batch_op.drop_index(batch_op.f("ix_faq_entry_item_code"))

    op.drop_table("faq_entry")
    with op.batch_alter_table("web_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_session_region_code"))
        batch_op.drop_index(batch_op.f("ix_web_session_account_id"))

    op.drop_table("web_session")
    op.drop_table("stored_file")
    with op.batch_alter_table("search_synonym", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_search_synonym_term"))
        batch_op.drop_index(batch_op.f("ix_search_synonym_status"))

    op.drop_table("search_synonym")
    with op.batch_alter_table("search_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_search_log_region_code"))
        batch_op.drop_index("ix_search_log_norm_created")

    op.drop_table("search_log")
    with op.batch_alter_table("search_correction", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_search_correction_region_code"))
        batch_op.drop_index(batch_op.f("ix_search_correction_normalised"))

    op.drop_table("search_correction")
    with op.batch_alter_table("login_attempt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_attempt_username"))
        batch_op.drop_index(batch_op.f("ix_login_attempt_region_code"))

    op.drop_table("login_attempt")
    with op.batch_alter_table("implementation", schema=None) as batch_op:
        batch_op.drop_index("ix_implementation_region_status")
        batch_op.drop_index(batch_op.f("ix_implementation_region_code"))
        batch_op.drop_index(batch_op.f("ix_implementation_name"))
        batch_op.drop_index(batch_op.f("ix_implementation_item_id"))
        batch_op.drop_index("ix_implementation_department_status")

    op.drop_table("implementation")
    with op.batch_alter_table("faq_import", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_faq_import_region_code"))

    op.drop_table("faq_import")
    with op.batch_alter_table("catalogue_item_version", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalogue_item_version_item_id"))

    op.drop_table("catalogue_item_version")
    with op.batch_alter_table("catalogue_change", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalogue_change_region_code"))
        batch_op.drop_index("ix_catalogue_change_entity")

    op.drop_table("catalogue_change")
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_token_region_code"))
        batch_op.drop_index(batch_op.f("ix_api_token_client_id"))

    op.drop_table("api_token")
    op.drop_table("account_role")
    with op.batch_alter_table("licence_import", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_licence_import_region_code"))
        batch_op.drop_index("ix_licence_import_file")

    op.drop_table("licence_import")
    with op.batch_alter_table("enterprise_agent", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_enterprise_agent_region_code"))
        batch_op.drop_index("ix_enterprise_agent_person")
        batch_op.drop_index(batch_op.f("ix_enterprise_agent_enterprise_id"))

    op.drop_table("enterprise_agent")
    with op.batch_alter_table("api_client", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_client_region_code"))

    op.drop_table("api_client")
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_region_code"))
        batch_op.drop_index(batch_op.f("ix_account_phone"))
        batch_op.drop_index(batch_op.f("ix_account_department_id"))

    op.drop_table("account")
    with op.batch_alter_table("outbox_delivery", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_delivery_region_code"))
        batch_op.drop_index("ix_outbox_delivery_event_handler")
        batch_op.drop_index("ix_outbox_delivery_due")

    op.drop_table("outbox_delivery")
    with op.batch_alter_table("enterprise", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_enterprise_region_code"))
        batch_op.drop_index(batch_op.f("ix_enterprise_name"))
        batch_op.drop_index(batch_op.f("ix_enterprise_legal_rep_id"))

    op.drop_table("enterprise")
    with op.batch_alter_table("department", schema=None) as batch_op:
        batch_op.drop_index("ix_department_region_name")
        batch_op.drop_index(batch_op.f("ix_department_region_code"))

    op.drop_table("department")
    op.drop_table("theme")
    with op.batch_alter_table("sms_code", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sms_code_region_code"))
        batch_op.drop_index("ix_sms_code_phone_created")

    op.drop_table("sms_code")
    op.drop_table("search_state")
    op.drop_table("search_popularity")
    op.drop_table("scheduler_lease")
    with op.batch_alter_table("region", schema=None) as batch_op:
        batch_op.drop_index("ix_region_parent_code_code")
        batch_op.drop_index("ix_region_level_name", postgresql_ops={"name": "varchar_pattern_ops"})
        batch_op.drop_index("ix_region_level_code")

    op.drop_table("region")
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_person_region_code"))
        batch_op.drop_index(batch_op.f("ix_person_phone"))
        batch_op.drop_index(batch_op.f("ix_person_name"))

    op.drop_table("person")
    with op.batch_alter_table("outbox_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_event_region_code"))
        batch_op.drop_index(batch_op.f("ix_outbox_event_name"))

    op.drop_table("outbox_event")
    with op.batch_alter_table("licence_type", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_licence_type_name"))

    op.drop_table("licence_type")
    op.drop_table("licence_counter")
    op.drop_table("job_run")
    with op.batch_alter_table("catalogue_item", schema=None) as batch_op:
        batch_op.drop_index("ix_catalogue_item_region_status")
        batch_op.drop_index(batch_op.f("ix_catalogue_item_region_code"))
        batch_op.drop_index(batch_op.f("ix_catalogue_item_name"))
        batch_op.drop_index(batch_op.f("ix_catalogue_item_item_type"))

    op.drop_table("catalogue_item")
    op.drop_table("case_counter")
    op.drop_table("calendar_year")
    op.drop_table("calendar_day")
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_entry_target")
        batch_op.drop_index("ix_audit_entry_chain_seq")
        batch_op.drop_index(batch_op.f("ix_audit_entry_action"))

    op.drop_table("audit_entry")
    op.drop_table("audit_chain_head")
