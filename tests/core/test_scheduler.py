"""Scheduled jobs: one leader at a time, takeover after its lease lapses, jobs
at their interval, failures recorded without stopping the worker."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tongban.core import scheduler
from tongban.core.clock import freeze, now
from tongban.core.db import create_engine, make_sessionmaker
from tongban.core.outbox import JobRun, SchedulerLease
from tongban.core.scheduler import LEADER_LEASE, LeaderLease, Schedule, run_due_jobs
from tongban.core.settings import Settings
from tongban.core.worker import run_worker, worker_id_var

UTC = dt.UTC
T0 = dt.datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 Monday in Asia/Shanghai

JobFn = Callable[[AsyncSession], Awaitable[None]]


def unique(prefix: str = "test") -> str:
    return f"{prefix}.{uuid.uuid4().hex[:12]}"


def tuned(settings: Settings, **changes: Any) -> Settings:
    return settings.model_copy(update=changes)


@pytest.fixture
def job() -> Iterator[Callable[..., str]]:
    """Register test jobs in an otherwise empty registry (the domains' own jobs,
    registered when an app was created earlier in the run, are set aside)."""
    names: list[str] = []
    saved = dict(scheduler._jobs)
    scheduler._jobs.clear()

    def add(fn: JobFn, every: dt.timedelta | str, name: str | None = None) -> str:
        name = name or unique()
        scheduler.scheduled(name, every=every)(fn)
        names.append(name)
        return name

    yield add
    for name in names:
        scheduler.unregister(name)
    scheduler._jobs.update(saved)


@pytest.fixture
async def runs(sessionmaker_) -> AsyncIterator[Table]:
    """A table where test jobs note each run: which worker, when it started and ended."""
    md = MetaData()
    table = Table(
        f"test_run_{uuid.uuid4().hex[:8]}",
        md,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("job", String(100), nullable=False),
        Column("worker", String(100), nullable=False),
        Column("started", DateTime(timezone=True), nullable=False),
        Column("ended", DateTime(timezone=True), nullable=False),
    )
    engine = sessionmaker_.kw["bind"]
    async with engine.begin() as conn:
        await conn.run_sync(md.create_all)
    yield table
    async with engine.begin() as conn:
        await conn.run_sync(md.drop_all)


def noting(table: Table, name: str, *, seconds: float = 0.0) -> JobFn:
    async def fn(session: AsyncSession) -> None:
        started = dt.datetime.now(UTC)
        if seconds:
            await asyncio.sleep(seconds)
        await session.execute(
            insert(table).values(
                job=name, worker=worker_id_var.get(), started=started, ended=dt.datetime.now(UTC)
            )
        )

    return fn


async def job_run(maker: async_sessionmaker[AsyncSession], name: str) -> JobRun | None:
    async with maker() as s:
        return (await s.execute(select(JobRun).where(JobRun.name == name))).scalar_one_or_none()


async def lease_row(maker: async_sessionmaker[AsyncSession]) -> SchedulerLease | None:
    async with maker() as s:
        return (
            await s.execute(select(SchedulerLease).where(SchedulerLease.name == LEADER_LEASE))
        ).scalar_one_or_none()


async def wait_until(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


# --- schedules: pure --------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "at", "last_point"),
    [
        # Asia/Shanghai is UTC+8: 09:00 local Monday = 01:00 UTC.
        ("daily 02:30", T0, dt.datetime(2026, 3, 1, 18, 30, tzinfo=UTC)),  # today 02:30 local
        ("daily 09:00", T0, T0),  # exactly at the point
        ("daily 09:01", T0, dt.datetime(2026, 3, 1, 1, 1, tzinfo=UTC)),  # yesterday's
        ("hourly :15", T0, dt.datetime(2026, 3, 2, 0, 15, tzinfo=UTC)),
        ("hourly 0", T0, T0),
        ("mon 08:00", T0, dt.datetime(2026, 3, 2, 0, 0, tzinfo=UTC)),  # this Monday
        ("mon 10:00", T0, dt.datetime(2026, 2, 23, 2, 0, tzinfo=UTC)),  # last Monday
        ("sun 23:00", T0, dt.datetime(2026, 3, 1, 15, 0, tzinfo=UTC)),  # yesterday
        ("FRI 00:00", T0, dt.datetime(2026, 2, 26, 16, 0, tzinfo=UTC)),
    ],
)
def test_wall_clock_schedules(spec: str, at: dt.datetime, last_point: dt.datetime) -> None:
    sched = Schedule.parse(spec)
    assert sched.last_point(at, "Asia/Shanghai") == last_point
    assert sched.threshold(at, "Asia/Shanghai") < last_point


@pytest.mark.parametrize(
    "spec", ["daily", "daily 24:00", "hourly :60", "every day", "mon 9", "", "tues 01:00"]
)
def test_bad_schedules_are_refused_at_registration(spec: str) -> None:
    with pytest.raises(ValueError):
        scheduler.scheduled(unique(), every=spec)
    with pytest.raises(ValueError):
        scheduler.scheduled(unique(), every=dt.timedelta(0))


# --- the leader lease ---------------------------------------------------------------


async def test_lease_is_held_by_one_and_taken_over_after_expiry(sessionmaker_, settings):
    engine_b = create_engine(settings)
    try:
        a = LeaderLease(sessionmaker_, holder="a", seconds=30)
        b = LeaderLease(make_sessionmaker(engine_b), holder="b", seconds=30)
        with freeze(T0):
            assert await a.acquire()
            assert not await b.acquire()
            assert a.is_held() and not b.is_held()
        with freeze(T0 + dt.timedelta(seconds=10)):
            assert await a.acquire()  # renewed: now until T0 + 40 s
            assert not await b.acquire()
        with freeze(T0 + dt.timedelta(seconds=35)):
            assert not await b.acquire()  # the renewal counts
            assert not a.is_held()  # within the margin: a stops starting jobs
        # a stops renewing (hung or dead): b takes over once the lease lapses.
        with freeze(T0 + dt.timedelta(seconds=41)):
            assert await b.acquire()
            assert not await a.acquire()
            assert not a.is_held() and b.is_held()
            await a.release()  # not a's to release: no effect
            assert (await lease_row(sessionmaker_)).holder == "b"
            assert not await a.acquire()
            # b stops cleanly: the lease is free at once.
            await b.release()
            assert await a.acquire()
        assert (await lease_row(sessionmaker_)).holder == "a"
    finally:
        await engine_b.dispose()


async def test_concurrent_candidates_elect_exactly_one(sessionmaker_, settings):
    """Many rounds of candidates racing for an absent or expired lease (the
    insert race included): every round exactly one wins."""
    engines = [create_engine(settings) for _ in range(4)]
    try:
        leases = [
            LeaderLease(make_sessionmaker(e), holder=f"c{i}", seconds=30)
            for i, e in enumerate(engines)
        ]
        for round_ in range(15):
            if round_ % 2 == 0:
                async with sessionmaker_() as s:
                    await s.execute(delete(SchedulerLease))
                    await s.commit()
            at = T0 + dt.timedelta(minutes=round_)  # every previous lease has expired
            with freeze(at):
                won = await asyncio.gather(*(lease.acquire() for lease in leases))
                assert sum(won) == 1, won
                row = await lease_row(sessionmaker_)
                assert row.holder == f"c{won.index(True)}"
    finally:
        for e in engines:
            await e.dispose()


# --- jobs -----------------------------------------------------------------------


async def test_job_runs_at_its_interval_even_across_leaders(sessionmaker_, settings, job):
    calls: list[dt.datetime] = []

    async def sweep(session: AsyncSession) -> None:
        calls.append(now())

    name = job(sweep, dt.timedelta(minutes=10))
    with freeze(T0):
        assert name in await run_due_jobs(sessionmaker_, settings)
        assert name not in await run_due_jobs(sessionmaker_, settings)
    run = await job_run(sessionmaker_, name)
    assert (run.last_started_at, run.last_finished_at, run.last_error) == (T0, T0, None)

    # A new leader (another engine, nothing in memory) does not repeat it early.
    engine_b = create_engine(settings)
    try:
        other = make_sessionmaker(engine_b)
        with freeze(T0 + dt.timedelta(minutes=9, seconds=59)):
            assert name not in await run_due_jobs(other, settings)
        with freeze(T0 + dt.timedelta(minutes=10)):
            assert name in await run_due_jobs(other, settings)
    finally:
        await engine_b.dispose()
    assert calls == [T0, T0 + dt.timedelta(minutes=10)]


async def test_wall_clock_job_runs_once_per_point(sessionmaker_, settings, job):
    calls: list[dt.datetime] = []

    async def nightly(session: AsyncSession) -> None:
        calls.append(now())

    name = job(nightly, "daily 02:00")  # 18:00 UTC
    first = dt.datetime(2026, 3, 1, 18, 0, 5, tzinfo=UTC)
    with freeze(first):  # never run: catches up at once
        assert await run_due_jobs(sessionmaker_, settings) == [name]
    with freeze(first + dt.timedelta(hours=23)):
        assert await run_due_jobs(sessionmaker_, settings) == []
    with freeze(first + dt.timedelta(days=1)):
        assert await run_due_jobs(sessionmaker_, settings) == [name]
    with freeze(first + dt.timedelta(days=3)):  # missed two points: runs once
        assert await run_due_jobs(sessionmaker_, settings) == [name]
        assert await run_due_jobs(sessionmaker_, settings) == []
    assert len(calls) == 3


async def test_failed_job_is_recorded_and_does_not_stop_the_others(sessionmaker_, settings, job):
    async def broken(session: AsyncSession) -> None:
        raise RuntimeError("目录服务不可用")

    ok: list[int] = []

    async def fine(session: AsyncSession) -> None:
        ok.append(1)

    bad = job(broken, dt.timedelta(minutes=1), name="a." + unique())
    good = job(fine, dt.timedelta(minutes=1), name="b." + unique())
    with freeze(T0):
        assert await run_due_jobs(sessionmaker_, settings) == [bad, good]
    run = await job_run(sessionmaker_, bad)
    assert run.last_error == "RuntimeError: 目录服务不可用"
    assert run.last_finished_at == T0
    assert ok == [1]
    # It is tried again at its next interval; a success clears the error.
    scheduler.unregister(bad)
    job(fine, dt.timedelta(minutes=1), name=bad)
    with freeze(T0 + dt.timedelta(minutes=1)):
        assert await run_due_jobs(sessionmaker_, settings) == [bad, good]
    assert (await job_run(sessionmaker_, bad)).last_error is None


# --- workers ---------------------------------------------------------------------


class Workers:
    """Worker tasks, each with its own engine, stoppable one by one."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engines: dict[str, Any] = {}
        self.stops: dict[str, asyncio.Event] = {}
        self.tasks: dict[str, asyncio.Task[None]] = {}

    def start(self, worker_id: str) -> None:
        engine = create_engine(self.settings)
        self.engines[worker_id] = engine
        self.stops[worker_id] = asyncio.Event()
        self.tasks[worker_id] = asyncio.create_task(
            run_worker(
                make_sessionmaker(engine),
                self.settings,
                stop=self.stops[worker_id],
                embedded=False,
                worker_id=worker_id,
            )
        )

    async def stop(self, worker_id: str) -> None:
        self.stops[worker_id].set()
        await asyncio.wait_for(self.tasks.pop(worker_id), 20)
        await self.engines.pop(worker_id).dispose()

    def alive(self) -> bool:
        return not any(t.done() for t in self.tasks.values())

    async def close(self) -> None:
        for worker_id in list(self.tasks):
            await self.stop(worker_id)


@pytest.fixture
async def workers(settings) -> AsyncIterator[Callable[..., Workers]]:
    made: list[Workers] = []

    def make(**changes: Any) -> Workers:
        w = Workers(tuned(settings, **changes))
        made.append(w)
        return w

    yield make
    for w in made:
        await w.close()


async def noted(maker: async_sessionmaker[AsyncSession], table: Table) -> list[Any]:
    async with maker() as s:
        return list((await s.execute(select(table).order_by(table.c.started))).all())


async def test_two_workers_one_leader_then_handover_on_clean_stop(
    sessionmaker_, job, runs, workers
):
    name = job(noting(runs, "tick", seconds=0.05), dt.timedelta(milliseconds=200))
    pool = workers(leader_lease_seconds=5, outbox_poll_seconds=0.05)
    pool.start("w1")
    pool.start("w2")
    await asyncio.sleep(3)
    assert pool.alive()
    first = await noted(sessionmaker_, runs)
    assert len(first) >= 5
    leaders = {r.worker for r in first}
    assert len(leaders) == 1, f"one leader at a time: {leaders}"
    [leader] = leaders
    assert (await lease_row(sessionmaker_)).holder == leader
    # Runs never overlap.
    for prev, nxt in itertools.pairwise(first):
        assert prev.ended <= nxt.started

    # The leader stops cleanly: it gives the lease up, the other takes over.
    await pool.stop(leader)
    follower = ({"w1", "w2"} - {leader}).pop()

    async def taken_over() -> bool:
        return any(r.worker == follower for r in await noted(sessionmaker_, runs))

    await wait_until(taken_over, 5, "the other worker to take over")
    assert (await lease_row(sessionmaker_)).holder == follower
    assert (await job_run(sessionmaker_, name)).last_error is None


async def test_takeover_only_after_a_dead_leaders_lease_lapses(sessionmaker_, job, runs, workers):
    name = job(noting(runs, "tick"), dt.timedelta(milliseconds=100))
    dead = LeaderLease(sessionmaker_, holder="dead", seconds=5)
    start = now()
    with freeze(start):
        assert await dead.acquire()  # then never renews: the process died
    pool = workers(leader_lease_seconds=5, outbox_poll_seconds=0.05)
    pool.start("heir")
    await asyncio.sleep(1)
    assert await job_run(sessionmaker_, name) is None
    assert (await lease_row(sessionmaker_)).holder == "dead"

    with freeze(start + dt.timedelta(seconds=6)):

        async def ran() -> bool:
            return await job_run(sessionmaker_, name) is not None

        await wait_until(ran, 5, "the heir to run the job")
        assert (await lease_row(sessionmaker_)).holder == "heir"
    assert {r.worker for r in await noted(sessionmaker_, runs)} == {"heir"}


async def test_failing_job_does_not_kill_the_worker(sessionmaker_, job, runs, workers):
    attempts: list[int] = []

    async def broken(session: AsyncSession) -> None:
        attempts.append(1)
        raise LookupError("期限规则缺失")

    bad = job(broken, dt.timedelta(milliseconds=100))
    job(noting(runs, "fine"), dt.timedelta(milliseconds=100))
    pool = workers(leader_lease_seconds=5, outbox_poll_seconds=0.05)
    pool.start("w")

    async def several() -> bool:
        return len(attempts) >= 3 and len(await noted(sessionmaker_, runs)) >= 3

    await wait_until(several, 10, "repeated runs")
    assert pool.alive()
    run = await job_run(sessionmaker_, bad)
    assert run.last_error == "LookupError: 期限规则缺失"
    assert run.last_finished_at is not None
