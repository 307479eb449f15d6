"""Audit log (审计日志): append-only, each entry chained to the previous by hash.

Chains per region (``chain`` = the region code the action belongs to, and a
lane 分道 within it): STACK-NOTES measured a single global chain head as the
hot row that caps throughput at the commit latency; a chain per region keeps
the same tamper evidence with far less waiting. A region's writers use lane
0, except PostgreSQL's case submission (``cases.service.next_lane``), the
hottest write, which spreads over ``SUBMIT_LANES`` lanes: a head row stays
locked until its transaction's commit is flushed, and the submissions of one
region queued on one head (docs/benchmarks.md, "2026-11-21 (late night)").
Each entry's hash covers its chain (``chain_name``: the region code,
``/lane`` after it for a lane other than 0), sequence number, the previous
entry's hash, actor, action, target, time and details;
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
from sqlalchemy import (
    JSON,
    BigInteger,
    Index,
    SmallInteger,
    String,
    bindparam,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, Session, make_transient_to_detached, mapped_column

from tongban.core.clock import now
from tongban.core.db import Base, BigIntPK, driver_bind_processor

GENESIS = "0" * 64
# The lanes PostgreSQL's case submission spreads a region's entries over.
SUBMIT_LANES = 8
# The columns an entry is written with (every statement that inserts one).
ENTRY_COLUMNS = (
    "region_code",
    "lane",
    "seq",
    "prev_hash",
    "hash",
    "actor",
    "action",
    "target_type",
    "target_id",
    "at",
    "details",
)


class AuditEntry(Base):
    __tablename__ = "audit_entry"
    __table_args__ = (
        # Read by chain (the verifier) and newest first (latest_audit), never by
        # action or target: no index on those (migration 0006_submit_indexes).
        Index("ix_audit_entry_chain_seq", "region_code", "lane", "seq", unique=True),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    region_code: Mapped[str] = mapped_column(String(12))  # the chain: its region, then its lane
    lane: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    seq: Mapped[int] = mapped_column(BigInteger)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(100))  # "account:12", "api:3", "system"
    action: Mapped[str] = mapped_column(String(60))
    target_type: Mapped[str] = mapped_column(String(40))
    target_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime]
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class AuditChainHead(Base):
    """The last sequence number and hash of each chain (the hot row per region and lane)."""

    __tablename__ = "audit_chain_head"

    region_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    lane: Mapped[int] = mapped_column(
        SmallInteger, primary_key=True, default=0, server_default="0", autoincrement=False
    )
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


def chain_name(region_code: str, lane: int = 0) -> str:
    """The chain as its entries' hashes and the verifier's report name it:
    the region code, ``/lane`` after it for a lane other than 0 (so the
    entries of lane 0, the only lane before lanes existed, hash as they did)."""
    return f"{region_code}/{lane}" if lane else region_code


def entry_hash(
    *,
    region_code: str,
    lane: int = 0,
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
        [
            chain_name(region_code, lane),
            seq,
            prev_hash,
            actor,
            action,
            target_type,
            target_id,
            at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            details,
        ],
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(canonical).hexdigest()


def entry_hash_parts(
    *,
    region_code: str,
    lane: int = 0,
    actor: str,
    action: str,
    target_type: str,
    at: dt.datetime,
    details: dict[str, Any],
) -> tuple[bytes, bytes, bytes]:
    """``entry_hash``'s canonical bytes around what only the database knows
    when one statement claims the head (``cases.service._pg_submit_stmt``):
    ``pre + b"<seq>" + b',"<prev_hash>",' + mid + b"<target_id>" + post``
    is the canonical form, for a ``target_id`` and ``prev_hash`` that JSON
    writes as they are (digits, hex) and an integer ``seq``."""
    dumps = orjson.dumps
    pre = b"[" + dumps(chain_name(region_code, lane)) + b","
    mid = b",".join((dumps(actor), dumps(action), dumps(target_type))) + b',"'
    post = (
        b'",'
        + dumps(at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
        + b","
        + dumps(details, option=orjson.OPT_SORT_KEYS)
        + b"]"
    )
    return pre, mid, post


async def record(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    target_type: str,
    target_id: str | int,
    region_code: str,
    details: dict[str, Any] | None = None,
    lane: int = 0,
) -> AuditEntry:
    """Append one entry to the region's chain (in the caller's transaction):
    the chain of its ``lane``, 0 unless the caller spreads a hot write.

    ``details`` must already be masked: it is kept forever. Whatever the
    caller has pending in the session is flushed first. Returns the entry as
    written (detached from the session).
    """
    entry_id, values = await session.run_sync(
        _append,
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=target_id,
        region_code=region_code,
        details=details,
        lane=lane,
    )
    entry = AuditEntry(id=entry_id, **values)
    make_transient_to_detached(entry)
    return entry


def record_sync(
    session: Session,
    *,
    actor: str,
    action: str,
    target_type: str,
    target_id: str | int,
    region_code: str,
    details: dict[str, Any] | None = None,
    lane: int = 0,
) -> int:
    """``record`` for code that runs inside ``AsyncSession.run_sync`` (several
    writes in one greenlet); returns the entry's id."""
    return _append(
        session,
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=target_id,
        region_code=region_code,
        details=details,
        lane=lane,
    )[0]


def _append(
    session: Session,
    *,
    actor: str,
    action: str,
    target_type: str,
    target_id: str | int,
    region_code: str,
    details: dict[str, Any] | None,
    lane: int = 0,
) -> tuple[int, dict[str, Any]]:
    """Two statements (three on SQLite), prebuilt: the head is claimed with one
    upsert that locks its row until the transaction ends (PostgreSQL: the row
    lock of ``ON CONFLICT DO UPDATE``; SQLite: the database write lock) and
    returns the next sequence number and the previous entry's hash (GENESIS
    for a new chain, whose head the same statement creates); then the entry
    is inserted and the head's hash set.
    """
    details = details or {}
    target_id = str(target_id)
    session.flush()
    conn = session.connection()
    stmts = _statements(conn.dialect.name)
    seq, prev = conn.execute(stmts.claim, {"b_region_code": region_code, "b_lane": lane}).one()
    at = now()
    h = entry_hash(
        region_code=region_code,
        lane=lane,
        seq=seq,
        prev_hash=prev,
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=target_id,
        at=at,
        details=details,
    )
    values = {
        "region_code": region_code,
        "lane": lane,
        "seq": seq,
        "prev_hash": prev,
        "hash": h,
        "actor": actor,
        "action": action,
        "target_type": target_type,
        "target_id": target_id,
        "at": at,
        "details": details,
    }
    params = {f"b_{k}": v for k, v in values.items()}
    entry_id = conn.execute(stmts.append, params).scalar_one()
    if stmts.set_hash is not None:
        conn.execute(stmts.set_hash, params)
    return entry_id, values


# lane 0: SQLite's writers take the database's one write lock anyway
_SQLITE_CLAIM = (
    "INSERT INTO audit_chain_head (region_code, lane, seq, hash) VALUES (?, 0, 1, ?) "
    "ON CONFLICT (region_code, lane) DO UPDATE SET seq = audit_chain_head.seq + 1 RETURNING seq, hash"
)
_SQLITE_ENTRY = (
    "INSERT INTO audit_entry (region_code, lane, seq, prev_hash, hash, actor, action, target_type, target_id, at, "
    "details) VALUES (?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"
)
_SQLITE_SET_HASH = "UPDATE audit_chain_head SET hash = ? WHERE region_code = ? AND lane = 0"


def record_sqlite_cursor(
    cursor: Any,
    dialect: Any,
    *,
    actor: str,
    action: str,
    target_type: str,
    target_id: str | int,
    region_code: str,
    details: dict[str, Any] | None = None,
) -> int:
    """``record_sync``'s three statements on a SQLite driver cursor of the
    session's connection (``core.sqlite_inline``: the first write takes the
    database's write lock), for a hot write path that writes its other rows
    the same way. Values are bound with SQLAlchemy's own processors, so they
    are stored exactly as through ``record_sync``. Returns the entry's id."""
    details = details or {}
    target_id = str(target_id)
    seq, prev = cursor.execute(_SQLITE_CLAIM, (region_code, GENESIS)).fetchone()
    at = now()
    h = entry_hash(
        region_code=region_code,
        seq=seq,
        prev_hash=prev,
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=target_id,
        at=at,
        details=details,
    )
    at_p, details_p = _sqlite_processors(dialect)
    entry_id = cursor.execute(
        _SQLITE_ENTRY,
        (
            region_code,
            seq,
            prev,
            h,
            actor,
            action,
            target_type,
            target_id,
            at_p(at),
            details_p(details),
        ),
    ).fetchone()[0]
    cursor.execute(_SQLITE_SET_HASH, (h, region_code))
    return entry_id


def _sqlite_processors(dialect: Any) -> tuple[Any, Any]:
    got = _processors.get(dialect.name)
    if got is None:
        cols = AuditEntry.__table__.c
        got = _processors[dialect.name] = (
            driver_bind_processor(cols.at.type, dialect),
            driver_bind_processor(cols.details.type, dialect),
        )
    return got


_processors: dict[str, tuple[Any, Any]] = {}


@dataclass(frozen=True)
class _Statements:
    claim: Any  # upsert of the head: (next seq, previous hash)
    append: Any  # insert the entry (PostgreSQL: and set the head's hash, one statement)
    set_hash: Any | None  # SQLite: set the head's hash


_prebuilt: dict[str, _Statements] = {}


def _statements(dialect: str) -> _Statements:
    got = _prebuilt.get(dialect)
    if got is not None:
        return got
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert
    head, entry = AuditChainHead.__table__, AuditEntry.__table__
    claim = (
        upsert(head)
        .values(
            region_code=bindparam("b_region_code"), lane=bindparam("b_lane"), seq=1, hash=GENESIS
        )
        .on_conflict_do_update(
            index_elements=[head.c.region_code, head.c.lane], set_={"seq": head.c.seq + 1}
        )
        .returning(head.c.seq, head.c.hash)
    )
    set_hash = (
        update(head)
        .where(head.c.region_code == bindparam("b_region_code"), head.c.lane == bindparam("b_lane"))
        .values(hash=bindparam("b_hash"))
    )
    cols = ENTRY_COLUMNS
    ins = (
        insert(entry)
        .values({c: bindparam(f"b_{c}", type_=entry.c[c].type) for c in cols})
        .returning(entry.c.id)
    )
    if dialect == "postgresql":
        got = _Statements(claim, ins.add_cte(set_hash.cte("set_head_hash")), None)
    else:
        got = _Statements(claim, ins, set_hash)
    _prebuilt[dialect] = got
    return got


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
    heads = {
        (r.region_code, r.lane): r
        for r in (
            await session.execute(
                select(
                    AuditChainHead.region_code,
                    AuditChainHead.lane,
                    AuditChainHead.seq,
                    AuditChainHead.hash,
                )
            )
        ).all()
    }
    keys = set(heads) | {
        (r[0], r[1])
        for r in (
            await session.execute(select(AuditEntry.region_code, AuditEntry.lane).distinct())
        ).all()
    }
    for key in sorted(keys):
        region_code, lane = key
        chain = chain_name(region_code, lane)
        report.chains += 1
        expected_seq, prev_hash, last_seq = 1, GENESIS, 0
        after = 0
        while True:
            # Plain columns, not ORM objects: the session's identity map must not
            # hide what is actually stored.
            rows = (
                await session.execute(
                    select(
                        AuditEntry.region_code,
                        AuditEntry.lane,
                        AuditEntry.seq,
                        AuditEntry.prev_hash,
                        AuditEntry.hash,
                        AuditEntry.actor,
                        AuditEntry.action,
                        AuditEntry.target_type,
                        AuditEntry.target_id,
                        AuditEntry.at,
                        AuditEntry.details,
                    )
                    .where(
                        AuditEntry.region_code == region_code,
                        AuditEntry.lane == lane,
                        AuditEntry.seq > after,
                    )
                    .order_by(AuditEntry.seq)
                    .limit(batch)
                )
            ).all()
            if not rows:
                break
            for e in rows:
                report.entries += 1
                if e.seq > expected_seq:
                    missing = (
                        f"{expected_seq}"
                        if e.seq == expected_seq + 1
                        else f"{expected_seq}–{e.seq - 1}"
                    )
                    report.problems.append(
                        Problem(
                            chain,
                            expected_seq,
                            "deleted",
                            f"链 {chain} 第 {missing} 条记录已被删除",
                        )
                    )
                    prev_hash = e.prev_hash  # resynchronise after the gap
                if e.prev_hash != prev_hash:
                    report.problems.append(
                        Problem(
                            chain,
                            e.seq,
                            "inserted",
                            f"链 {chain} 第 {e.seq} 条记录与前一条不衔接（记录被插入或替换）",
                        )
                    )
                recomputed = entry_hash(
                    region_code=e.region_code,
                    lane=e.lane,
                    seq=e.seq,
                    prev_hash=e.prev_hash,
                    actor=e.actor,
                    action=e.action,
                    target_type=e.target_type,
                    target_id=e.target_id,
                    at=e.at,
                    details=e.details or {},
                )
                if recomputed != e.hash:
                    report.problems.append(
                        Problem(
                            chain,
                            e.seq,
                            "edited",
                            f"链 {chain} 第 {e.seq} 条记录内容已被修改（{e.action} {e.target_type}:{e.target_id}）",
                        )
                    )
                prev_hash, expected_seq, last_seq = e.hash, e.seq + 1, e.seq
            after = last_seq
        head = heads.get(key)
        if head is None:
            report.problems.append(
                Problem(chain, last_seq, "head_mismatch", f"链 {chain} 缺少链头记录")
            )
        elif head.seq != last_seq or head.hash != prev_hash:
            if head.seq > last_seq:
                report.problems.append(
                    Problem(
                        chain,
                        last_seq + 1,
                        "deleted",
                        f"链 {chain} 末尾第 {last_seq + 1}–{head.seq} 条记录已被删除",
                    )
                )
            else:
                report.problems.append(
                    Problem(
                        chain,
                        head.seq,
                        "head_mismatch",
                        f"链 {chain} 链头（第 {head.seq} 条）与最后一条记录不一致",
                    )
                )
    return report
