"""initial schema

Revision ID: 0001_initial
Revises: 
Create Date: 2026-11-21 08:30:45.328526
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tongban.core.db


revision = '0001_initial'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_chain_head',
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('region_code', name=op.f('pk_audit_chain_head'))
    )
    op.create_table('audit_entry',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('action', sa.String(length=60), nullable=False),
    sa.Column('target_type', sa.String(length=40), nullable=False),
    sa.Column('target_id', sa.String(length=64), nullable=False),
    sa.Column('at', tongban.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_entry'))
    )
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_entry_action'), ['action'], unique=False)
        batch_op.create_index('ix_audit_entry_chain_seq', ['region_code', 'seq'], unique=True)
        batch_op.create_index('ix_audit_entry_target', ['target_type', 'target_id'], unique=False)

    op.create_table('calendar_day',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('is_workday', sa.Boolean(), nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_calendar_day'))
    )
    op.create_table('calendar_year',
    sa.Column('year', sa.SmallInteger(), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('loaded_at', tongban.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('year', name=op.f('pk_calendar_year'))
    )
    op.create_table('case_counter',
    sa.Column('region6', sa.String(length=6), nullable=False),
    sa.Column('day', sa.String(length=8), nullable=False),
    sa.Column('value', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('region6', 'day', name=op.f('pk_case_counter'))
    )
    op.create_table('catalogue_item',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('base_code', sa.String(length=40), nullable=False),
    sa.Column('code_scheme', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('item_type', sa.String(length=2), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('current_version', sa.Integer(), nullable=False),
    sa.Column('published_version', sa.Integer(), nullable=True),
    sa.Column('created_at', tongban.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', tongban.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalogue_item')),
    sa.UniqueConstraint('base_code', name=op.f('uq_catalogue_item_base_code'))
    )
    with op.batch_alter_table('catalogue_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_catalogue_item_item_type'), ['item_type'], unique=False)
        batch_op.create_index(batch_op.f('ix_catalogue_item_name'), ['name'], unique=False)
        batch_op.create_index(batch_op.f('ix_catalogue_item_region_code'), ['region_code'], unique=False)
        batch_op.create_index('ix_catalogue_item_region_status', ['region_code', 'status'], unique=False)

    op.create_table('job_run',
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('last_started_at', tongban.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_finished_at', tongban.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_job_run'))
    )
    op.create_table('outbox_event',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('created_at', tongban.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_event'))
    )
    with op.batch_alter_table('outbox_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_event_name'), ['name'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_event_region_code'), ['region_code'], unique=False)

    op.create_table('person',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('id_number', sa.String(length=18), nullable=False),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('real_name_level', sa.SmallInteger(), nullable=False),
    sa.Column('is_demo', sa.Boolean(), nullable=False),
    sa.Column('created_at', tongban.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_person')),
    sa.UniqueConstraint('id_number', name=op.f('uq_person_id_number'))
    )
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_person_name'), ['name'], unique=False)
        batch_op.create_index(batch_op.f('ix_person_phone'), ['phone'], unique=False)
        batch_op.create_index(batch_op.f('ix_person_region_code'), ['region_code'], unique=False)

    op.create_table('region',
    sa.Column('code', sa.String(length=12), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('level', sa.SmallInteger(), nullable=False),
    sa.Column('parent_code', sa.String(length=12), nullable=True),
    sa.Column('full_name', sa.String(length=300), nullable=False),
    sa.Column('source', sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_region')),
    sqlite_with_rowid=False
    )
    with op.batch_alter_table('region', schema=None) as batch_op:
        batch_op.create_index('ix_region_level_code', ['level', 'code'], unique=False)
        batch_op.create_index('ix_region_level_name', ['level', 'name'], unique=False, postgresql_ops={'name': 'varchar_pattern_ops'})
        batch_op.create_index('ix_region_parent_code_code', ['parent_code', 'code'], unique=False)

    op.create_table('scheduler_lease',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('holder', sa.String(length=80), nullable=False),
    sa.Column('expires_at', tongban.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_scheduler_lease'))
    )
    op.create_table('sms_code',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('purpose', sa.String(length=20), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('attempts', sa.SmallInteger(), nullable=False),
    sa.Column('created_at', tongban.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', tongban.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('consumed_at', tongban.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sms_code'))
    )
    with op.batch_alter_table('sms_code', schema=None) as batch_op:
        batch_op.create_index('ix_sms_code_phone_created', ['phone', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_sms_code_region_code'), ['region_code'], unique=False)

    op.create_table('theme',
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('audience', sa.String(length=12), nullable=False),
    sa.Column('description', sa.String(length=300), nullable=False),
    sa.Column('keywords', sa.String(length=500), nullable=False),
    sa.Column('sort', sa.SmallInteger(), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_theme'))
    )
    op.create_table('department',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.Column('credit_code', sa.String(length=18), nullable=True),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('short_name', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('created_at', tongban.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['region_code'], ['region.code'], name=op.f('fk_department_region_code_region')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_department')),
    sa.UniqueConstraint('credit_code', name=op.f('uq_department_credit_code'))
    )
    with op.batch_alter_table('department', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_department_region_code'), ['region_code'], unique=False)
        batch_op.create_index('ix_department_region_name', ['region_code', 'name'], unique=True)

    op.create_table('enterprise',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('credit_code', sa.String(length=18), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('legal_rep_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('is_demo', sa.Boolean(), nullable=False),
    sa.Column('created_at', tongban.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.ForeignKeyConstraint(['legal_rep_id'], ['person.id'], name=op.f('fk_enterprise_legal_rep_id_person')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enterprise')),
    sa.UniqueConstraint('credit_code', name=op.f('uq_enterprise_credit_code'))
    )
    with op.batch_alter_table('enterprise', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enterprise_legal_rep_id'), ['legal_rep_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_enterprise_name'), ['name'], unique=False)
        batch_op.create_index(batch_op.f('ix_enterprise_region_code'), ['region_code'], unique=False)

    op.create_table('outbox_delivery',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('event_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('handler', sa.String(length=120), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.SmallInteger(), nullable=False),
    sa.Column('available_at', tongban.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('locked_by', sa.String(length=80), nullable=True),
    sa.Column('locked_until', tongban.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('done_at', tongban.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['outbox_event.id'], name=op.f('fk_outbox_delivery_event_id_outbox_event'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_delivery'))
    )
    with op.batch_alter_table('outbox_delivery', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_delivery_due', ['status', 'available_at'], unique=False)
        batch_op.create_index('ix_outbox_delivery_event_handler', ['event_id', 'handler'], unique=True)
        batch_op.create_index(batch_op.f('ix_outbox_delivery_region_code'), ['region_code'], unique=False)

    op.create_table('account',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=True),
    sa.Column('display_name', sa.String(length=50), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('person_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('department_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('failed_logins', sa.SmallInteger(), nullable=False),
    sa.Column('locked_until', tongban.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_login_at', tongban.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('preferences', sa.JSON(), nullable=False),
    sa.Column('created_at', tongban.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_account_department_id_department')),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_account_person_id_person')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_account')),
    sa.UniqueConstraint('person_id', name=op.f('uq_account_person_id')),
    sa.UniqueConstraint('username', name=op.f('uq_account_username'))
    )
    with op.batch_alter_table('account', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_account_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_account_phone'), ['phone'], unique=False)
        batch_op.create_index(batch_op.f('ix_account_region_code'), ['region_code'], unique=False)

    op.create_table('api_client',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('department_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', tongban.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_api_client_department_id_department')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_client')),
    sa.UniqueConstraint('name', name=op.f('uq_api_client_name'))
    )
    with op.batch_alter_table('api_client', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_client_region_code'), ['region_code'], unique=False)

    op.create_table('enterprise_agent',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('enterprise_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('person_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('authorised_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('valid_from', tongban.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('valid_until', tongban.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', tongban.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', tongban.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.ForeignKeyConstraint(['authorised_by_id'], ['person.id'], name=op.f('fk_enterprise_agent_authorised_by_id_person')),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'], name=op.f('fk_enterprise_agent_enterprise_id_enterprise')),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_enterprise_agent_person_id_person')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enterprise_agent'))
    )
    with op.batch_alter_table('enterprise_agent', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enterprise_agent_enterprise_id'), ['enterprise_id'], unique=False)
        batch_op.create_index('ix_enterprise_agent_person', ['person_id', 'enterprise_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_enterprise_agent_region_code'), ['region_code'], unique=False)

    op.create_table('account_role',
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_account_role_account_id_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('account_id', 'role', name=op.f('pk_account_role'))
    )
    op.create_table('api_token',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('client_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('scopes', sa.JSON(), nullable=False),
    sa.Column('created_at', tongban.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', tongban.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', tongban.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', tongban.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['api_client.id'], name=op.f('fk_api_token_client_id_api_client'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_token')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_token_token_hash'))
    )
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_token_client_id'), ['client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_api_token_region_code'), ['region_code'], unique=False)

    op.create_table('catalogue_change',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('entity', sa.String(length=20), nullable=False),
    sa.Column('entity_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('changed', sa.JSON(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('actor_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('at', tongban.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['account.id'], name=op.f('fk_catalogue_change_actor_id_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalogue_change'))
    )
    with op.batch_alter_table('catalogue_change', schema=None) as batch_op:
        batch_op.create_index('ix_catalogue_change_entity', ['entity', 'entity_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_catalogue_change_region_code'), ['region_code'], unique=False)

    op.create_table('catalogue_item_version',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('item_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.Column('created_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', tongban.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('published_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('published_at', tongban.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by'], ['account.id'], name=op.f('fk_catalogue_item_version_created_by_account')),
    sa.ForeignKeyConstraint(['item_id'], ['catalogue_item.id'], name=op.f('fk_catalogue_item_version_item_id_catalogue_item')),
    sa.ForeignKeyConstraint(['published_by'], ['account.id'], name=op.f('fk_catalogue_item_version_published_by_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalogue_item_version')),
    sa.UniqueConstraint('item_id', 'version', name=op.f('uq_catalogue_item_version_item_id'))
    )
    with op.batch_alter_table('catalogue_item_version', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_catalogue_item_version_item_id'), ['item_id'], unique=False)

    op.create_table('implementation',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('item_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('department_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('impl_code', sa.String(length=80), nullable=False),
    sa.Column('code_scheme', sa.String(length=20), nullable=False),
    sa.Column('level', sa.String(length=1), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('item_type', sa.String(length=2), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('current_version', sa.Integer(), nullable=False),
    sa.Column('published_version', sa.Integer(), nullable=True),
    sa.Column('published_version_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('for_persons', sa.Boolean(), nullable=False),
    sa.Column('for_enterprises', sa.Boolean(), nullable=False),
    sa.Column('online_status', sa.String(length=8), nullable=False),
    sa.Column('online_reason', sa.String(length=500), nullable=False),
    sa.Column('online_override', sa.Boolean(), nullable=False),
    sa.Column('online_override_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('online_override_at', tongban.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', tongban.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', tongban.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_implementation_department_id_department')),
    sa.ForeignKeyConstraint(['item_id'], ['catalogue_item.id'], name=op.f('fk_implementation_item_id_catalogue_item')),
    sa.ForeignKeyConstraint(['online_override_by'], ['account.id'], name=op.f('fk_implementation_online_override_by_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_implementation')),
    sa.UniqueConstraint('impl_code', name=op.f('uq_implementation_impl_code'))
    )
    with op.batch_alter_table('implementation', schema=None) as batch_op:
        batch_op.create_index('ix_implementation_department_status', ['department_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_implementation_item_id'), ['item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_implementation_name'), ['name'], unique=False)
        batch_op.create_index(batch_op.f('ix_implementation_region_code'), ['region_code'], unique=False)
        batch_op.create_index('ix_implementation_region_status', ['region_code', 'status'], unique=False)

    op.create_table('login_attempt',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('reason', sa.String(length=40), nullable=False),
    sa.Column('ip', sa.String(length=45), nullable=False),
    sa.Column('at', tongban.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_login_attempt_account_id_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_attempt'))
    )
    with op.batch_alter_table('login_attempt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_attempt_region_code'), ['region_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_login_attempt_username'), ['username'], unique=False)

    op.create_table('stored_file',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('uploaded_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', tongban.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['uploaded_by'], ['account.id'], name=op.f('fk_stored_file_uploaded_by_account')),
    sa.PrimaryKeyConstraint('sha256', name=op.f('pk_stored_file'))
    )
    op.create_table('web_session',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('csrf_token', sa.String(length=64), nullable=False),
    sa.Column('method', sa.String(length=10), nullable=False),
    sa.Column('created_at', tongban.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', tongban.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', tongban.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', tongban.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ip', sa.String(length=45), nullable=False),
    sa.Column('user_agent', sa.String(length=200), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_web_session_account_id_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_web_session')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_web_session_token_hash'))
    )
    with op.batch_alter_table('web_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_web_session_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_web_session_region_code'), ['region_code'], unique=False)

    op.create_table('implementation_theme',
    sa.Column('implementation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('theme_code', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['implementation_id'], ['implementation.id'], name=op.f('fk_implementation_theme_implementation_id_implementation')),
    sa.ForeignKeyConstraint(['theme_code'], ['theme.code'], name=op.f('fk_implementation_theme_theme_code_theme')),
    sa.PrimaryKeyConstraint('implementation_id', 'theme_code', name=op.f('pk_implementation_theme'))
    )
    with op.batch_alter_table('implementation_theme', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_implementation_theme_theme_code'), ['theme_code'], unique=False)

    op.create_table('implementation_version',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('implementation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('base_version_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('local', sa.JSON(), nullable=False),
    sa.Column('form', sa.JSON(), nullable=True),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.Column('created_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', tongban.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('published_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('published_at', tongban.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['base_version_id'], ['catalogue_item_version.id'], name=op.f('fk_implementation_version_base_version_id_catalogue_item_version')),
    sa.ForeignKeyConstraint(['created_by'], ['account.id'], name=op.f('fk_implementation_version_created_by_account')),
    sa.ForeignKeyConstraint(['implementation_id'], ['implementation.id'], name=op.f('fk_implementation_version_implementation_id_implementation')),
    sa.ForeignKeyConstraint(['published_by'], ['account.id'], name=op.f('fk_implementation_version_published_by_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_implementation_version')),
    sa.UniqueConstraint('implementation_id', 'version', name=op.f('uq_implementation_version_implementation_id'))
    )
    with op.batch_alter_table('implementation_version', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_implementation_version_implementation_id'), ['implementation_id'], unique=False)

    op.create_table('case',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('number', sa.String(length=50), nullable=False),
    sa.Column('implementation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('implementation_version_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('department_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('item_name', sa.String(length=200), nullable=False),
    sa.Column('applicant_person_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('applicant_enterprise_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('applicant_name', sa.String(length=200), nullable=False),
    sa.Column('submitted_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('idempotency_key', sa.String(length=80), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('step_index', sa.SmallInteger(), nullable=False),
    sa.Column('current_step', sa.String(length=50), nullable=False),
    sa.Column('at_last_step', sa.Boolean(), nullable=False),
    sa.Column('steps', sa.JSON(), nullable=False),
    sa.Column('form_data', sa.JSON(), nullable=False),
    sa.Column('limit_value', sa.Integer(), nullable=False),
    sa.Column('limit_unit', sa.String(length=12), nullable=False),
    sa.Column('extension_days', sa.Integer(), nullable=False),
    sa.Column('correction_round', sa.SmallInteger(), nullable=False),
    sa.Column('submitted_at', tongban.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('accept_due_at', tongban.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('accepted_at', tongban.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('due_at', tongban.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('step_started_at', tongban.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('concluded_at', tongban.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('delivered_at', tongban.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.String(length=2), nullable=True),
    sa.Column('outcome_reason', sa.Text(), nullable=False),
    sa.Column('delivery_method', sa.String(length=12), nullable=True),
    sa.Column('tracking_number', sa.String(length=40), nullable=True),
    sa.Column('alert', sa.String(length=8), nullable=False),
    sa.Column('created_at', tongban.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', tongban.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.ForeignKeyConstraint(['applicant_enterprise_id'], ['enterprise.id'], name=op.f('fk_case_applicant_enterprise_id_enterprise')),
    sa.ForeignKeyConstraint(['applicant_person_id'], ['person.id'], name=op.f('fk_case_applicant_person_id_person')),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_case_department_id_department')),
    sa.ForeignKeyConstraint(['implementation_id'], ['implementation.id'], name=op.f('fk_case_implementation_id_implementation')),
    sa.ForeignKeyConstraint(['implementation_version_id'], ['implementation_version.id'], name=op.f('fk_case_implementation_version_id_implementation_version')),
    sa.ForeignKeyConstraint(['submitted_by'], ['account.id'], name=op.f('fk_case_submitted_by_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case')),
    sa.UniqueConstraint('number', name=op.f('uq_case_number')),
    sa.UniqueConstraint('submitted_by', 'idempotency_key', name='uq_case_idempotency')
    )
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.create_index('ix_case_applicant_person', ['applicant_person_id', 'id'], unique=False)
        batch_op.create_index('ix_case_department_state_id', ['department_id', 'state', 'id'], unique=False)
        batch_op.create_index('ix_case_due', ['state', 'due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_region_code'), ['region_code'], unique=False)
        batch_op.create_index('ix_case_region_state_id', ['region_code', 'state', 'id'], unique=False)

    op.create_table('case_material',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('file_sha256', sa.String(length=64), nullable=True),
    sa.Column('replaced_by', sa.String(length=120), nullable=True),
    sa.Column('round', sa.SmallInteger(), nullable=False),
    sa.Column('uploaded_at', tongban.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], name=op.f('fk_case_material_case_id_case')),
    sa.ForeignKeyConstraint(['file_sha256'], ['stored_file.sha256'], name=op.f('fk_case_material_file_sha256_stored_file')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_material'))
    )
    with op.batch_alter_table('case_material', schema=None) as batch_op:
        batch_op.create_index('ix_case_material_case', ['case_id', 'id'], unique=False)

    op.create_table('case_pause',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('started_at', tongban.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', tongban.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('result', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], name=op.f('fk_case_pause_case_id_case')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_pause'))
    )
    with op.batch_alter_table('case_pause', schema=None) as batch_op:
        batch_op.create_index('ix_case_pause_case', ['case_id'], unique=False)

    op.create_table('case_trail',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('action', sa.String(length=24), nullable=False),
    sa.Column('from_state', sa.String(length=20), nullable=False),
    sa.Column('to_state', sa.String(length=20), nullable=False),
    sa.Column('step_name', sa.String(length=50), nullable=False),
    sa.Column('actor_ref', sa.String(length=40), nullable=False),
    sa.Column('actor_name', sa.String(length=100), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('at', tongban.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], name=op.f('fk_case_trail_case_id_case')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_trail'))
    )
    with op.batch_alter_table('case_trail', schema=None) as batch_op:
        batch_op.create_index('ix_case_trail_case', ['case_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_trail_region_code'), ['region_code'], unique=False)

    op.create_table('correction_notice',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('round', sa.SmallInteger(), nullable=False),
    sa.Column('items', sa.JSON(), nullable=False),
    sa.Column('new_items', sa.JSON(), nullable=False),
    sa.Column('flagged', sa.Boolean(), nullable=False),
    sa.Column('approved_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('issued_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('issued_at', tongban.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('answered_at', tongban.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['approved_by'], ['account.id'], name=op.f('fk_correction_notice_approved_by_account')),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], name=op.f('fk_correction_notice_case_id_case')),
    sa.ForeignKeyConstraint(['issued_by'], ['account.id'], name=op.f('fk_correction_notice_issued_by_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_correction_notice')),
    sa.UniqueConstraint('case_id', 'round', name=op.f('uq_correction_notice_case_id'))
    )
    op.create_table('notification',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('read_at', tongban.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', tongban.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_notification_account_id_account')),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], name=op.f('fk_notification_case_id_case')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification'))
    )
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.create_index('ix_notification_account', ['account_id', 'id'], unique=False)

    op.create_table('supervision_card',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('department_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('colour', sa.String(length=8), nullable=False),
    sa.Column('rule', sa.String(length=20), nullable=False),
    sa.Column('at', tongban.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], name=op.f('fk_supervision_card_case_id_case')),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_supervision_card_department_id_department')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supervision_card'))
    )
    with op.batch_alter_table('supervision_card', schema=None) as batch_op:
        batch_op.create_index('ix_supervision_card_case', ['case_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_supervision_card_region_code'), ['region_code'], unique=False)

    op.create_table('supervision_notice',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('department_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('reply_due_at', tongban.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('issued_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('issued_at', tongban.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reply', sa.Text(), nullable=False),
    sa.Column('replied_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('replied_at', tongban.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_at', tongban.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], name=op.f('fk_supervision_notice_case_id_case')),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_supervision_notice_department_id_department')),
    sa.ForeignKeyConstraint(['issued_by'], ['account.id'], name=op.f('fk_supervision_notice_issued_by_account')),
    sa.ForeignKeyConstraint(['replied_by'], ['account.id'], name=op.f('fk_supervision_notice_replied_by_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supervision_notice'))
    )
    with op.batch_alter_table('supervision_notice', schema=None) as batch_op:
        batch_op.create_index('ix_supervision_notice_department_state', ['department_id', 'state'], unique=False)
        batch_op.create_index(batch_op.f('ix_supervision_notice_region_code'), ['region_code'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('supervision_notice', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_supervision_notice_region_code'))
        batch_op.drop_index('ix_supervision_notice_department_state')

    op.drop_table('supervision_notice')
    with op.batch_alter_table('supervision_card', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_supervision_card_region_code'))
        batch_op.drop_index('ix_supervision_card_case')

    op.drop_table('supervision_card')
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_index('ix_notification_account')

    op.drop_table('notification')
    op.drop_table('correction_notice')
    with op.batch_alter_table('case_trail', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_trail_region_code'))
        batch_op.drop_index('ix_case_trail_case')

    op.drop_table('case_trail')
    with op.batch_alter_table('case_pause', schema=None) as batch_op:
        batch_op.drop_index('ix_case_pause_case')

    op.drop_table('case_pause')
    with op.batch_alter_table('case_material', schema=None) as batch_op:
        batch_op.drop_index('ix_case_material_case')

    op.drop_table('case_material')
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.drop_index('ix_case_region_state_id')
        batch_op.drop_index(batch_op.f('ix_case_region_code'))
        batch_op.drop_index('ix_case_due')
        batch_op.drop_index('ix_case_department_state_id')
        batch_op.drop_index('ix_case_applicant_person')

    op.drop_table('case')
    with op.batch_alter_table('implementation_version', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_implementation_version_implementation_id'))

    op.drop_table('implementation_version')
    with op.batch_alter_table('implementation_theme', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_implementation_theme_theme_code'))

    op.drop_table('implementation_theme')
    with op.batch_alter_table('web_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_web_session_region_code'))
        batch_op.drop_index(batch_op.f('ix_web_session_account_id'))

    op.drop_table('web_session')
    op.drop_table('stored_file')
    with op.batch_alter_table('login_attempt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_attempt_username'))
        batch_op.drop_index(batch_op.f('ix_login_attempt_region_code'))

    op.drop_table('login_attempt')
    with op.batch_alter_table('implementation', schema=None) as batch_op:
        batch_op.drop_index('ix_implementation_region_status')
        batch_op.drop_index(batch_op.f('ix_implementation_region_code'))
        batch_op.drop_index(batch_op.f('ix_implementation_name'))
        batch_op.drop_index(batch_op.f('ix_implementation_item_id'))
        batch_op.drop_index('ix_implementation_department_status')

    op.drop_table('implementation')
    with op.batch_alter_table('catalogue_item_version', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_catalogue_item_version_item_id'))

    op.drop_table('catalogue_item_version')
    with op.batch_alter_table('catalogue_change', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_catalogue_change_region_code'))
        batch_op.drop_index('ix_catalogue_change_entity')

    op.drop_table('catalogue_change')
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_token_region_code'))
        batch_op.drop_index(batch_op.f('ix_api_token_client_id'))

    op.drop_table('api_token')
    op.drop_table('account_role')
    with op.batch_alter_table('enterprise_agent', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enterprise_agent_region_code'))
        batch_op.drop_index('ix_enterprise_agent_person')
        batch_op.drop_index(batch_op.f('ix_enterprise_agent_enterprise_id'))

    op.drop_table('enterprise_agent')
    with op.batch_alter_table('api_client', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_client_region_code'))

    op.drop_table('api_client')
    with op.batch_alter_table('account', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_account_region_code'))
        batch_op.drop_index(batch_op.f('ix_account_phone'))
        batch_op.drop_index(batch_op.f('ix_account_department_id'))

    op.drop_table('account')
    with op.batch_alter_table('outbox_delivery', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_delivery_region_code'))
        batch_op.drop_index('ix_outbox_delivery_event_handler')
        batch_op.drop_index('ix_outbox_delivery_due')

    op.drop_table('outbox_delivery')
    with op.batch_alter_table('enterprise', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enterprise_region_code'))
        batch_op.drop_index(batch_op.f('ix_enterprise_name'))
        batch_op.drop_index(batch_op.f('ix_enterprise_legal_rep_id'))

    op.drop_table('enterprise')
    with op.batch_alter_table('department', schema=None) as batch_op:
        batch_op.drop_index('ix_department_region_name')
        batch_op.drop_index(batch_op.f('ix_department_region_code'))

    op.drop_table('department')
    op.drop_table('theme')
    with op.batch_alter_table('sms_code', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sms_code_region_code'))
        batch_op.drop_index('ix_sms_code_phone_created')

    op.drop_table('sms_code')
    op.drop_table('scheduler_lease')
    with op.batch_alter_table('region', schema=None) as batch_op:
        batch_op.drop_index('ix_region_parent_code_code')
        batch_op.drop_index('ix_region_level_name', postgresql_ops={'name': 'varchar_pattern_ops'})
        batch_op.drop_index('ix_region_level_code')

    op.drop_table('region')
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_person_region_code'))
        batch_op.drop_index(batch_op.f('ix_person_phone'))
        batch_op.drop_index(batch_op.f('ix_person_name'))

    op.drop_table('person')
    with op.batch_alter_table('outbox_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_event_region_code'))
        batch_op.drop_index(batch_op.f('ix_outbox_event_name'))

    op.drop_table('outbox_event')
    op.drop_table('job_run')
    with op.batch_alter_table('catalogue_item', schema=None) as batch_op:
        batch_op.drop_index('ix_catalogue_item_region_status')
        batch_op.drop_index(batch_op.f('ix_catalogue_item_region_code'))
        batch_op.drop_index(batch_op.f('ix_catalogue_item_name'))
        batch_op.drop_index(batch_op.f('ix_catalogue_item_item_type'))

    op.drop_table('catalogue_item')
    op.drop_table('case_counter')
    op.drop_table('calendar_year')
    op.drop_table('calendar_day')
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_entry_target')
        batch_op.drop_index('ix_audit_entry_chain_seq')
        batch_op.drop_index(batch_op.f('ix_audit_entry_action'))

    op.drop_table('audit_entry')
    op.drop_table('audit_chain_head')
