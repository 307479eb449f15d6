"""Audit log (审计日志): append-only, each entry chained to the previous by hash.

One chain per region (``chain`` = the region code the action belongs to):
STACK-NOTES measured a single global chain head as the hot row that caps
throughput at the commit latency; a chain per region keeps the same tamper
evidence with far less waiting. Each entry's hash covers its chain, sequence
number, the previous entry's hash, actor, action, target, time and details;
``verify()`` walks every chain and reports each edited, deleted or inserted
entry by chain and sequence number. Database triggers (see the migration)
refuse UPDATE and DELETE on ``audit_entry``, so tampering needs an owner's
privileges — and is still detected.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import JSON, BigInteger, Index, String, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from tongban.core.clock import now
from tongban.core.db import Base, BigIntPK, lock_for_update

GENESIS = "0" * 64


class AuditEntry(Base):
    __tablename__ = "audit_entry"
    __table_args__ = (
        Index("ix_audit_entry_chain_seq", "region_code", "seq", unique=True),
        Index("ix_audit_entry_target", "target_type", "target_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    region_code: Mapped[str] = mapped_column(String(12))  # the chain
    seq: Mapped[int] = mapped_column(BigInteger)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(100))  # "account:12", "api:3", "system"
    action: Mapped[str] = mapped_column(String(60), index=True)
    target_type: Mapped[str] = mapped_column(String(40))
    target_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime]
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class AuditChainHead(Base):
    """The last sequence number and hash of each chain (the hot row per region)."""

    __tablename__ = "audit_chain_head"

    region_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


def entry_hash(
    *,
    region_code: str,
    seq: int,
    prev_hash: str,
    actor: str,
    action: str,
    target_type: str,
    target_id: str,
    at: dt.datetime,
    details: dict[str, Any],
) -> str:
    canonical = orjson.dumps(
        [region_code, seq, prev_hash, actor, action, target_type, target_id,
         at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), details],
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(canonical).hexdigest()


async def record(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    target_type: str,
    target_id: str | int,
    region_code: str,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry to the region's chain (in the caller's transaction).

    ``details`` must already be masked: it is kept forever.
    """
    details = details or {}
    head = (
        await lock_for_update(session, select(AuditChainHead).where(AuditChainHead.region_code == region_code))
    ).scalar_one_or_none()
    seq, prev = (head.seq + 1, head.hash) if head else (1, GENESIS)
    at = now()
    h = entry_hash(region_code=region_code, seq=seq, prev_hash=prev, actor=actor, action=action,
                   target_type=target_type, target_id=str(target_id), at=at, details=details)
    entry = AuditEntry(region_code=region_code, seq=seq, prev_hash=prev, hash=h, actor=actor,
                       action=action, target_type=target_type, target_id=str(target_id), at=at,
                       details=details)
    session.add(entry)
    if head is None:
        session.add(AuditChainHead(region_code=region_code, seq=seq, hash=h))
    else:
        await session.execute(
            update(AuditChainHead).where(AuditChainHead.region_code == region_code).values(seq=seq, hash=h)
        )
    await session.flush()
    return entry


@dataclass
class Problem:
    chain: str
    seq: int
    kind: str  # edited | deleted | inserted | head_mismatch
    message: str


@dataclass
class VerifyReport:
    chains: int = 0
    entries: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


async def verify(session: AsyncSession, *, batch: int = 5000) -> VerifyReport:
    """Walk every chain; report each entry that was edited, deleted or inserted."""
    report = VerifyReport()
    heads = {r.region_code: r for r in (await session.execute(
        select(AuditChainHead.region_code, AuditChainHead.seq, AuditChainHead.hash))).all()}
    chains = set(heads) | set((await session.execute(select(AuditEntry.region_code).distinct())).scalars())
    for chain in sorted(chains):
        report.chains += 1
        expected_seq, prev_hash, last_seq = 1, GENESIS, 0
        after = 0
        while True:
            # Plain columns, not ORM objects: the session's identity map must not
            # hide what is actually stored.
            rows = (
                await session.execute(
                    select(AuditEntry.region_code, AuditEntry.seq, AuditEntry.prev_hash, AuditEntry.hash,
                           AuditEntry.actor, AuditEntry.action, AuditEntry.target_type, AuditEntry.target_id,
                           AuditEntry.at, AuditEntry.details)
                    .where(AuditEntry.region_code == chain, AuditEntry.seq > after)
                    .order_by(AuditEntry.seq)
                    .limit(batch)
                )
            ).all()
            if not rows:
                break
            for e in rows:
                report.entries += 1
                if e.seq > expected_seq:
                    missing = f"{expected_seq}" if e.seq == expected_seq + 1 else f"{expected_seq}–{e.seq - 1}"
                    report.problems.append(Problem(chain, expected_seq, "deleted",
                        f"链 {chain} 第 {missing} 条记录已被删除"))
                    prev_hash = e.prev_hash  # resynchronise after the gap
                if e.prev_hash != prev_hash:
                    report.problems.append(Problem(chain, e.seq, "inserted",
                        f"链 {chain} 第 {e.seq} 条记录与前一条不衔接（记录被插入或替换）"))
                recomputed = entry_hash(region_code=e.region_code, seq=e.seq, prev_hash=e.prev_hash,
                                        actor=e.actor, action=e.action, target_type=e.target_type,
                                        target_id=e.target_id, at=e.at, details=e.details or {})
                if recomputed != e.hash:
                    report.problems.append(Problem(chain, e.seq, "edited",
                        f"链 {chain} 第 {e.seq} 条记录内容已被修改（{e.action} {e.target_type}:{e.target_id}）"))
                prev_hash, expected_seq, last_seq = e.hash, e.seq + 1, e.seq
            after = last_seq
        head = heads.get(chain)
        if head is None:
            report.problems.append(Problem(chain, last_seq, "head_mismatch", f"链 {chain} 缺少链头记录"))
        elif head.seq != last_seq or head.hash != prev_hash:
            if head.seq > last_seq:
                report.problems.append(Problem(chain, last_seq + 1, "deleted",
                    f"链 {chain} 末尾第 {last_seq + 1}–{head.seq} 条记录已被删除"))
            else:
                report.problems.append(Problem(chain, head.seq, "head_mismatch",
                    f"链 {chain} 链头（第 {head.seq} 条）与最后一条记录不一致"))
    return report
