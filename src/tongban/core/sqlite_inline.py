"""SQLite for SQLAlchemy's asyncio engine, with the driver called inline.

Why: aiosqlite hops to a thread for every statement; measured on this machine
(STACK-NOTES) that path reached ~720 reads/s against ~1,900 for the standard
``sqlite3`` module called directly. SQLite work is microseconds long and never
waits on a network, so here the sqlite3 calls run directly inside SQLAlchemy's
greenlet, on the event-loop thread.

The price of running inline: a writer must never wait on SQLite's own lock
while the lock holder is a coroutine of this same loop (the wait would block
the loop, so the holder could never finish). So writes are serialised in
Python first: before its first writing statement a connection takes the
process-wide ``asyncio.Lock`` for its database file (a genuine ``await``, which
yields to other coroutines), then ``BEGIN IMMEDIATE``; the lock is released at
commit or rollback. Read-only work runs in autocommit (no BEGIN), so readers
never queue behind writers (WAL). ``busy_timeout`` still covers other
processes (a separate ``tongban worker``).

``ensure_write_transaction(conn)`` takes the write lock up front: SQLite's
equivalent of ``SELECT … FOR UPDATE`` for check-then-act code
(``core.db.lock_for_update``).

Several processes (``tongban serve`` with ``web_workers`` > 1, a separate
``tongban worker``) also queue outside SQLite: after the process's lock, a
writer takes an exclusive ``flock`` on ``<database>-writelock``. Free, that
is one system call; held by another process, the wait runs in a thread while
the event loop serves other requests. SQLite's busy handler, which would wait
on the loop's own thread (sleeping 1, 2, 5 … 100 ms at a time, every request
of the process stalled meanwhile), then never waits for another process of
the platform. Each connection has its own descriptor (``flock`` locks belong
to an open file, so a connection's lock excludes every other connection's).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import fcntl
import os
import re
import sqlite3
import weakref
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import pool
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import AdaptedConnection
from sqlalchemy.util.concurrency import await_

_UTC = dt.UTC
_fromisoformat = dt.datetime.fromisoformat

_READ_ONLY = re.compile(r"^\s*(SELECT|PRAGMA|EXPLAIN|VALUES)\b", re.IGNORECASE)
_WITH_WRITE = re.compile(r"\b(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)

# One lock per (event loop, database file). Coroutines of one loop must queue
# here, never inside SQLite (that would block their own loop). Another loop
# lives in another thread, so its writers can wait in SQLite's busy handler
# without blocking the holder: busy_timeout covers them, as it covers other
# processes.
_write_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def _lock_for(path: str) -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    locks = _write_locks.get(loop)
    if locks is None:
        locks = _write_locks[loop] = {}
    lock = locks.get(path)
    if lock is None:
        lock = locks[path] = asyncio.Lock()
    return lock


class _Ready:
    """An awaitable that completes at once. SQLAlchemy's asyncio layer checks
    that each execution switched greenlets; this satisfies it without giving
    the event loop a turn (~1 µs)."""

    __slots__ = ()

    def __await__(self) -> Any:
        return iter(())


_READY = _Ready()


def _is_write(sql: str) -> bool:
    if _READ_ONLY.match(sql):
        return False
    stripped = sql.lstrip()
    if stripped[:4].upper() == "WITH":
        return bool(_WITH_WRITE.search(sql))
    return True


class InlineCursor:
    """Runs statements inline and buffers result rows at once, so no SQLite
    statement stays open (an open statement would pin a read snapshot)."""

    __slots__ = ("_conn", "_cursor", "_rows", "arraysize", "description", "lastrowid", "rowcount")

    def __init__(self, conn: InlineConnection) -> None:
        self._conn = conn
        self._cursor = conn._raw.cursor()
        self._rows: deque[Any] = deque()
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.arraysize = 1

    def _prepare(self, sql: str) -> None:
        if not self._conn._writing and _is_write(sql):
            self._conn.begin_write()
        else:
            await_(_READY)

    def _collect(self) -> None:
        cur = self._cursor
        self.description = cur.description
        if cur.description:
            self._rows = deque(cur.fetchall())
        self.rowcount = cur.rowcount
        self.lastrowid = cur.lastrowid

    def execute(self, sql: str, parameters: Any = ()) -> Any:
        self._prepare(sql)
        self._cursor.execute(sql, parameters)
        self._collect()
        return self

    def executemany(self, sql: str, seq: Any) -> Any:
        self._prepare(sql)
        self._cursor.executemany(sql, seq)
        self._collect()
        return self

    def fetchone(self) -> Any:
        return self._rows.popleft() if self._rows else None

    def fetchmany(self, size: int | None = None) -> list[Any]:
        n = min(size or self.arraysize, len(self._rows))
        return [self._rows.popleft() for _ in range(n)]

    def fetchall(self) -> list[Any]:
        rows = list(self._rows)
        self._rows.clear()
        return rows

    def __iter__(self) -> Any:
        while self._rows:
            yield self._rows.popleft()

    async def _async_soft_close(self) -> None:
        return None

    def close(self) -> None:
        self._rows.clear()
        self._cursor.close()


def lock_file_path(path: str) -> str | None:
    """The file whose ``flock`` writers of ``path`` take, or None (in memory)."""
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    return path + "-writelock"


class InlineConnection(AdaptedConnection):
    __slots__ = ("_file_fd", "_file_locked", "_lock", "_path", "_raw", "_writing", "dbapi")

    def __init__(self, dbapi: Any, raw: sqlite3.Connection, path: str) -> None:
        self.dbapi = dbapi
        self._raw = raw
        self._connection = raw
        self._path = path
        self._lock: asyncio.Lock | None = None
        self._writing = False
        self._file_fd: int | None = None
        self._file_locked = False

    # -- write serialisation ---------------------------------------------
    def begin_write(self) -> None:
        if self._writing:
            return
        lock = _lock_for(self._path)
        await_(lock.acquire())
        try:
            if not self._try_file_lock():
                await_(self._wait_file_lock())
            self._raw.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._release_file_lock()
            lock.release()
            raise
        self._lock = lock
        self._writing = True

    def _end_write(self) -> None:
        if self._writing:
            self._writing = False
            self._release_file_lock()
            lock, self._lock = self._lock, None
            if lock is not None:
                lock.release()

    # -- the lock between processes (flock on <database>-writelock) ----------
    def _fd(self) -> int | None:
        if self._file_fd is None:
            name = lock_file_path(self._path)
            if name is None:
                return None
            self._file_fd = os.open(name, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        return self._file_fd

    def _try_file_lock(self) -> bool:
        """Take the lock if no other process holds it (True; also for a
        database in memory, which no other process sees)."""
        fd = self._fd()
        if fd is None:
            return True
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        self._file_locked = True
        return True

    async def _wait_file_lock(self) -> None:
        """Wait for another process's writer, in a thread: the loop goes on."""
        fd = self._fd()
        assert fd is not None
        pending = asyncio.get_running_loop().run_in_executor(None, fcntl.flock, fd, fcntl.LOCK_EX)
        try:
            await asyncio.shield(pending)
        except asyncio.CancelledError:
            # The thread still waits and will get the lock for this descriptor:
            # it is closed when that happens (closing releases the lock), and
            # the connection opens a new one for its next write.
            self._file_fd = None
            pending.add_done_callback(lambda _f: os.close(fd))
            raise
        self._file_locked = True

    def _release_file_lock(self) -> None:
        if self._file_locked:
            self._file_locked = False
            if self._file_fd is not None:
                fcntl.flock(self._file_fd, fcntl.LOCK_UN)

    # -- DBAPI surface ------------------------------------------------------
    def cursor(self, server_side: bool = False) -> InlineCursor:
        return InlineCursor(self)

    def execute(self, sql: str, parameters: Any = ()) -> Any:
        cur = self.cursor()
        cur.execute(sql, parameters)
        return cur

    def commit(self) -> None:
        try:
            if self._raw.in_transaction:
                self._raw.commit()
        finally:
            self._end_write()

    def rollback(self) -> None:
        try:
            if self._raw.in_transaction:
                self._raw.rollback()
        finally:
            self._end_write()

    def close(self) -> None:
        try:
            self.rollback()
        finally:
            self._raw.close()
            fd, self._file_fd = self._file_fd, None
            if fd is not None:
                os.close(fd)

    @property
    def isolation_level(self) -> Any:
        return self._raw.isolation_level

    @isolation_level.setter
    def isolation_level(self, value: Any) -> None:
        # Transactions are managed here (autocommit reads, BEGIN IMMEDIATE for
        # writes); the driver's own implicit BEGIN stays off.
        self._raw.isolation_level = None

    def create_function(self, *args: Any, **kw: Any) -> None:
        self._raw.create_function(*args, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


class InlineDBAPI:
    """Module-like object SQLAlchemy treats as the DBAPI."""

    paramstyle = "qmark"

    def __init__(self) -> None:
        for name in (
            "DatabaseError",
            "Error",
            "IntegrityError",
            "NotSupportedError",
            "OperationalError",
            "ProgrammingError",
            "InterfaceError",
            "InternalError",
            "DataError",
            "Warning",
            "sqlite_version",
            "sqlite_version_info",
            "PARSE_COLNAMES",
            "PARSE_DECLTYPES",
            "Binary",
        ):
            setattr(self, name, getattr(sqlite3, name))
        self.sqlite = sqlite3

    def connect(self, database: str, **kw: Any) -> InlineConnection:
        kw.pop("async_creator_fn", None)
        kw["check_same_thread"] = False
        kw["isolation_level"] = None
        raw = sqlite3.connect(database, **kw)
        return InlineConnection(self, raw, database)


class SQLiteDialect_inline(SQLiteDialect_pysqlite):
    driver = "inline"
    is_async = True
    supports_statement_cache = True
    supports_server_side_cursors = False

    @classmethod
    def import_dbapi(cls) -> Any:
        return InlineDBAPI()

    @classmethod
    def get_pool_class(cls, url: Any) -> type[pool.Pool]:
        return pool.AsyncAdaptedQueuePool

    def get_driver_connection(self, connection: Any) -> Any:
        return connection._raw

    def set_isolation_level(self, dbapi_connection: Any, level: Any) -> None:
        # Isolation is fixed by design: SERIALIZABLE writes via the write lock.
        return None

    def get_isolation_level(self, dbapi_connection: Any) -> str:
        return "SERIALIZABLE"

    def do_begin(self, dbapi_connection: Any) -> None:
        return None

    def do_commit(self, dbapi_connection: Any) -> None:
        dbapi_connection.commit()

    def do_rollback(self, dbapi_connection: Any) -> None:
        dbapi_connection.rollback()

    def do_savepoint(self, connection: Any, name: str) -> None:
        connection.connection.dbapi_connection.begin_write()
        super().do_savepoint(connection, name)


def ensure_write_transaction(dbapi_connection: Any) -> None:
    if isinstance(dbapi_connection, InlineConnection):
        dbapi_connection.begin_write()


# -- raw statements on a pooled connection (hot read paths) ----------------------
#
# A hot path may skip SQLAlchemy's execution layer and run its statements on
# the driver connection of a pooled connection. Such statements are written
# once in PostgreSQL's numbered style ($1, $2 …) and converted here; values
# are bound and read the way SQLAlchemy's SQLite types store them.

_NUMBERED = re.compile(r"\$(\d+)")


def numbered_params(sql: str) -> str:
    """``$1``-style placeholders (asyncpg) as SQLite's ``?1``."""
    return _NUMBERED.sub(r"?\1", sql)


def bind_datetime(value: Any) -> str:
    """An aware datetime as SQLAlchemy stores it in SQLite (naive UTC text,
    fixed width, so text comparison is time order)."""
    v = value.astimezone(_UTC)
    return "%04d-%02d-%02d %02d:%02d:%02d.%06d" % (  # noqa: UP031 - SQLAlchemy's storage format
        v.year, v.month, v.day, v.hour, v.minute, v.second, v.microsecond)  # fmt: skip


def read_datetime(value: str | None) -> Any:
    """A stored datetime as ``core.db.UTCDateTime`` returns it: aware, UTC."""
    if value is None:
        return None
    return _fromisoformat(value).replace(tzinfo=_UTC)


async def execute_write(dbapi_connection: InlineConnection, sql: str, parameters: Any = ()) -> int:
    """One writing statement in a transaction of its own, from plain async
    code (no greenlet): the write lock of the database file is awaited, then
    ``BEGIN IMMEDIATE`` … ``COMMIT``, as ``begin_write`` does for SQLAlchemy.
    Returns the number of rows changed."""
    async with write_transaction(dbapi_connection) as raw:
        return raw.execute(sql, parameters).rowcount


@contextlib.asynccontextmanager
async def write_transaction(
    dbapi_connection: InlineConnection,
) -> AsyncIterator[sqlite3.Connection]:
    """Several writing statements in one transaction from plain async code (no
    greenlet): the write lock of the database file is awaited, then ``BEGIN
    IMMEDIATE``; yields the ``sqlite3`` connection; ``COMMIT`` when the block
    ends, rollback when it raised (as ``execute_write``, for a hot write path:
    ``cases.submit_hot``)."""
    if dbapi_connection._writing:
        raise RuntimeError("write_transaction on a connection inside a write transaction")
    raw = dbapi_connection._raw
    async with _lock_for(dbapi_connection._path):
        if not dbapi_connection._try_file_lock():
            await dbapi_connection._wait_file_lock()
        try:
            raw.execute("BEGIN IMMEDIATE")
            try:
                yield raw
                raw.execute("COMMIT")
            except BaseException:
                if raw.in_transaction:
                    raw.rollback()
                raise
        finally:
            dbapi_connection._release_file_lock()


dialect = SQLiteDialect_inline
