"""``core.db.FairQueuePool``: waiting checkouts are served in arrival order.

The pool PostgreSQL engines use (``create_engine``). Tested here on the
test database's own driver (SQLite's inline driver, or asyncpg when the run
is on PostgreSQL) with two connections, so that waiting is certain.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool

from tongban.core.db import FairQueuePool, async_url, create_engine
from tongban.core.settings import Settings


def _engine(settings: Settings, poolclass: Any = FairQueuePool, **kw: Any) -> Any:
    kw.setdefault("pool_timeout", 5)
    return create_async_engine(
        async_url(settings.effective_database_url),
        poolclass=poolclass,
        pool_size=2,
        max_overflow=0,
        **kw,
    )


async def _until(cond: Any) -> None:
    for _ in range(500):
        if cond():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("condition not reached")


async def _arrival_order(engine: Any) -> list[str]:
    """Two holders; three waiters queue in turn; each time a holder returns
    its connection a newcomer is ready to run. The order the rest got theirs."""
    got: list[str] = []
    held = [await engine.connect(), await engine.connect()]
    release: dict[str, asyncio.Event] = {}

    async def user(name: str) -> None:
        conn = await engine.connect()
        release[name] = asyncio.Event()
        got.append(name)
        assert (await conn.execute(text("SELECT 1"))).scalar() == 1
        await release[name].wait()
        await conn.close()

    tasks = []
    for name in ("w1", "w2", "w3"):
        tasks.append(asyncio.create_task(user(name)))
        await asyncio.sleep(0.02)  # queued, in this order
    assert got == []
    for n in (1, 2):
        # a newcomer about to run as the connection comes back (a request
        # already under way, in the server)
        tasks.append(asyncio.create_task(user(f"n{n}")))
        await held.pop(0).close()
        await _until(lambda n=n: len(got) == n)
    for _ in range(3):
        first = next(n for n in got if n in release and not release[n].is_set())
        release[first].set()
        await _until(lambda: len(got) == len([r for r in release.values() if r.is_set()]) + 2)
    for r in release.values():
        r.set()
    await asyncio.gather(*tasks)
    return got


async def test_waiting_checkouts_are_served_in_arrival_order(settings: Settings) -> None:
    engine = _engine(settings)
    try:
        assert await _arrival_order(engine) == ["w1", "w2", "w3", "n1", "n2"]
        assert engine.sync_engine.pool._turns.free == 2  # every turn given back
    finally:
        await engine.dispose()


async def test_sqlalchemys_own_pool_lets_a_newcomer_go_first(settings: Settings) -> None:
    """Why the class exists: the same sequence on SQLAlchemy's pool."""
    engine = _engine(settings, poolclass=AsyncAdaptedQueuePool)
    try:
        assert await _arrival_order(engine) != ["w1", "w2", "w3", "n1", "n2"]
    finally:
        await engine.dispose()


async def test_a_wait_that_times_out_gives_sqlalchemys_error_and_loses_no_turn(
    settings: Settings,
) -> None:
    engine = _engine(settings, pool_timeout=0.1)
    try:
        a, b = await engine.connect(), await engine.connect()
        with pytest.raises(sa_exc.TimeoutError, match="QueuePool limit of size 2"):
            await engine.connect()
        await a.close()
        await b.close()
        pool = engine.sync_engine.pool
        assert pool._turns.free == 2 and not pool._turns.waiters
        c, d = await engine.connect(), await engine.connect()  # both at once, no wait
        await c.close()
        await d.close()
    finally:
        await engine.dispose()


async def test_a_cancelled_waiter_passes_its_turn_on(settings: Settings) -> None:
    engine = _engine(settings)
    try:
        a, b = await engine.connect(), await engine.connect()

        async def connect() -> Any:
            return await engine.connect()

        gone = asyncio.create_task(connect())
        await asyncio.sleep(0.02)
        nxt = asyncio.create_task(connect())
        await asyncio.sleep(0.02)
        gone.cancel()
        with pytest.raises(asyncio.CancelledError):
            await gone
        await a.close()
        c = await asyncio.wait_for(nxt, 2)  # the cancelled waiter took nothing
        await b.close()
        await c.close()
        assert engine.sync_engine.pool._turns.free == 2
    finally:
        await engine.dispose()


def test_postgresql_engines_use_the_fair_pool(settings: Settings) -> None:
    engine = create_engine(settings.model_copy(update={"database_url": "postgresql://u@h/db"}))
    assert isinstance(engine.sync_engine.pool, FairQueuePool)
    assert engine.sync_engine.pool.size() == settings.database_pool_size + 10
    # its log lines stay SQLAlchemy's (WARNING and up), not INFO under tongban.*
    assert engine.sync_engine.pool.logger.name == "sqlalchemy.pool.impl.AsyncAdaptedQueuePool"
