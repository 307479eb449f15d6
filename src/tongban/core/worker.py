"""The worker: delivers outbox events to their handlers and runs scheduled jobs.

It runs inside the web process (``embedded_worker``) or alone (``tongban
worker``); any number of workers may run against one database.

Deliveries (``OutboxDelivery``, one per event and handler):

- **claim** — a batch of due ``pending`` rows whose lease is empty or expired
  gets ``locked_by``/``locked_until`` and ``attempts + 1`` in one committed
  transaction (PostgreSQL: ``SELECT … FOR UPDATE SKIP LOCKED`` then ``UPDATE``;
  SQLite: one ``UPDATE … WHERE id IN (SELECT … LIMIT n) RETURNING``, atomic
  under the write lock), so two workers never hold the same delivery. The
  attempt is counted when it starts, so a handler that kills its worker every
  time (memory, a hang ended by the supervisor) is parked after
  ``outbox_max_attempts`` like one that raises;
- **handle** — each delivery in its own transaction: the handler's writes and
  the ``done`` mark commit together. The mark is fenced (``locked_by`` must
  still be ours), so a worker whose lease lapsed rolls its work back instead
  of racing the worker that took over. Leases of a long batch are renewed;
- **fail** — the transaction rolls back; a new one keeps the error (type and
  message, masked, truncated) and schedules a retry with exponential backoff,
  or parks the delivery as ``failed`` after ``outbox_max_attempts``
  (administrators see and retry it in the admin pages); a handler that raises
  ``PermanentError`` (the data must change first: retrying cannot help) is
  parked at once;
- **crash** — nothing is lost: an expired lease makes the delivery claimable
  again (its ``last_error`` says so), and the uncommitted handler work was
  never visible.

Rules for handlers (``@outbox.handler``):

- delivery is at least once (outside effects — a message sent — may repeat
  after a crash): be idempotent; the order of deliveries is not guaranteed;
- only ``flush()``: the worker commits;
- the event is a detached, read-only snapshot (loaded once per batch);
- exceptions must not carry raw personal data: their text is stored and shown
  to administrators (it is masked as a last defence);
- do outside I/O (HTTP calls) before the first write: on SQLite a write
  transaction holds the database's write lock until it commits, which stalls
  every other writer — in embedded mode the web requests too.

The delivery lease reuses ``leader_lease_seconds``: both say how long a dead
worker's work stays untouched before another worker takes it over.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import datetime as dt
import importlib
import logging
import os
import random
import secrets
import signal
import socket
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Select, bindparam, case, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tongban.core.clock import now
from tongban.core.db import create_engine, make_sessionmaker, session_scope
from tongban.core.outbox import (
    Handler,
    OutboxDelivery,
    OutboxEvent,
    handler_by_name,
    handlers_for,
)
from tongban.core.scheduler import LeaderLease, describe_error, run_due_jobs
from tongban.core.settings import Settings

log = logging.getLogger("tongban.worker")

MAX_BACKOFF_SECONDS = 3600.0
JITTER = 0.1  # up to +10% on each retry delay, so failed deliveries do not retry in lockstep
MAX_ERROR_PAUSE_SECONDS = 60.0
PG_LANES = 4
PG_LANES_EMBEDDED = 2


class PermanentError(Exception):
    """处理失败且重试无益: raised by a handler when the data must be corrected
    first (a licence type not registered, a holder of the wrong kind). The
    delivery is parked as ``failed`` at once, with this message, instead of
    being retried ``outbox_max_attempts`` times; an administrator retries it
    from the admin pages after the fix."""


LEASE_EXPIRED = "上次处理未完成：工作进程在处理中停止，租约已过期 (worker stopped while handling; lease expired)"

#: The id of the worker running the current task (for logs and tests).
worker_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("worker_id", default="-")

_SYNC = {"synchronize_session": False}


@dataclass(frozen=True)
class Claimed:
    id: int
    event_id: int
    handler: str
    attempts: int  # including this one


def default_worker_id(*, embedded: bool) -> str:
    kind = "web" if embedded else "worker"
    return f"{kind}:{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"


def delivery_lease_seconds(settings: Settings) -> float:
    return float(settings.leader_lease_seconds)


def delivery_lanes(sessionmaker: async_sessionmaker[AsyncSession], *, embedded: bool) -> int:
    """Concurrent delivery loops: one on SQLite; on PostgreSQL a few, fewer when
    sharing the connection pool with web requests."""
    bind = sessionmaker.kw.get("bind")
    if bind is None or bind.dialect.name == "sqlite":
        return 1
    return PG_LANES_EMBEDDED if embedded else PG_LANES


def backoff_seconds(settings: Settings, attempts: int) -> float:
    """Delay before the next try after ``attempts`` failed attempts (doubling, capped, jittered)."""
    base = min(settings.outbox_backoff_seconds * 2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS)
    jitter = 1 + JITTER * random.random()  # noqa: S311 -- spreading retries, not security
    return min(base * jitter, MAX_BACKOFF_SECONDS)


def autodiscover() -> list[str]:
    """Import every domain's ``handlers`` and ``jobs`` modules so their registrations exist.

    Deliveries are created by ``record_event`` from the registry of the process
    that records the event, so the web process must call this too.
    """
    import tongban

    loaded = []
    base = Path(tongban.__file__).resolve().parent
    for pkg in sorted(p for p in base.iterdir() if (p / "__init__.py").is_file()):
        for sub in ("handlers", "jobs"):
            if (pkg / f"{sub}.py").is_file() or (pkg / sub / "__init__.py").is_file():
                name = f"tongban.{pkg.name}.{sub}"
                importlib.import_module(name)
                loaded.append(name)
    return loaded


# --- deliveries -----------------------------------------------------------------


def _due(at: dt.datetime, limit: int) -> Select[tuple[int]]:
    return (
        select(OutboxDelivery.id)
        .where(
            OutboxDelivery.status == "pending",
            OutboxDelivery.available_at <= at,
            or_(OutboxDelivery.locked_until.is_(None), OutboxDelivery.locked_until <= at),
        )
        .order_by(OutboxDelivery.available_at, OutboxDelivery.id)
        .limit(limit)
    )


async def claim(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    worker_id: str,
    limit: int | None = None,
) -> list[Claimed]:
    """Lease a batch of due deliveries to ``worker_id`` (committed before returning)."""
    limit = limit or settings.outbox_batch_size
    at = now()
    mark = (
        update(OutboxDelivery)
        .values(
            locked_by=worker_id,
            locked_until=at + dt.timedelta(seconds=delivery_lease_seconds(settings)),
            attempts=OutboxDelivery.attempts + 1,
            # A lease still set here has expired: the previous attempt's worker died.
            last_error=case(
                (OutboxDelivery.locked_until.is_not(None), LEASE_EXPIRED),
                else_=OutboxDelivery.last_error,
            ),
        )
        .returning(
            OutboxDelivery.id,
            OutboxDelivery.event_id,
            OutboxDelivery.handler,
            OutboxDelivery.attempts,
        )
    )
    async with session_scope(sessionmaker) as session:
        if session.bind.dialect.name == "postgresql":
            ids = (
                (await session.execute(_due(at, limit).with_for_update(skip_locked=True)))
                .scalars()
                .all()
            )
            if not ids:
                return []
            rows = await session.execute(
                mark.where(OutboxDelivery.id.in_(ids)), execution_options=_SYNC
            )
        else:
            # SQLite: the UPDATE takes the write lock first, so the inner SELECT
            # and the marking are one atomic step (other processes wait on
            # SQLite's own lock, within busy_timeout).
            rows = await session.execute(
                mark.where(OutboxDelivery.id.in_(_due(at, limit))), execution_options=_SYNC
            )
        claimed = [Claimed(*r) for r in rows.all()]
    claimed.sort(key=lambda c: c.id)
    return claimed


def _resolve(event_name: str, handler_name: str) -> Handler | None:
    for reg in handlers_for(event_name):
        if reg.name == handler_name:
            return reg.fn
    return handler_by_name(handler_name)


_delivery = OutboxDelivery.__table__

# Updates of one delivery we hold, fenced by our lease. Core statements, built
# once (the compiled form is cached): the per-delivery path stays cheap.
_FENCE = (
    _delivery.c.id == bindparam("delivery_id"),
    _delivery.c.locked_by == bindparam("worker_id"),
    _delivery.c.status == "pending",
)
_MARK_DONE = (
    update(_delivery)
    .where(*_FENCE)
    .values(
        status="done",
        done_at=bindparam("at", type_=_delivery.c.done_at.type),
        locked_by=None,
        locked_until=None,
    )
)
_MARK_FAILED = (
    update(_delivery)
    .where(*_FENCE)
    .values(
        status=bindparam("new_status", type_=_delivery.c.status.type),
        available_at=bindparam("available_at", type_=_delivery.c.available_at.type),
        last_error=bindparam("error", type_=_delivery.c.last_error.type),
        locked_by=None,
        locked_until=None,
    )
)


async def _record_failure(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    c: Claimed,
    error: str,
    *,
    worker_id: str,
    park: bool = False,
) -> str:
    attempts = c.attempts
    at = now()
    parked = park or attempts >= settings.outbox_max_attempts
    params = {
        "delivery_id": c.id,
        "worker_id": worker_id,
        "error": error,
        "new_status": "failed" if parked else "pending",
        # A parked delivery keeps the time it was parked here.
        "available_at": at
        if parked
        else at + dt.timedelta(seconds=backoff_seconds(settings, attempts)),
    }
    try:
        async with session_scope(sessionmaker) as session:
            res = await session.execute(_MARK_FAILED, params)
    except Exception:
        log.exception(
            "could not record a failed delivery; its lease will expire and it will be retried",
            extra={"fields": {"delivery_id": c.id}},
        )
        return "error"
    if res.rowcount != 1:
        return "lost"
    fields = {
        "delivery_id": c.id,
        "event_id": c.event_id,
        "handler": c.handler,
        "attempts": attempts,
    }
    if parked:
        log.error("delivery parked as failed: %s", error, extra={"fields": fields})
        return "failed"
    log.warning("delivery failed, will retry: %s", error, extra={"fields": fields})
    return "retry"


async def _handle(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    c: Claimed,
    event: OutboxEvent | None,
    *,
    worker_id: str,
) -> str:
    """Run one delivery; return ``done``, ``retry``, ``failed``, ``lost`` or ``error``."""
    if c.attempts > settings.outbox_max_attempts:
        # The last allowed attempt never finished (its worker died): park it.
        return await _record_failure(
            sessionmaker, settings, c, LEASE_EXPIRED, worker_id=worker_id, park=True
        )
    fn = _resolve(event.name, c.handler) if event is not None else None
    if fn is None:
        what = (
            "event row missing"
            if event is None
            else f"handler not registered in this worker: {c.handler}"
        )
        return await _record_failure(
            sessionmaker, settings, c, f"处理程序不可用 ({what})", worker_id=worker_id, park=True
        )
    try:
        async with sessionmaker() as session:
            try:
                await fn(session, event)
                res = await session.execute(
                    _MARK_DONE, {"delivery_id": c.id, "worker_id": worker_id, "at": now()}
                )
                if res.rowcount != 1:
                    await session.rollback()
                    log.warning(
                        "delivery lease lost before commit; work rolled back",
                        extra={"fields": {"delivery_id": c.id, "handler": c.handler}},
                    )
                    return "lost"
                await session.commit()
            except BaseException:
                await session.rollback()
                raise
    except Exception as exc:
        return await _record_failure(
            sessionmaker,
            settings,
            c,
            describe_error(exc),
            worker_id=worker_id,
            park=isinstance(exc, PermanentError),
        )
    return "done"


async def _load_events(
    sessionmaker: async_sessionmaker[AsyncSession], ids: set[int]
) -> dict[int, OutboxEvent]:
    async with sessionmaker() as session:
        rows = (
            (await session.execute(select(OutboxEvent).where(OutboxEvent.id.in_(ids))))
            .scalars()
            .all()
        )
    return {e.id: e for e in rows}


async def _keep_leases(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    worker_id: str,
    ids: set[int],
) -> None:
    """Renew the leases of a batch still being handled, every third of the lease."""
    lease = delivery_lease_seconds(settings)
    while True:
        await asyncio.sleep(lease / 3)
        pending = list(ids)
        if not pending:
            continue
        try:
            async with session_scope(sessionmaker) as session:
                await session.execute(
                    update(OutboxDelivery)
                    .where(
                        OutboxDelivery.id.in_(pending),
                        OutboxDelivery.locked_by == worker_id,
                        OutboxDelivery.status == "pending",
                    )
                    .values(locked_until=now() + dt.timedelta(seconds=lease)),
                    execution_options=_SYNC,
                )
        except Exception:
            log.exception("could not renew delivery leases")


async def _release(
    sessionmaker: async_sessionmaker[AsyncSession], worker_id: str, ids: list[int]
) -> None:
    """Give back claimed deliveries not handled (stopping), so others take them at once."""
    async with session_scope(sessionmaker) as session:
        await session.execute(
            update(OutboxDelivery)
            .where(
                OutboxDelivery.id.in_(ids),
                OutboxDelivery.locked_by == worker_id,
                OutboxDelivery.status == "pending",
            )
            .values(locked_by=None, locked_until=None, attempts=OutboxDelivery.attempts - 1),
            execution_options=_SYNC,
        )


async def run_once(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    worker_id: str,
    stop: asyncio.Event | None = None,
) -> int:
    """Claim one batch and handle it; return how many deliveries were handled."""
    claimed = await claim(sessionmaker, settings, worker_id=worker_id)
    if not claimed:
        return 0
    unhandled = {c.id for c in claimed}
    handled = 0
    token = worker_id_var.set(worker_id)  # handlers may log or record which worker ran them
    keeper = asyncio.create_task(_keep_leases(sessionmaker, settings, worker_id, unhandled))
    try:
        events = await _load_events(sessionmaker, {c.event_id for c in claimed})
        for c in claimed:
            if stop is not None and stop.is_set():
                break
            await _handle(sessionmaker, settings, c, events.get(c.event_id), worker_id=worker_id)
            unhandled.discard(c.id)
            handled += 1
            # The SQLite driver runs inline and may not yield: give the web
            # requests sharing this event loop (embedded mode) a turn.
            await asyncio.sleep(0)
    finally:
        worker_id_var.reset(token)
        keeper.cancel()
        await asyncio.wait({keeper})
        if unhandled:
            try:
                await _release(sessionmaker, worker_id, sorted(unhandled))
            except Exception:
                log.exception("could not release claimed deliveries; their leases will expire")
    return handled


# --- the loop ---------------------------------------------------------------------


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    """Sleep, waking early when ``stop`` is set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def _delivery_loop(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    worker_id: str,
    stop: asyncio.Event,
) -> None:
    failures = 0
    while not stop.is_set():
        try:
            n = await run_once(sessionmaker, settings, worker_id=worker_id, stop=stop)
        except Exception:
            failures += 1
            pause = min(settings.outbox_poll_seconds * 2**failures, MAX_ERROR_PAUSE_SECONDS)
            log.exception("outbox poll failed; pausing", extra={"fields": {"pause_s": pause}})
            await _sleep(stop, pause)
            continue
        failures = 0
        if n == 0:
            await _sleep(stop, settings.outbox_poll_seconds)


async def _lease_loop(lease: LeaderLease, *, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await lease.acquire()
        except Exception:
            log.exception("scheduler lease check failed")
        await _sleep(stop, lease.seconds / 3)


async def _jobs_loop(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    lease: LeaderLease,
    *,
    stop: asyncio.Event,
) -> None:
    def leading() -> bool:
        return lease.is_held() and not stop.is_set()

    failures = 0
    while not stop.is_set():
        pause = settings.outbox_poll_seconds
        if leading():
            try:
                await run_due_jobs(sessionmaker, settings, is_leader=leading)
                failures = 0
            except Exception:
                failures += 1
                pause = min(pause * 2**failures, MAX_ERROR_PAUSE_SECONDS)
                log.exception(
                    "scheduled jobs pass failed; pausing", extra={"fields": {"pause_s": pause}}
                )
        await _sleep(stop, pause)


async def run_worker(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    stop: asyncio.Event,
    embedded: bool,
    worker_id: str | None = None,
) -> None:
    """Deliver events and, while holding the leader lease, run scheduled jobs, until ``stop``.

    Cooperative loops: deliveries (one lane on SQLite, whose writes are
    serialised anyway; several on PostgreSQL, each claiming its own batches as
    ``<worker_id>/<lane>``, so commits overlap instead of queueing on the
    disk flush); the leader lease (acquire or renew every third of its
    length); due jobs (only while the lease is held). Errors are logged and
    followed by a pause; they never end the worker. On stop the current
    delivery or job finishes, unhandled claims and the lease are given back.
    """
    worker_id = (worker_id or default_worker_id(embedded=embedded))[:76]
    worker_id_var.set(worker_id)
    try:
        autodiscover()
    except Exception:
        log.exception("could not import the event handlers and jobs; worker not started")
        raise
    lease = LeaderLease(sessionmaker, holder=worker_id, seconds=settings.leader_lease_seconds)
    log.info("worker started", extra={"fields": {"worker_id": worker_id, "embedded": embedded}})
    try:
        async with asyncio.TaskGroup() as tg:
            for lane in range(delivery_lanes(sessionmaker, embedded=embedded)):
                lane_id = worker_id if lane == 0 else f"{worker_id}/{lane}"
                tg.create_task(_delivery_loop(sessionmaker, settings, worker_id=lane_id, stop=stop))
            tg.create_task(_lease_loop(lease, stop=stop))
            tg.create_task(_jobs_loop(sessionmaker, settings, lease, stop=stop))
    finally:
        try:
            await lease.release()
        except Exception:
            log.exception("could not release the scheduler lease; it will expire")
        log.info("worker stopped", extra={"fields": {"worker_id": worker_id}})


async def worker_main(settings: Settings) -> None:
    """``tongban worker``: run until SIGTERM or SIGINT, then stop cleanly."""
    from tongban.core import logging as tlog

    tlog.configure(settings.log_level, json=settings.log_json)
    engine = create_engine(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGTERM, signal.SIGINT)
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    try:
        await run_worker(make_sessionmaker(engine), settings, stop=stop, embedded=False)
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
        await engine.dispose()
