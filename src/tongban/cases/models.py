"""Cases (办件): the application, its trail, materials, correction notices, pauses.

A case is filed under one published implementation *version* (the guide and
form it was applied under stay with it). ``region_code`` and
``department_id`` are the implementing body's: they scope every staff query.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from tongban.core.clock import now
from tongban.core.db import Base, BigIntPK, RegionScoped

# The states that have a workbench queue (cases.api.QUEUES), as the literal
# SQL condition of the partial index the queue counts read (SQLite uses a
# partial index only for a query that repeats its condition term for term).
QUEUE_STATES = ("concluded", "correction", "reviewing", "submitted", "suspended")
QUEUE_STATES_SQL = text("state IN (" + ", ".join(f"'{s}'" for s in QUEUE_STATES) + ")")
ALERTS_SQL = text("alert IN ('yellow', 'red')")
# Always true (NOT NULL): the conditions of the dated and the applicant index,
# repeated by the queries meant to use them (cases.api.dated_scope,
# applicant_condition) and by no other query.
SUBMITTED_SQL = text("submitted_at IS NOT NULL AND region_code IS NOT NULL")
# SQLite's form of the dated index's condition (true of every row: no state is
# empty): SQLite takes "x IS NOT NULL" as implied by a NOT NULL column or a
# comparison with a constant, and then used the index for plain lists; it takes
# this term only from a query that repeats it, and its state = … outranks the
# term as the seek. PostgreSQL's form needs the region term: it takes any date
# comparison as implying the first (an applicant's dated list then read the
# state's whole month).
SUBMITTED_SQLITE_SQL = text("state > ''")
APPLICANT_SQL = text("applicant_name IS NOT NULL")


class Case(RegionScoped, Base):
    __tablename__ = "case"
    __table_args__ = (
        UniqueConstraint("submitted_by", "idempotency_key", name="uq_case_idempotency"),
        Index("ix_case_region_state_id", "region_code", "state", "id"),
        Index("ix_case_department_state_id", "department_id", "state", "id"),
        Index("ix_case_applicant_person", "applicant_person_id", "id"),
        # Worklists (cases.api): a queue is a state (or an alert colour), the
        # scope a region range, the order newest first. These keep the order
        # in the index and carry the scope (and 待审查/待决定) so non-matching
        # entries are skipped, and counted, without reading rows; measured
        # with 1,000,000 cases (docs/benchmarks.md, ``worklist``).
        Index("ix_case_state_id", "state", "id", "region_code", "at_last_step"),
        # Queue counts (a seek on state or colour, then the region range): only
        # the rows of a queue (partial), so a list query (state = ?) never
        # picks them over the id-ordered indexes above.
        Index(
            "ix_case_queue_counts",
            "state",
            "region_code",
            "at_last_step",
            sqlite_where=QUEUE_STATES_SQL,
            postgresql_where=QUEUE_STATES_SQL,
        ),
        Index(
            "ix_case_alert_counts",
            "alert",
            "region_code",
            sqlite_where=ALERTS_SQL,
            postgresql_where=ALERTS_SQL,
        ),
        Index("ix_case_alert_id", "alert", "id", "region_code"),
        Index("ix_case_implementation_state_id", "implementation_id", "state", "id"),
        # A date range (``submitted_from``/``submitted_to``) of a state: seeks the
        # state, one region, the dates, for each region of the scope in turn
        # (cases.api.scope_regions lists them with one seek each), so a district
        # reads its own cases of the month, not every region's. Partial on a
        # condition every row meets: only a query that repeats it (the dated
        # shape of a staff scope) can use it, so no plain list, nor an
        # applicant's dated one, prefers it to the indexes above.
        # PostgreSQL: ``INCLUDE (id)`` answers the page's ids from the index
        # (SQLite's indexes hold the rowid, the id, already).
        Index(
            "ix_case_state_region_submitted",
            "state",
            "region_code",
            "submitted_at",
            sqlite_where=SUBMITTED_SQLITE_SQL,
            postgresql_where=SUBMITTED_SQL,
            postgresql_include=["id"],
        ),
        # An applicant name prefix (a byte-order range, cases.api.applicant_bounds):
        # a seek on the state and the names, the scope checked in the index.
        # PostgreSQL: pattern ops (byte order, whatever the database collation).
        # Partial as the dated one (PostgreSQL counted the queues on it).
        Index(
            "ix_case_state_applicant",
            "state",
            "applicant_name",
            "region_code",
            sqlite_where=APPLICANT_SQL,
            postgresql_where=APPLICANT_SQL,
            postgresql_ops={"applicant_name": "varchar_pattern_ops"},
            postgresql_include=["id"],
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    # Not indexed alone (RegionScoped's index): ix_case_region_state_id leads with it.
    region_code: Mapped[str] = mapped_column(String(12))
    number: Mapped[str] = mapped_column(String(50), unique=True)  # 办件编号
    implementation_id: Mapped[int] = mapped_column(ForeignKey("implementation.id"))
    implementation_version_id: Mapped[int] = mapped_column(ForeignKey("implementation_version.id"))
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    item_name: Mapped[str] = mapped_column(String(200))
    applicant_person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    applicant_enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprise.id"))
    applicant_name: Mapped[str] = mapped_column(String(200))  # person or enterprise name
    submitted_by: Mapped[int] = mapped_column(ForeignKey("account.id"))  # applicant or window clerk
    channel: Mapped[str] = mapped_column(String(10))  # CHANNELS
    idempotency_key: Mapped[str] = mapped_column(String(80))
    state: Mapped[str] = mapped_column(String(20))
    step_index: Mapped[int] = mapped_column(SmallInteger, default=0)
    current_step: Mapped[str] = mapped_column(String(50), default="")  # name, for queues
    at_last_step: Mapped[bool] = mapped_column(Boolean, default=False)  # 待决定 vs 待审查
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # review steps, fixed at filing
    form_data: Mapped[dict[str, Any]] = mapped_column(JSON)
    limit_value: Mapped[int] = mapped_column(Integer)  # 承诺时限 at filing
    limit_unit: Mapped[str] = mapped_column(String(12))
    extension_days: Mapped[int] = mapped_column(Integer, default=0)
    correction_round: Mapped[int] = mapped_column(SmallInteger, default=0)
    submitted_at: Mapped[dt.datetime] = mapped_column(default=now)
    accept_due_at: Mapped[dt.datetime | None]  # 5 working days to accept or notify (Art. 32)
    accepted_at: Mapped[dt.datetime | None]
    due_at: Mapped[dt.datetime | None]  # None while paused
    step_started_at: Mapped[dt.datetime | None]
    concluded_at: Mapped[dt.datetime | None]  # 办结
    delivered_at: Mapped[dt.datetime | None]  # 送达 / 领证
    outcome: Mapped[str | None] = mapped_column(String(2))  # OUTCOMES
    outcome_reason: Mapped[str] = mapped_column(Text, default="")
    delivery_method: Mapped[str | None] = mapped_column(String(12))
    tracking_number: Mapped[str | None] = mapped_column(String(40))
    alert: Mapped[str] = mapped_column(String(8), default="")  # "" / yellow / red (电子监察)
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
    updated_at: Mapped[dt.datetime] = mapped_column(default=now)


class CaseTrail(RegionScoped, Base):
    """服务轨迹: one row per transition, never changed."""

    __tablename__ = "case_trail"
    __table_args__ = (Index("ix_case_trail_case", "case_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"))
    action: Mapped[str] = mapped_column(String(24))
    from_state: Mapped[str] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    step_name: Mapped[str] = mapped_column(String(50), default="")
    actor_ref: Mapped[str] = mapped_column(String(40))
    actor_name: Mapped[str] = mapped_column(String(100))
    comment: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[dt.datetime] = mapped_column(default=now)
    # Read by case only (ix_case_trail_case): no index on the region (0006_submit_indexes).
    region_code: Mapped[str] = mapped_column(String(12))


class CaseMaterial(Base):
    __tablename__ = "case_material"
    __table_args__ = (Index("ix_case_material_case", "case_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"))
    name: Mapped[str] = mapped_column(String(200))  # the catalogue material it answers
    file_sha256: Mapped[str | None] = mapped_column(ForeignKey("stored_file.sha256"))
    replaced_by: Mapped[str | None] = mapped_column(
        String(120)
    )  # licence:<id> / data:<element> / commitment
    round: Mapped[int] = mapped_column(SmallInteger, default=0)  # 0: at filing; n: n-th correction
    uploaded_at: Mapped[dt.datetime] = mapped_column(default=now)


class CorrectionNotice(Base):
    """一次性告知: everything missing or faulty, listed at once."""

    __tablename__ = "correction_notice"
    __table_args__ = (UniqueConstraint("case_id", "round"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"))
    round: Mapped[int] = mapped_column(SmallInteger)
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # [{kind, name, reason}]
    new_items: Mapped[list[str]] = mapped_column(JSON, default=list)  # names not raised in round 1
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)  # a second notice with new items
    approved_by: Mapped[int | None] = mapped_column(
        ForeignKey("account.id")
    )  # supervisor, when flagged
    issued_by: Mapped[int] = mapped_column(ForeignKey("account.id"))
    issued_at: Mapped[dt.datetime] = mapped_column(default=now)
    answered_at: Mapped[dt.datetime | None]


class CasePause(Base):
    """特别程序 (Art. 45): the clock stops from ``started_at`` to ``ended_at``."""

    __tablename__ = "case_pause"
    __table_args__ = (Index("ix_case_pause_case", "case_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"))
    kind: Mapped[str] = mapped_column(String(20))  # SPECIAL_PROCEDURES key
    reason: Mapped[str] = mapped_column(Text)
    started_at: Mapped[dt.datetime] = mapped_column(default=now)
    ended_at: Mapped[dt.datetime | None]
    result: Mapped[str] = mapped_column(Text, default="")


class CaseCounter(Base):
    """Next sequence number of case numbers per region, day and lane (the
    audit chain's lane of the submissions it numbers: ``service.case_serial``)."""

    __tablename__ = "case_counter"

    region6: Mapped[str] = mapped_column(String(6), primary_key=True)
    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    lane: Mapped[int] = mapped_column(
        SmallInteger, primary_key=True, default=0, server_default="0", autoincrement=False
    )
    value: Mapped[int] = mapped_column(Integer, default=0)


class Notification(Base):
    """站内消息: the applicant's inbox (SMS and email go out through the outbox)."""

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_account", "account_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case.id"))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    read_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
