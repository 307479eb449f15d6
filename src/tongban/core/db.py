"""Database engine, sessions and the model base.

Transactions end at the edge: a request (``tongban.web.deps.db_session``) or a
job (``session_scope``) commits or rolls back; services only ``flush()``.

SQLite (embedded default) runs through ``core.sqlite_inline``; PostgreSQL
through asyncpg. Both sit behind SQLAlchemy's asyncio API so every domain
writes one kind of code.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
import weakref
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, ClassVar

from sqlalchemy import BigInteger, DateTime, Integer, MetaData, String, event, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import registry
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import AsyncAdaptedQueuePool
from sqlalchemy.types import TypeDecorator
from sqlalchemy.util import await_only

from tongban.core.settings import Settings, get_settings

log = logging.getLogger("tongban.db")

registry.register("sqlite.inline", "tongban.core.sqlite_inline", "SQLiteDialect_inline")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT primary keys on PostgreSQL; SQLite needs INTEGER for rowid aliasing.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware datetime stored as UTC (naive UTC in SQLite)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: use tongban.core.clock.now()")
        value = value.astimezone(dt.UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def _sqlite_utc_text(value: dt.datetime | None) -> str | None:
    """``UTCDateTime`` bound for SQLite as a compiled statement binds it
    (``sqlite_inline.bind_datetime``), refusing a naive value as it does."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime: use tongban.core.clock.now()")
    from tongban.core.sqlite_inline import bind_datetime

    return bind_datetime(value)


def driver_bind_processor(type_: Any, dialect: Any) -> Any:
    """The bind processor a compiled statement applies to a value of a column
    of ``type_`` (the dialect's own implementation of the type), for the
    statements a hot path sends on the driver connection itself. ``type_.
    bind_processor(dialect)`` alone skips the dialect's implementation: a
    ``UTCDateTime`` then reached sqlite3 as a naive datetime, stored by the
    driver's adapter without the microseconds when they were 0. On SQLite a
    ``UTCDateTime`` gets the same text directly (2 µs a value less)."""
    if dialect.name == "sqlite" and isinstance(type_, UTCDateTime):
        return _sqlite_utc_text
    return type_.dialect_impl(dialect).bind_processor(dialect)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dt.datetime: UTCDateTime()}


class RegionScoped:
    """Mixin for tables that grow with use: the region code is the future
    distribution key (Citus) and the first filter of every scoped query."""

    region_code: Mapped[str] = mapped_column(String(12), index=True)


def async_url(url: str) -> str:
    """Map a plain URL to the driver the platform uses."""
    u = make_url(url)
    if u.drivername in ("sqlite", "sqlite+pysqlite", "sqlite+inline"):
        return str(u.set(drivername="sqlite+inline"))
    if u.drivername in (
        "postgresql",
        "postgres",
        "postgresql+psycopg",
        "postgresql+psycopg2",
        "postgresql+asyncpg",
    ):
        return u.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    raise ValueError(f"不支持的数据库地址: {u.drivername}")


WAL_SIZE_LIMIT = 64 * 1024 * 1024


class WalCheckpointer:
    """WAL checkpoints of an SQLite database in a thread of its own.

    The platform's SQLite driver (``core.sqlite_inline``) runs statements on
    the event loop's thread; SQLite's automatic checkpoint runs inside the
    commit that takes the log past 1,000 pages, so every request waits while
    it copies pages and syncs the file (the ``submit`` benchmark's p99). With
    the engine's connections set to ``wal_autocheckpoint=0``, this thread
    runs ``PRAGMA wal_checkpoint(PASSIVE)`` every ``seconds`` on a connection
    of its own (the sqlite3 module releases the GIL while SQLite works):
    writers go on appending meanwhile and readers are never blocked. On stop
    it checkpoints once more.

    Under a steady stream of writes a passive checkpoint never catches up with
    the log, and SQLite starts the log again from its beginning only when a
    writer finds it entirely copied: the file grew without end (1.1 GB after
    8,000 submissions), and every page read searched a longer WAL index.
    So when the log holds ``restart_frames`` or more after a pass, the thread
    catches up (``catch_up``): passes back to back until one is quick, then
    one more with the writers held off — the writers' lock between processes
    (``sqlite_inline``: the ``flock`` on ``<database>-writelock``; a writer
    waiting for it waits in a thread, its loop goes on). The next writer then
    finds the log copied and starts it again from its beginning;
    ``journal_size_limit`` (set on the engine's connections) trims the file.
    """

    RESTART_FRAMES = 4096  # 16 MB of 4 KB pages: one WAL-index hash table
    CATCH_UP_PASSES = 8
    QUICK_PASS = 0.005  # seconds: a pass this short leaves little for the held one

    def __init__(self, path: str, seconds: float, *, restart_frames: int = RESTART_FRAMES) -> None:
        import threading

        self.path = path
        self.seconds = seconds
        self.restart_frames = restart_frames
        self.restarts = 0  # times the log was started again, seen by this thread
        self.catch_ups = 0  # times this thread held the writers off to copy the rest
        self.longest_hold = 0.0  # seconds the writers were held off, at most
        self.runs = 0
        self.frames = 0  # frames copied into the database so far
        self._generation = b""  # the log's salt: it changes when a writer restarts the log
        self._done = 0  # frames of this generation already counted
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wal-checkpoint", daemon=True)

    def start(self) -> WalCheckpointer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def checkpoint(self, conn: Any) -> tuple[int, int]:
        """One passive pass: (frames in the log, frames of it copied)."""
        _busy, in_log, done = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        self.runs += 1
        # ``done`` counts the frames of the current log, from its start: a
        # run adds what is new since the last one (all of it after a restart).
        generation = self._log_salt()
        if generation != self._generation:
            if self._generation:
                self.restarts += 1
            self._generation, self._done = generation, 0
        done = max(done, 0)
        self.frames += max(done - self._done, 0)
        self._done = max(done, self._done)
        return max(in_log, 0), done

    def catch_up(self, conn: Any, lock_fd: int) -> None:
        """Copy the whole log, so that the next writer starts it again.

        Passes without the lock first, back to back, each copying what
        writers appended during the one before, until one is quick; then the
        last few frames with the writers held off (``flock``), briefly."""
        import fcntl

        for _ in range(self.CATCH_UP_PASSES):
            started = time.perf_counter()
            self.checkpoint(conn)
            if time.perf_counter() - started < self.QUICK_PASS:
                break
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        held = time.perf_counter()
        try:
            self.checkpoint(conn)  # no writer appends meanwhile
        finally:
            fcntl.flock(lock_fd, fcntl.LOCK_UN)
            self.longest_hold = max(self.longest_hold, time.perf_counter() - held)
            self.catch_ups += 1

    def _log_salt(self) -> bytes:
        """Salt-1 and salt-2 of the WAL header (bytes 16–24): new on every restart."""
        try:
            with open(self.path + "-wal", "rb") as f:
                return f.read(24)[16:24]
        except OSError:
            return b""

    def _run(self) -> None:
        import os
        import sqlite3

        from tongban.core.sqlite_inline import lock_file_path

        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        lock_name = lock_file_path(self.path)
        lock_fd = (
            os.open(lock_name, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600) if lock_name else None
        )
        try:
            while not self._stop.wait(self.seconds):
                try:
                    if self.checkpoint(conn)[0] >= self.restart_frames and lock_fd is not None:
                        self.catch_up(conn, lock_fd)
                except Exception:  # never end the thread: the log would grow without it
                    log.exception("WAL checkpoint failed; retried in %.1f s", self.seconds)
            self.checkpoint(conn)
        finally:
            conn.close()
            if lock_fd is not None:
                os.close(lock_fd)


_checkpointers: weakref.WeakKeyDictionary[Any, WalCheckpointer] = weakref.WeakKeyDictionary()


def wal_checkpointer(engine: AsyncEngine) -> WalCheckpointer | None:
    """The engine's background checkpointer (``create_engine(background_checkpoint=True)``)."""
    return _checkpointers.get(engine.sync_engine)


def create_engine(
    settings: Settings | None = None, *, url: str | None = None, background_checkpoint: bool = False
) -> AsyncEngine:
    """The platform's async engine. ``background_checkpoint`` (the web
    process, SQLite, ``sqlite_checkpoint_seconds`` > 0): SQLite's automatic
    checkpoints off, a ``WalCheckpointer`` (``wal_checkpointer(engine)``)
    for the caller to start and stop."""
    settings = settings or get_settings()
    raw_url = url or settings.effective_database_url
    aurl = async_url(raw_url)
    kwargs: dict[str, Any] = {"echo": settings.database_echo}
    if aurl.startswith("sqlite"):
        path = make_url(aurl).database
        if path and path != ":memory:":
            from pathlib import Path

            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # SQLite connections are cheap to hold and costly to open (pragmas):
        # keep enough for the concurrency so overflow connections do not churn.
        kwargs.update(pool_size=max(settings.database_pool_size, 40), max_overflow=40)
        engine = create_async_engine(aurl, **kwargs)
        sync_mode = settings.sqlite_synchronous
        background = bool(
            background_checkpoint
            and settings.sqlite_checkpoint_seconds > 0
            and path
            and path != ":memory:"
        )
        if background:
            _checkpointers[engine.sync_engine] = WalCheckpointer(
                path, settings.sqlite_checkpoint_seconds
            )

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            raw = dbapi_conn._raw
            raw.execute("PRAGMA journal_mode=WAL")
            raw.execute(f"PRAGMA synchronous={sync_mode}")
            raw.execute("PRAGMA foreign_keys=ON")
            raw.execute("PRAGMA busy_timeout=10000")
            raw.execute("PRAGMA cache_size=-32000")
            raw.execute("PRAGMA temp_store=MEMORY")
            if background:
                raw.execute("PRAGMA wal_autocheckpoint=0")
                # a log started again is cut back to this size (WalCheckpointer)
                raw.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")

        return engine
    # PostgreSQL: every connection the pool opens is kept (up to the same
    # ceiling as before, database_pool_size + 10 per process; opened on demand,
    # so a quiet process holds what its busiest moment needed). An overflow
    # connection closed on return was reopened by the next burst: a new backend
    # fills its catalogue caches and prepares and plans each statement again
    # (~18 ms of server CPU for the worklist's 15 statements), ~10 times a
    # second at 32 clients over two processes (bench/run.py worklist).
    kwargs.update(
        pool_size=pg_pool_size(settings),
        max_overflow=0,
        pool_pre_ping=False,
        poolclass=FairQueuePool,
    )
    return create_async_engine(aurl, **kwargs)


class _Turns:
    """Checkout turns in arrival order: ``capacity`` holders at a time, the
    rest wait in a FIFO queue and a returned turn passes straight to the
    first of them (nobody arriving meanwhile can take it)."""

    __slots__ = ("free", "loop", "waiters")

    def __init__(self, capacity: int, loop: asyncio.AbstractEventLoop) -> None:
        self.free = capacity
        self.loop = loop
        self.waiters: deque[asyncio.Future[None]] = deque()

    def take(self) -> asyncio.Future[None] | None:
        """None: a turn taken at once; else the future that brings one."""
        if self.free > 0 and not self.waiters:
            self.free -= 1
            return None
        fut = self.loop.create_future()
        self.waiters.append(fut)
        return fut

    def give(self) -> None:
        while self.waiters:
            fut = self.waiters.popleft()
            if not fut.done():
                fut.set_result(None)  # the turn passes on: ``free`` unchanged
                return
        self.free += 1


class FairQueuePool(AsyncAdaptedQueuePool):
    """The asyncio queue pool, with waiting checkouts served in arrival order.

    SQLAlchemy's asyncio queue lets a checkout that arrives while a returned
    connection is on its way to the longest waiter take it first (the waiter
    finds the queue empty and queues again, at the back). At 32 clients on
    20 connections that unfairness set the tail: bench/run.py submit on
    PostgreSQL, p99 105–132 ms with the default pool (docs/benchmarks.md).
    Here a checkout first takes a turn (``_Turns``: at most the pool's size
    at a time, FIFO), then the pool's own checkout, which then never waits.
    The same ``pool_timeout`` applies to the wait for a turn."""

    # log as SQLAlchemy's own pool (its logger, its level), not under tongban.*
    _sqla_logger_namespace = "sqlalchemy.pool.impl.AsyncAdaptedQueuePool"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._turns: _Turns | None = None

    def _turn_keeper(self) -> _Turns:
        loop = asyncio.get_running_loop()
        turns = self._turns
        if turns is None or turns.loop is not loop:  # a new event loop: fresh turns
            turns = self._turns = _Turns(self.size() + max(self._max_overflow, 0), loop)
        return turns

    def _do_get(self) -> Any:
        turns = self._turn_keeper()
        fut = turns.take()
        if fut is not None:
            try:
                await_only(asyncio.wait_for(fut, self._timeout))
            except BaseException as exc_:
                if fut.done() and not fut.cancelled():
                    turns.give()  # handed over as the wait ended: pass it on
                else:
                    fut.cancel()
                if isinstance(exc_, asyncio.TimeoutError):
                    raise sa_exc.TimeoutError(
                        f"QueuePool limit of size {self.size()} overflow {self._max_overflow} "
                        f"reached, connection timed out, timeout {self._timeout:0.2f}"
                    ) from exc_
                raise
        try:
            return super()._do_get()
        except BaseException:
            turns.give()
            raise

    def _do_return_conn(self, record: Any) -> None:
        super()._do_return_conn(record)
        turns = self._turns
        if turns is not None:
            turns.give()


PG_POOL_OVERFLOW = 10  # connections a process may open past database_pool_size


def pg_pool_size(settings: Settings) -> int:
    """The connections a process keeps on PostgreSQL (``create_engine``)."""
    return settings.database_pool_size + PG_POOL_OVERFLOW


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


@asynccontextmanager
async def session_scope(maker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One transaction for a job or a CLI command: commit on success, else roll back."""
    async with maker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


async def lock_for_update(session: AsyncSession, stmt: Any) -> Any:
    """Run a SELECT that locks its rows until the transaction ends.

    PostgreSQL: ``SELECT … FOR NO KEY UPDATE``: the rows are changed, never
    their keys nor deleted, so the lock need not conflict with the ``KEY
    SHARE`` locks that other transactions' foreign-key checks take (a case
    filed under an implementation while an administrator edits it: with ``FOR
    UPDATE`` the two deadlocked on the audit chain head). SQLite: take the
    database write lock first (``BEGIN IMMEDIATE``), which serialises every
    check-then-act.

    Both: the rows are read again into any object the session already holds
    (``populate_existing``): one loaded before the lock was granted (an access
    check) would otherwise keep the values another transaction has since
    changed — two drafts saved at once both took version n + 1.
    """
    stmt = stmt.execution_options(populate_existing=True)
    if session.bind.dialect.name == "sqlite":
        conn = await session.connection()
        raw = await conn.get_raw_connection()
        from tongban.core.sqlite_inline import ensure_write_transaction

        await conn.run_sync(lambda _c: ensure_write_transaction(raw.dbapi_connection))
        return await session.execute(stmt)
    return await session.execute(stmt.with_for_update(key_share=True))


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(select(1))
