"""核验记录: every verification is logged, in batches.

Verification is the platform's busiest public call (every venue, bank and
department that scans a licence), and on SQLite one write transaction per
verification would queue every request behind the file's write lock. So the
rows are gathered in memory and written by one background task per database,
one multi-row INSERT at most ``licence_verify_log_batch_ms`` apart (and as soon
as ``MAX_BATCH`` rows wait). A crash loses at most that window of log rows —
never a licence change, which is always in the request's own transaction.
``close()`` (called when the app stops) writes what is left. With
``licence_verify_log_batch_ms = 0`` each row is written in the request's own
transaction instead.

Rows wait as plain tuples (``COLUMNS``) and are written through the pooled
connection's driver — ``COPY`` on PostgreSQL, one ``executemany`` on SQLite —
in the writer's own transaction: the ORM's bulk insert cost ~20 µs a row.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tongban.core.sqlite_inline import bind_datetime

log = logging.getLogger("tongban.licences")

MAX_BATCH = 500
MAX_PENDING = (
    50_000  # beyond this (database down for long) the oldest rows are dropped, and counted
)


# the columns of a waiting row, in order (``VerificationLog``'s, but its id)
COLUMNS = ("licence_id", "identifier", "channel", "requester", "ip", "result", "region_code", "at")
_INSERT_SQLITE = (
    f"INSERT INTO licence_verification ({', '.join(COLUMNS)}) "  # noqa: S608 - constant names
    f"VALUES ({', '.join('?' * len(COLUMNS))})"
)


class Recorder:
    def __init__(self, maker: async_sessionmaker[AsyncSession], interval: float) -> None:
        self.maker = maker
        self.interval = interval
        self.rows: list[tuple[Any, ...]] = []
        self.dropped = 0
        self.written = 0
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._flush_lock = asyncio.Lock()

    def add(self, row: dict[str, Any] | tuple[Any, ...]) -> None:
        """Queue one row: a tuple in ``COLUMNS`` order (or a dict of them); ``at`` an aware datetime."""
        if isinstance(row, dict):
            row = tuple(row[c] for c in COLUMNS)
        self.rows.append(row)
        if len(self.rows) > MAX_PENDING:
            over = len(self.rows) - MAX_PENDING
            del self.rows[:over]
            self.dropped += over
        if len(self.rows) >= MAX_BATCH:
            self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="licence-verify-log"
            )

    async def _run(self) -> None:
        while self.rows:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.interval)
            self._wake.clear()
            try:
                await self.flush()
            except Exception:
                log.exception("could not write verification log rows; retrying")
                await asyncio.sleep(max(self.interval, 1.0))

    async def flush(self) -> int:
        async with self._flush_lock:
            rows, self.rows = self.rows, []
            if not rows:
                return 0
            try:
                async with self.maker() as session:
                    await _write(session, rows)
                    await session.commit()
            except BaseException:
                self.rows[:0] = rows  # keep them for the next try
                raise
            self.written += len(rows)
            return len(rows)

    async def close(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        try:
            await self.flush()
        except Exception:
            log.exception("verification log rows lost at shutdown: %d", len(self.rows))


async def _write(session: AsyncSession, rows: list[tuple[Any, ...]]) -> None:
    """The rows in the session's transaction, through its connection's driver."""
    conn = await session.connection()
    if conn.dialect.name == "postgresql":
        apg = (await conn.get_raw_connection()).driver_connection
        await apg.copy_records_to_table("licence_verification", records=rows, columns=COLUMNS)
    else:
        last = len(COLUMNS) - 1
        for i in range(0, len(rows), MAX_BATCH):
            await conn.exec_driver_sql(
                _INSERT_SQLITE,
                [(*r[:last], bind_datetime(r[last])) for r in rows[i : i + MAX_BATCH]],
            )


_recorders: weakref.WeakKeyDictionary[Any, Recorder] = weakref.WeakKeyDictionary()


def recorder(maker: async_sessionmaker[AsyncSession], interval_ms: int) -> Recorder:
    got = _recorders.get(maker)
    if got is None:
        got = _recorders[maker] = Recorder(maker, interval_ms / 1000)
    return got


async def close_all() -> None:
    """Write every pending row (the app's shutdown)."""
    for rec in list(_recorders.values()):
        await rec.close()
