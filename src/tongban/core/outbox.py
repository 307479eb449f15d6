"""Event outbox: events written in the same transaction as the change.

``record_event`` adds the event and one delivery row per subscribed handler
inside the caller's transaction, so an event exists exactly when the change
committed. The worker (``core.worker``) delivers each (event, handler) pair at
least once, with retries and backoff; a delivery that keeps failing is parked
as ``failed`` with its error, visible to administrators.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, SmallInteger, String, Text, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, Session, make_transient_to_detached, mapped_column

from tongban.core.clock import now
from tongban.core.db import Base, BigIntPK, RegionScoped


class OutboxEvent(RegionScoped, Base):
    __tablename__ = "outbox_event"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    name: Mapped[str] = mapped_column(String(80))  # past tense: CaseAccepted
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
    # Events are read by id only (the worker; the outbox pages filter the
    # deliveries' own region): no index on name or region (0006_submit_indexes).
    region_code: Mapped[str] = mapped_column(String(12))


class OutboxDelivery(RegionScoped, Base):
    """One handler's delivery of one event."""

    __tablename__ = "outbox_delivery"
    __table_args__ = (
        Index("ix_outbox_delivery_due", "status", "available_at"),
        Index("ix_outbox_delivery_event_handler", "event_id", "handler", unique=True),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("outbox_event.id", ondelete="CASCADE"))
    handler: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending | done | failed
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    available_at: Mapped[dt.datetime] = mapped_column(default=now)
    locked_by: Mapped[str | None] = mapped_column(String(80))
    locked_until: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    done_at: Mapped[dt.datetime | None]


class SchedulerLease(Base):
    """Leader lease for scheduled jobs: one holder at a time, renewed while alive."""

    __tablename__ = "scheduler_lease"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(String(80))
    expires_at: Mapped[dt.datetime]


class JobRun(Base):
    """Last run of each scheduled job (so a restarted leader does not repeat work early)."""

    __tablename__ = "job_run"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    last_started_at: Mapped[dt.datetime | None]
    last_finished_at: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


Handler = Callable[[AsyncSession, OutboxEvent], Awaitable[None]]


@dataclass(frozen=True)
class _Registration:
    name: str
    fn: Handler


_handlers: dict[str, list[_Registration]] = {}


def handler(event_name: str, *, name: str | None = None) -> Callable[[Handler], Handler]:
    """Subscribe an idempotent coroutine ``fn(session, event)`` to an event name."""

    def deco(fn: Handler) -> Handler:
        reg = _Registration(name or f"{fn.__module__}.{fn.__qualname__}", fn)
        regs = _handlers.setdefault(event_name, [])
        if all(r.name != reg.name for r in regs):
            regs.append(reg)
        return fn

    return deco


def handlers_for(event_name: str) -> list[_Registration]:
    return list(_handlers.get(event_name, ()))


def handler_by_name(name: str) -> Handler | None:
    for regs in _handlers.values():
        for r in regs:
            if r.name == name:
                return r.fn
    return None


async def record_event(
    session: AsyncSession, name: str, payload: dict[str, Any], *, region_code: str
) -> OutboxEvent:
    """Record an event in the caller's transaction (delivered only if it commits).
    Returns the event as written (detached from the session)."""
    at = now()
    [event_id] = await session.run_sync(
        record_events_sync, [(name, payload)], region_code=region_code, at=at
    )
    event = OutboxEvent(
        id=event_id, name=name, payload=payload, created_at=at, region_code=region_code
    )
    make_transient_to_detached(event)
    return event


def record_events_sync(
    session: Session,
    events: list[tuple[str, dict[str, Any]]],
    *,
    region_code: str,
    at: dt.datetime | None = None,
) -> list[int]:
    """Record events, in order, inside ``AsyncSession.run_sync``: the session's
    pending changes are flushed first, then one INSERT for the events and, when
    handlers subscribe, one for their deliveries. Returns the events' ids."""
    session.flush()
    conn = session.connection()
    at = at or now()
    rows = [
        {"name": n, "payload": p, "created_at": at, "region_code": region_code} for n, p in events
    ]
    if len(rows) == 1:
        ids = [conn.execute(_INSERT_EVENT, rows[0]).scalar_one()]
    else:
        ids = list(conn.execute(_INSERT_EVENTS, rows).scalars())
    record_deliveries_sync(
        session,
        [(i, n) for i, (n, _p) in zip(ids, events, strict=True)],
        region_code=region_code,
        at=at,
    )
    return ids


def record_deliveries_sync(
    session: Session, events: list[tuple[int, str]], *, region_code: str, at: dt.datetime
) -> None:
    """One delivery row per subscribed handler of each ``(event id, event name)``
    (for code that inserted the events itself); nothing when none subscribes."""
    deliveries = [
        {"event_id": event_id, "handler": reg.name, "region_code": region_code, "available_at": at}
        for event_id, name in events
        for reg in handlers_for(name)
    ]
    if deliveries:
        session.connection().execute(_INSERT_DELIVERY, deliveries)


_EVENTS = OutboxEvent.__table__
_INSERT_EVENT = insert(_EVENTS).returning(_EVENTS.c.id)
_INSERT_EVENTS = insert(_EVENTS).returning(_EVENTS.c.id, sort_by_parameter_order=True)
_INSERT_DELIVERY = insert(OutboxDelivery.__table__)
