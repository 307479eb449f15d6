"""Search and FAQ (智能问答) tables.

The search index itself is not stored: each process builds it in memory from
the registered providers and rebuilds it when ``SearchState.version`` moves
(``engine.py``). What is stored is what people and administrators add: the
synonym dictionary, the FAQ knowledge base, the search log, clicks and staff
corrections.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tongban.core.clock import now
from tongban.core.db import Base, BigIntPK, RegionScoped

SYNONYM_STATUSES = {"proposed": "待审核", "approved": "已启用"}
SYNONYM_SOURCES = {"admin": "管理员添加", "learned": "从搜索记录学习"}


class SearchState(Base):
    """Version counters: a process rebuilds its in-memory index when
    ``version`` differs from the one it built (checked every few seconds)."""

    __tablename__ = "search_state"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)  # "index"
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[dt.datetime] = mapped_column(default=now)


class Synonym(Base):
    """同义词 / 口语映射: ``term`` (what people type, e.g. 生孩子) is read as
    ``canonical`` (what the catalogue says, e.g. 出生). Applies once approved."""

    __tablename__ = "search_synonym"
    __table_args__ = (
        UniqueConstraint("term", "canonical", name="uq_search_synonym_term_canonical"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    term: Mapped[str] = mapped_column(String(50), index=True)  # normalised
    canonical: Mapped[str] = mapped_column(String(100))  # normalised
    status: Mapped[str] = mapped_column(String(10), default="proposed", index=True)
    source: Mapped[str] = mapped_column(String(10), default="admin")  # admin | learned
    evidence: Mapped[int] = mapped_column(Integer, default=0)  # searches that support it (learned)
    proposed_by: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
    approved_at: Mapped[dt.datetime | None]


class FaqImport(RegionScoped, Base):
    """One FAQ file import: what was read, and what was written (nothing when
    any row was wrong)."""

    __tablename__ = "faq_import"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    filename: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(60))
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    rows_written: Mapped[int] = mapped_column(Integer, default=0)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(10))  # done | rejected
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=now)


class FaqEntry(RegionScoped, Base):
    """常见问题: one question and its answer. ``topic`` groups the questions
    that ask about one policy passage or one item (the KB's ``docid``);
    ``item_code`` optionally names the base item (基本编码) it belongs to."""

    __tablename__ = "faq_entry"
    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_faq_entry_source_external_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64))  # the file's id column
    source: Mapped[str] = mapped_column(String(60), default="")  # which knowledge base
    topic: Mapped[str] = mapped_column(String(64), index=True)
    question: Mapped[str] = mapped_column(String(500))
    answer: Mapped[str] = mapped_column(Text)
    item_code: Mapped[str] = mapped_column(String(40), default="", index=True)
    import_id: Mapped[int | None] = mapped_column(ForeignKey("faq_import.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=now)


class SearchLog(RegionScoped, Base):
    """One search: what was typed, how it was read, how many results, and —
    when the person clicked one — which. ``region_code``: the searcher's
    region (the deployment root for visitors)."""

    __tablename__ = "search_log"
    __table_args__ = (Index("ix_search_log_norm_created", "normalised", "created_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    search_id: Mapped[str] = mapped_column(String(32), unique=True)  # given to the client
    query: Mapped[str] = mapped_column(String(200))
    normalised: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(10), default="")
    results_count: Mapped[int] = mapped_column(Integer, default=0)
    chosen_kind: Mapped[str | None] = mapped_column(String(10))
    chosen_key: Mapped[str | None] = mapped_column(String(100))
    chosen_title: Mapped[str | None] = mapped_column(String(300))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=now)


class SearchPopularity(Base):
    """Clicks per result (kind, key): the popularity the ranking uses."""

    __tablename__ = "search_popularity"

    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    clicks: Mapped[float] = mapped_column(Float, default=0.0)
    updated_at: Mapped[dt.datetime] = mapped_column(default=now)


class SearchCorrection(RegionScoped, Base):
    """A staff correction: for this (normalised) query the right result is
    (kind, key). Corrected results are placed first for that query."""

    __tablename__ = "search_correction"
    __table_args__ = (
        UniqueConstraint("normalised", "kind", "key", name="uq_search_correction_normalised"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    normalised: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    key: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(300), default="")
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
