"""The holder's side of electronic licences: authorised use, its log, expiry
reminders, renewal drafts and bulk-import jobs.

- ``LicenceShare`` (用证授权): the holder lets a case (``kind='case'``) or a
  third party (``kind='third_party'``) use one licence, for a purpose and a
  period, revocable. A third party gets a link whose token is stored only as
  its SHA-256 (like sign-in sessions).
- ``LicenceUse`` (使用记录): one row per use through an authorisation — the
  third party viewing, verifying or downloading the licence, the licence
  attached to a case instead of a paper copy (免证办), staff of that case
  opening it. The holder sees them on the licence's page.
- ``ExpiryReminder`` (到期提醒): one row per licence, validity end and
  threshold (days before expiry) reminded — the unique key makes the reminder
  job idempotent; a renewed licence (new ``valid_until``) is reminded afresh.
- ``LicenceRenewal`` (待确认的续期申请): a renewal application prepared for
  the holder of an expiring licence whose type has ``auto_renewal``; filed as
  a case (``cases.service.submit``, channel ``pc``) when the holder confirms.
- ``LicenceImport`` (证照汇聚批次): one bulk import of historical licences
  from a file, with its checkpoint (``next_row``) so an interrupted run resumes.

``region_code`` is the licence's (所属管辖属地) everywhere, so these rows live
beside their licence when the tables are distributed by region.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
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
from tongban.licences.models import Licence

SHARE_KINDS = {"case": "办件用证", "third_party": "第三方用证"}
SHARE_STATUSES = {"active": "有效", "revoked": "已撤销"}
USE_KINDS = {
    "case_attach": "免提交材料（办件引用）",
    "case_view": "办件经办人员查看",
    "view": "被授权方查看",
    "verify": "被授权方核验",
    "download": "被授权方下载",
}
RENEWAL_STATUSES = {
    "pending": "待确认",
    "submitted": "已提交",
    "dismissed": "暂不办理",
    "lapsed": "已失效",
}
IMPORT_STATUSES = {
    "checked": "已校验",
    "running": "导入中",
    "done": "已完成",
    "failed": "校验未通过",
}

# 证照汇聚 imports a licence once, keyed by 证照类型代码 + 证照编号 (``bulk``): this
# unique index over the imported rows serves the skip check and makes two
# concurrent batches of the same numbers fail rather than duplicate (issued
# licences, source manual/case, are not in it: issuers' numbering may repeat).
# It belongs to the licence table (licences.models) and is declared here until
# the core moves it there.
IMPORTED = text("source = 'import'")
# Number first: the check looks up a chunk's numbers (``number = ANY(…)``), which a
# leading column serves as index probes whatever the statistics say of the type.
Index(
    "uq_licence_import_number",
    Licence.__table__.c.number,
    Licence.__table__.c.type_code,
    unique=True,
    postgresql_where=IMPORTED,
    sqlite_where=IMPORTED,
)


class LicenceShare(RegionScoped, Base):
    """用证授权: one licence shared with a case or a third party."""

    __tablename__ = "licence_share"
    __table_args__ = (
        Index("ix_licence_share_licence", "licence_id", "id"),
        Index("ix_licence_share_case", "case_id", "licence_id"),
        Index("ix_licence_share_case_region", "case_region_code", "kind"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    licence_id: Mapped[int] = mapped_column(ForeignKey("licence.id"))
    kind: Mapped[str] = mapped_column(String(12))  # SHARE_KINDS
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case.id"))
    case_region_code: Mapped[str | None] = mapped_column(
        String(12)
    )  # the case's region (减材料 counts)
    material_name: Mapped[str] = mapped_column(String(200), default="")  # the material it replaces
    recipient: Mapped[str] = mapped_column(
        String(200)
    )  # 被授权方: a third party, or the case's department
    purpose: Mapped[str] = mapped_column(String(500))  # 用途
    show_full: Mapped[bool] = mapped_column(
        Boolean, default=False
    )  # show the holder's full code to the recipient
    valid_from: Mapped[dt.datetime] = mapped_column(default=now)
    valid_until: Mapped[dt.datetime]
    token_hash: Mapped[str | None] = mapped_column(
        String(64), unique=True
    )  # SHA-256 of the link token
    token_hint: Mapped[str] = mapped_column(
        String(8), default=""
    )  # the token's first characters, to tell links apart
    granted_by: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    granted_by_person: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    status: Mapped[str] = mapped_column(String(10), default="active")  # SHARE_STATUSES
    revoked_at: Mapped[dt.datetime | None]
    use_count: Mapped[int] = mapped_column(Integer, default=0)
    last_used_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=now)


class LicenceUse(RegionScoped, Base):
    """使用记录: one use of a licence through an authorisation."""

    __tablename__ = "licence_use"
    __table_args__ = (Index("ix_licence_use_licence", "licence_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    licence_id: Mapped[int] = mapped_column(ForeignKey("licence.id"))
    share_id: Mapped[int | None] = mapped_column(ForeignKey("licence_share.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case.id"))
    kind: Mapped[str] = mapped_column(String(16))  # USE_KINDS
    party: Mapped[str] = mapped_column(
        String(200), default=""
    )  # who used it, as the holder should read it
    actor_ref: Mapped[str] = mapped_column(String(40), default="anonymous")
    ip: Mapped[str] = mapped_column(String(45), default="")
    result: Mapped[str] = mapped_column(String(12), default="")  # a verification's answer
    at: Mapped[dt.datetime] = mapped_column(default=now)


class ExpiryReminder(RegionScoped, Base):
    """到期提醒 sent: licence × validity end × threshold (days before expiry)."""

    __tablename__ = "licence_expiry_reminder"
    __table_args__ = (
        UniqueConstraint("licence_id", "valid_until", "days", name="uq_licence_expiry_reminder"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    licence_id: Mapped[int] = mapped_column(ForeignKey("licence.id"))
    valid_until: Mapped[dt.date] = mapped_column(Date)
    days: Mapped[int] = mapped_column(SmallInteger)  # the threshold (LicenceType.reminder_days)
    days_left: Mapped[int] = mapped_column(SmallInteger)  # when it was sent
    sent: Mapped[bool] = mapped_column(Boolean, default=True)  # False: covered by a nearer reminder
    at: Mapped[dt.datetime] = mapped_column(default=now)


class LicenceRenewal(RegionScoped, Base):
    """待确认的续期申请: prepared by the expiry service, confirmed (or not) by the holder."""

    __tablename__ = "licence_renewal"
    __table_args__ = (
        UniqueConstraint("licence_id", "valid_until", name="uq_licence_renewal"),
        Index("ix_licence_renewal_person", "holder_person_id", "status"),
        Index("ix_licence_renewal_enterprise", "holder_enterprise_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    licence_id: Mapped[int] = mapped_column(ForeignKey("licence.id"))
    valid_until: Mapped[dt.date] = mapped_column(Date)  # the validity end it renews
    holder_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    holder_enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprise.id"))
    implementation_id: Mapped[int] = mapped_column(ForeignKey("implementation.id"))
    item_name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10), default="pending")  # RENEWAL_STATUSES
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case.id"))
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    decided_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=now)


class LicenceImport(RegionScoped, Base):
    """证照汇聚: one file of historical licences of one type, issued by one department.

    ``file_sha256`` + type + department name the batch: running the same file
    again resumes it from ``next_row`` (rows are numbered as in the file,
    header = row 1). ``report``: counts and the first errors, row by row.
    """

    __tablename__ = "licence_import"
    __table_args__ = (Index("ix_licence_import_file", "file_sha256", "type_code", "department_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    file_name: Mapped[str] = mapped_column(String(200))
    file_sha256: Mapped[str] = mapped_column(String(64))
    type_code: Mapped[str] = mapped_column(String(21))
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    status: Mapped[str] = mapped_column(String(10), default="checked")  # IMPORT_STATUSES
    total_rows: Mapped[int] = mapped_column(Integer, default=0)
    next_row: Mapped[int] = mapped_column(
        Integer, default=2
    )  # checkpoint: the first row not yet done
    imported: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(
        Integer, default=0
    )  # already imported (same type + number)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    report: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    actor_ref: Mapped[str] = mapped_column(String(40))
    started_at: Mapped[dt.datetime] = mapped_column(default=now)
    finished_at: Mapped[dt.datetime | None]
    note: Mapped[str] = mapped_column(Text, default="")
