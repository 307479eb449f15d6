"""The inline SQLite driver: serialised check-then-act, savepoints, rollback, two
loops, writers in other processes."""

from __future__ import annotations

import asyncio
import fcntl
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from tongban.core.db import create_engine, lock_for_update, make_sessionmaker
from tongban.core.settings import Settings


@pytest.fixture
def sqlite_settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path}/t.db")


async def _setup(maker) -> None:
    async with maker() as s:
        await s.execute(text("CREATE TABLE counter (id INTEGER PRIMARY KEY, v INTEGER)"))
        await s.execute(text("INSERT INTO counter VALUES (1, 0)"))
        await s.commit()


async def _increment(maker, n: int) -> None:
    async def one() -> None:
        async with maker() as s:
            v = (await lock_for_update(s, text("SELECT v FROM counter WHERE id = 1"))).scalar()
            await asyncio.sleep(0)  # give every other coroutine a turn mid-transaction
            await s.execute(text("UPDATE counter SET v = :v WHERE id = 1"), {"v": v + 1})
            await s.commit()

    await asyncio.gather(*(one() for _ in range(n)))


async def test_check_then_act_is_serialised(sqlite_settings: Settings) -> None:
    engine = create_engine(sqlite_settings)
    maker = make_sessionmaker(engine)
    await _setup(maker)
    await _increment(maker, 100)
    async with maker() as s:
        assert (await s.execute(text("SELECT v FROM counter"))).scalar() == 100
    await engine.dispose()


async def test_rollback_and_savepoint(sqlite_settings: Settings) -> None:
    engine = create_engine(sqlite_settings)
    maker = make_sessionmaker(engine)
    await _setup(maker)
    async with maker() as s:
        await s.execute(text("INSERT INTO counter VALUES (2, 2)"))
        await s.rollback()
        with pytest.raises(Exception, match="UNIQUE"):
            async with s.begin_nested():
                await s.execute(text("INSERT INTO counter VALUES (3, 3)"))
                await s.execute(text("INSERT INTO counter VALUES (3, 4)"))
        await s.execute(text("INSERT INTO counter VALUES (4, 4)"))
        await s.commit()
        assert (await s.execute(text("SELECT id FROM counter ORDER BY id"))).scalars().all() == [
            1,
            4,
        ]
    await engine.dispose()


def test_two_event_loops_in_one_process(sqlite_settings: Settings) -> None:
    """Writers on another thread's loop wait in SQLite's busy handler, not on this loop's lock."""

    async def run_in_loop() -> None:
        engine = create_engine(sqlite_settings)
        try:
            await _increment(make_sessionmaker(engine), 50)
        finally:
            await engine.dispose()

    async def setup() -> None:
        engine = create_engine(sqlite_settings)
        await _setup(make_sessionmaker(engine))
        await engine.dispose()

    asyncio.run(setup())
    errors: list[BaseException] = []

    def thread_main() -> None:
        try:
            asyncio.run(run_in_loop())
        except BaseException as e:  # surfaced below
            errors.append(e)

    threads = [threading.Thread(target=thread_main) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert not any(t.is_alive() for t in threads)

    async def read() -> int:
        engine = create_engine(sqlite_settings)
        async with make_sessionmaker(engine)() as s:
            v = (await s.execute(text("SELECT v FROM counter"))).scalar()
        await engine.dispose()
        return v

    assert asyncio.run(read()) == 100


# --- writers in other processes (flock on <database>-writelock) ------------------------------

_HOLDER = """
import fcntl, os, sqlite3, sys, time
path, seconds = sys.argv[1], float(sys.argv[2])
fd = os.open(path + "-writelock", os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)            # as the platform's writers do
db = sqlite3.connect(path, isolation_level=None)
db.execute("BEGIN IMMEDIATE")             # SQLite's own write lock too
db.execute("UPDATE counter SET v = v + 1000 WHERE id = 1")
print("held", flush=True)
time.sleep(seconds)
db.execute("COMMIT")
fcntl.flock(fd, fcntl.LOCK_UN)
print("released", flush=True)
"""


def _hold(path: str, seconds: float) -> subprocess.Popen:
    p = subprocess.Popen(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", _HOLDER, path, str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert p.stdout is not None and p.stdout.readline().strip() == "held"
    return p


async def ticks_while(coro, every: float = 0.005) -> tuple[int, object]:
    """How often a ticker of period ``every`` ran on this loop while ``coro``
    ran (a loop stalled by a wait does not tick)."""
    ticks = 0
    done = False

    async def ticker() -> None:
        nonlocal ticks
        while not done:
            await asyncio.sleep(every)
            ticks += 1

    t = asyncio.create_task(ticker())
    try:
        result = await coro
    finally:
        done = True
        await t
    return ticks, result


async def test_a_writer_of_another_process_does_not_stall_the_loop(
    sqlite_settings: Settings, tmp_path
) -> None:
    engine = create_engine(sqlite_settings)
    maker = make_sessionmaker(engine)
    await _setup(maker)
    holder = _hold(str(tmp_path / "t.db"), 0.6)
    try:
        # the write waits ~0.6 s for the other process; the loop serves others meanwhile
        # (waiting in SQLite's busy handler instead, the ticker would not run at all)
        ticks, _ = await ticks_while(_increment(maker, 3))
    finally:
        assert holder.wait(timeout=30) == 0
    assert ticks >= 30, ticks
    async with maker() as s:
        assert (await s.execute(text("SELECT v FROM counter"))).scalar() == 1003
    await engine.dispose()


async def test_a_cancelled_wait_leaves_the_lock_free(sqlite_settings: Settings, tmp_path) -> None:
    from tongban.core.sqlite_inline import lock_file_path

    engine = create_engine(sqlite_settings)
    maker = make_sessionmaker(engine)
    await _setup(maker)
    path = str(tmp_path / "t.db")
    holder = _hold(path, 0.4)
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(_increment(maker, 1), timeout=0.1)
    assert holder.wait(timeout=30) == 0
    await _increment(maker, 2)  # the connections write again
    await asyncio.sleep(0.1)  # the cancelled wait's thread got the lock and closed it
    fd = os.open(lock_file_path(path), os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # nobody holds it now
    finally:
        os.close(fd)
    async with maker() as s:
        assert (await s.execute(text("SELECT v FROM counter"))).scalar() == 1002
    await engine.dispose()


_WRITER = """
import asyncio, sys
sys.path[:0] = [sys.argv[3]]
from tests.core.test_sqlite_inline import _increment
from tongban.core.db import create_engine, make_sessionmaker
from tongban.core.settings import Settings

async def main():
    engine = create_engine(Settings(data_dir=sys.argv[1], database_url=f"sqlite:///{sys.argv[1]}/t.db"))
    await _increment(make_sessionmaker(engine), int(sys.argv[2]))
    await engine.dispose()

asyncio.run(main())
"""


async def test_two_processes_write_at_once_and_lose_nothing(
    sqlite_settings: Settings, tmp_path
) -> None:
    engine = create_engine(sqlite_settings)
    await _setup(make_sessionmaker(engine))
    root = str(Path(__file__).resolve().parents[2])
    procs = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path), "150", root])  # noqa: S603
        for _ in range(3)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    async with make_sessionmaker(engine)() as s:
        assert (await s.execute(text("SELECT v FROM counter"))).scalar() == 450
    await engine.dispose()
