"""The inline SQLite driver: serialised check-then-act, savepoints, rollback, two loops."""

from __future__ import annotations

import asyncio
import threading

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
