"""Raw-driver loops that measure a workload's database ceiling.

SQLite: the standard ``sqlite3`` module on one connection, with the pragmas
the product sets (WAL, the configured ``synchronous``), one operation after
another: the most a single process can get from the file, which is also how
the product drives it (one event-loop thread).

PostgreSQL: an ``asyncpg`` pool of ``clients`` connections with ``clients``
tasks, each running the operation back to back: the most the cluster gives
the same concurrency without HTTP, validation or an ORM in between.

An operation function receives the connection and a running counter (use it
to pick among the clients' identities) and does one unit of the workload's
database work, including its transaction.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bench.client import percentile_ms
from bench.workloads import Ceiling, Context


def pg_sql(sql: str) -> str:
    """Queries are written once with ``?`` placeholders; asyncpg wants
    ``$1, $2, …`` (no ``?`` may appear inside literals)."""
    parts = sql.split("?")
    return "".join(p + (f"${i + 1}" if i < len(parts) - 1 else "") for i, p in enumerate(parts))


def sqlite_ts(t: dt.datetime) -> str:
    """A UTC datetime as SQLAlchemy stores it in SQLite (naive UTC text)."""
    return t.astimezone(dt.UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def sqlite_connect(ctx: Context) -> sqlite3.Connection:
    """A connection configured as the product configures its own (autocommit
    mode: operations issue their own BEGIN/COMMIT)."""
    conn = sqlite3.connect(ctx.sqlite_path, isolation_level=None, check_same_thread=False)
    sync = ctx.env.get("TONGBAN_SQLITE_SYNCHRONOUS", "NORMAL")
    for pragma in (
        "journal_mode=WAL",
        f"synchronous={sync}",
        "foreign_keys=ON",
        "busy_timeout=10000",
        "cache_size=-32000",
        "temp_store=MEMORY",
    ):
        conn.execute(f"PRAGMA {pragma}")
    return conn


def sqlite_loop(
    ctx: Context,
    op: Callable[[sqlite3.Connection, int], Any],
    seconds: float,
    *,
    what: str = "",
    warmup: float = 0.5,
) -> Ceiling:
    conn = sqlite_connect(ctx)
    try:
        clock = time.perf_counter_ns
        end_warm = clock() + int(warmup * 1e9)
        i = 0
        while clock() < end_warm:
            op(conn, i)
            i += 1
        lat: list[int] = []
        start = clock()
        deadline = start + int(seconds * 1e9)
        t0 = start
        while t0 < deadline:
            op(conn, i)
            i += 1
            t1 = clock()
            lat.append(t1 - t0)
            t0 = t1
        elapsed = (t0 - start) / 1e9
    finally:
        conn.close()
    return Ceiling(
        ops_per_s=len(lat) / elapsed,
        ops=len(lat),
        p50_ms=percentile_ms(lat, 50),
        p99_ms=percentile_ms(lat, 99),
        what=what,
    )


async def pg_loop(
    ctx: Context,
    op: Callable[[Any, int], Awaitable[Any]],
    clients: int,
    seconds: float,
    *,
    what: str = "",
    warmup: float = 0.5,
) -> Ceiling:
    import asyncpg

    pool = await asyncpg.create_pool(ctx.asyncpg_dsn, min_size=clients, max_size=clients)
    try:
        clock = time.perf_counter_ns
        start = clock()
        window = start + int(warmup * 1e9)
        deadline = window + int(seconds * 1e9)
        lat: list[int] = []
        counter = iter(range(1 << 62))

        async def task() -> None:
            async with pool.acquire() as conn:
                while True:
                    t0 = clock()
                    if t0 >= deadline:
                        return
                    await op(conn, next(counter))
                    t1 = clock()
                    if window <= t1 <= deadline:
                        lat.append(t1 - t0)

        await asyncio.gather(*(task() for _ in range(clients)))
    finally:
        await pool.close()
    return Ceiling(
        ops_per_s=len(lat) / seconds,
        ops=len(lat),
        p50_ms=percentile_ms(lat, 50),
        p99_ms=percentile_ms(lat, 99),
        what=what,
    )
