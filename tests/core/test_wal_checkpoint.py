"""SQLite WAL checkpoints in a thread of the web process
(``core.db.WalCheckpointer``): the engine's connections stop checkpointing
inside commits, the thread copies the log into the database, a final
checkpoint runs on stop, and nothing written is lost."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from sqlalchemy import text

from tests.core.test_sqlite_inline import ticks_while
from tongban.core.db import create_engine, make_sessionmaker, wal_checkpointer
from tongban.core.settings import Settings


async def _write(maker, rows: int) -> None:
    async with maker() as s:
        for n in range(rows):
            await s.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": "x" * 2000 + str(n)})
        await s.commit()


def _checkpointed(tmp_path: Path, seconds: float):
    """An engine on ``t.db`` with its background checkpointer (not started)."""
    settings = Settings(
        data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 't.db'}",
        sqlite_checkpoint_seconds=seconds,
    )  # fmt: skip
    engine = create_engine(settings, background_checkpoint=True)
    checkpointer = wal_checkpointer(engine)
    assert checkpointer is not None
    return engine, checkpointer, make_sessionmaker(engine)


async def test_background_checkpoints(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    engine, checkpointer, maker = _checkpointed(tmp_path, 0.05)
    async with maker() as s:
        assert (await s.execute(text("PRAGMA wal_autocheckpoint"))).scalar() == 0
        await s.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
        await s.commit()
    await _write(maker, 3000)  # ~1,500 pages: past SQLite's own 1,000-page threshold
    assert (
        checkpointer.runs == 0 and checkpointer.frames == 0
    )  # nothing checkpointed in the commits

    checkpointer.start()
    deadline = time.monotonic() + 10
    while checkpointer.frames == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert checkpointer.frames > 1000
    # runs on an idle log count nothing more: the frames of the log, once
    runs = checkpointer.runs
    while checkpointer.runs < runs + 5 and time.monotonic() < deadline + 10:
        time.sleep(0.02)
    con = sqlite3.connect(path)
    try:
        _busy, log, done = con.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    finally:
        con.close()
    assert checkpointer.frames == log == done
    await _write(maker, 10)
    await engine.dispose()
    checkpointer.stop()
    con = sqlite3.connect(path)
    try:
        assert con.execute("SELECT count(*) FROM t").fetchone() == (3010,)
        busy, log, done = con.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        assert (busy, log - done) == (0, 0)  # the final checkpoint left nothing behind
    finally:
        con.close()


async def test_off_by_setting_and_outside_the_web_process(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    for settings, background in [
        (
            Settings(
                data_dir=tmp_path, database_url=f"sqlite:///{path}", sqlite_checkpoint_seconds=0
            ),
            True,
        ),
        (
            Settings(data_dir=tmp_path, database_url=f"sqlite:///{path}"),
            False,
        ),  # CLI, worker, tests
    ]:
        engine = create_engine(settings, background_checkpoint=background)
        assert wal_checkpointer(engine) is None
        async with make_sessionmaker(engine)() as s:
            assert (await s.execute(text("PRAGMA wal_autocheckpoint"))).scalar() == 1000
        await engine.dispose()


async def test_the_log_restarts_under_steady_writes(tmp_path: Path) -> None:
    """Writes that never stop: each time the log reaches ``restart_frames`` the
    thread copies all of it, the last frames with the writers held off, so the
    next writer starts the log again; nothing is lost and the event loop keeps
    running (a writer waits for the lock in a thread)."""
    import asyncio
    import os

    path = tmp_path / "t.db"
    engine, checkpointer, maker = _checkpointed(tmp_path, 0.02)
    checkpointer.restart_frames = 300
    async with maker() as s:
        await s.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
        await s.commit()
    checkpointer.start()
    biggest = 0

    async def writes() -> None:
        nonlocal biggest
        for _ in range(300):  # back-to-back commits of 8 rows (~5 pages) each
            await _write(maker, 8)
            await asyncio.sleep(0)
            biggest = max(biggest, os.path.getsize(str(path) + "-wal"))

    started = time.monotonic()
    ticks, _ = await ticks_while(writes(), every=0.002)
    elapsed = time.monotonic() - started
    await engine.dispose()
    checkpointer.stop()
    assert checkpointer.catch_ups >= 2 and checkpointer.restarts >= 2, vars(checkpointer)
    assert 0 < checkpointer.longest_hold < 1.0
    # bounded: the threshold, plus what the writers append while a pass runs
    # (a slow or busy host: up to ~930 frames seen); never restarted, the 300
    # commits would leave ~1,500 frames
    assert biggest < 4120 * 300 * 4, biggest
    assert ticks > elapsed / 0.002 / 4, (ticks, elapsed)
    con = sqlite3.connect(path)
    try:
        assert con.execute("SELECT count(*) FROM t").fetchone() == (2400,)
    finally:
        con.close()
