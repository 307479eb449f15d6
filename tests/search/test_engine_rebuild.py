"""The index rebuilds in the background when the version moves, but never
sooner after a build than REBUILD_GAP times that build's duration."""

from __future__ import annotations

import time

from tongban.search import engine as search_engine
from tongban.search import repository


async def test_rebuilds_are_spaced_by_the_last_build(sessionmaker_) -> None:
    eng = search_engine.SearchEngine(sessionmaker_, check_seconds=0)
    first = await eng.build()
    async with sessionmaker_() as s:
        await repository.bump_version(s)
        await s.commit()

    eng.build_seconds = 10.0  # as if the build had taken 10 s: no rebuild for 30 s
    eng.built_at = time.monotonic() - 29
    assert await eng.current() is first
    assert eng._rebuild is None

    eng.built_at = time.monotonic() - 31
    assert await eng.current() is first  # answered from the old snapshot meanwhile
    assert eng._rebuild is not None
    await eng._rebuild
    assert eng.snapshot is not first and eng.snapshot.version == first.version + 1


async def test_concurrent_first_searches_build_once(sessionmaker_) -> None:
    import asyncio

    eng = search_engine.SearchEngine(sessionmaker_)
    builds = 0
    real_build = eng.build

    async def counting_build():
        nonlocal builds
        builds += 1
        return await real_build()

    eng.build = counting_build  # type: ignore[method-assign]
    snaps = await asyncio.gather(*(eng.current() for _ in range(8)))
    assert builds == 1
    assert all(s is snaps[0] for s in snaps)
