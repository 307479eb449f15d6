"""Service catalogue (事项管理): base items, implementation entries, their versions.

- ``CatalogueItem`` (基本目录事项): one per 基本编码, owned by the nation or a
  province (``region_code`` "000000000000" for national items).
- ``Implementation`` (实施清单): one per implementing department and region,
  derived from a base item, with its 实施编码.
- Both are versioned: ``*_version`` rows hold the full field document
  (``schemas.ItemFields``). A published version is immutable (the service
  refuses, and database triggers in the migration reject edits); cases keep the
  implementation version they were filed under.
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
)
from sqlalchemy.orm import Mapped, mapped_column

from tongban.core.clock import now
from tongban.core.db import Base, BigIntPK, RegionScoped

NATIONAL = "000000000000"

STATUSES = {"draft": "草稿", "published": "已发布", "retired": "已停用"}
VERSION_STATUSES = {"draft": "草稿", "published": "现行版本", "superseded": "历史版本"}
ONLINE_STATUSES = {
    "done": "已实现全程网办",
    "can": "具备全程网办条件",
    "cannot": "暂不具备全程网办条件",
}


class CatalogueItem(RegionScoped, Base):
    """基本目录事项. ``name``/``item_type`` mirror the latest version for lists."""

    __tablename__ = "catalogue_item"
    __table_args__ = (Index("ix_catalogue_item_region_status", "region_code", "status"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    base_code: Mapped[str] = mapped_column(String(40), unique=True)  # 基本编码
    code_scheme: Mapped[str] = mapped_column(String(20), default="gbt39046")
    name: Mapped[str] = mapped_column(String(200), index=True)
    item_type: Mapped[str] = mapped_column(String(2), index=True)
    status: Mapped[str] = mapped_column(String(12), default="draft")
    current_version: Mapped[int] = mapped_column(Integer, default=1)  # latest (draft or published)
    published_version: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
    updated_at: Mapped[dt.datetime] = mapped_column(default=now)


class ItemVersion(Base):
    __tablename__ = "catalogue_item_version"
    __table_args__ = (UniqueConstraint("item_id", "version"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("catalogue_item.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default="draft")
    fields: Mapped[dict[str, Any]] = mapped_column(JSON)
    content_hash: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(String(500), default="")  # 变更说明
    created_by: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
    published_by: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    published_at: Mapped[dt.datetime | None]


class Implementation(RegionScoped, Base):
    """实施清单 entry: a base item as one department of one region implements it."""

    __tablename__ = "implementation"
    __table_args__ = (
        Index("ix_implementation_region_status", "region_code", "status"),
        Index("ix_implementation_department_status", "department_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("catalogue_item.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    impl_code: Mapped[str] = mapped_column(String(80), unique=True)  # 实施编码
    code_scheme: Mapped[str] = mapped_column(String(20), default="gbt39046")
    level: Mapped[str] = mapped_column(String(1))  # 行使层级
    name: Mapped[str] = mapped_column(String(200), index=True)
    item_type: Mapped[str] = mapped_column(String(2))
    status: Mapped[str] = mapped_column(String(12), default="draft")
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    published_version: Mapped[int | None] = mapped_column(Integer)
    published_version_id: Mapped[int | None] = mapped_column(
        BigIntPK
    )  # what a new case files under
    for_persons: Mapped[bool] = mapped_column(Boolean, default=True)
    for_enterprises: Mapped[bool] = mapped_column(Boolean, default=False)
    # 全程网办 list: computed from the published fields, unless an administrator overrode it.
    online_status: Mapped[str] = mapped_column(String(8), default="cannot")
    online_reason: Mapped[str] = mapped_column(String(500), default="")
    online_override: Mapped[bool] = mapped_column(Boolean, default=False)
    online_override_by: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    online_override_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
    updated_at: Mapped[dt.datetime] = mapped_column(default=now)


class ImplementationVersion(Base):
    __tablename__ = "implementation_version"
    __table_args__ = (UniqueConstraint("implementation_id", "version"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    implementation_id: Mapped[int] = mapped_column(ForeignKey("implementation.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default="draft")
    base_version_id: Mapped[int | None] = mapped_column(ForeignKey("catalogue_item_version.id"))
    fields: Mapped[dict[str, Any]] = mapped_column(JSON)  # schemas.ItemFields
    local: Mapped[dict[str, Any]] = mapped_column(JSON)  # schemas.LocalFields
    form: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # forms.FormDefinition
    content_hash: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(String(500), default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
    published_by: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    published_at: Mapped[dt.datetime | None]


class ImplementationTheme(Base):
    """Which life-event themes a published implementation belongs to (browsing)."""

    __tablename__ = "implementation_theme"

    implementation_id: Mapped[int] = mapped_column(
        ForeignKey("implementation.id"), primary_key=True
    )
    theme_code: Mapped[str] = mapped_column(ForeignKey("theme.code"), primary_key=True, index=True)


class Theme(Base):
    """主题: a life event of a person (出生, 上学 …) or an enterprise (开办, 变更 …)."""

    __tablename__ = "theme"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    audience: Mapped[str] = mapped_column(String(12))  # person / enterprise
    description: Mapped[str] = mapped_column(String(300), default="")
    keywords: Mapped[str] = mapped_column(String(500), default="")  # words that place an item here
    sort: Mapped[int] = mapped_column(SmallInteger, default=0)


class CatalogueChange(RegionScoped, Base):
    """变更记录: the change log shown per item (the audit log keeps the tamper-evident copy)."""

    __tablename__ = "catalogue_change"
    __table_args__ = (Index("ix_catalogue_change_entity", "entity", "entity_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    entity: Mapped[str] = mapped_column(String(20))  # item / implementation
    entity_id: Mapped[int] = mapped_column(BigIntPK)
    version: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(20))  # create edit publish retire online form import
    changed: Mapped[list[str]] = mapped_column(JSON, default=list)  # field names
    summary: Mapped[str] = mapped_column(Text, default="")
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    at: Mapped[dt.datetime] = mapped_column(default=now)


ACTIONS = {
    "create": "新建",
    "edit": "修改草稿",
    "publish": "发布",
    "retire": "停用",
    "online": "调整全程网办认定",
    "form": "修改申请表单",
    "import": "批量导入",
}
