"""The event outbox and its worker: delivered once per handler, retried, parked,
and nothing lost when a worker is killed (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tongban.admin.outbox import (
    count_deliveries_by_status,
    get_failed_deliveries,
    retry_failed_delivery,
)
from tongban.core import outbox
from tongban.core.audit import AuditEntry
from tongban.core.clock import freeze, now
from tongban.core.db import create_engine, make_sessionmaker
from tongban.core.errors import Conflict, NotFound, PermissionDenied
from tongban.core.outbox import OutboxDelivery, OutboxEvent, record_event
from tongban.core.settings import Settings
from tongban.core.worker import LEASE_EXPIRED, claim, run_once, run_worker, worker_id_var
from tongban.identity.access import Actor

REGION = "370102000000"  # 济南市历下区
ADMIN = Actor(
    kind="staff",
    account_id=1,
    display_name="平台管理员",
    region_code="370000000000",
    via="session",
    roles=frozenset({"platform_admin"}),
)

Fn = Callable[[AsyncSession, OutboxEvent], Awaitable[None]]


def unique(prefix: str = "Test") -> str:
    return f"{prefix}.{uuid.uuid4().hex[:12]}"


@pytest.fixture
def subscribe() -> Iterator[Callable[[str, str, Fn], None]]:
    """Register test handlers in the global registry; remove them afterwards."""
    added: list[str] = []

    def add(event_name: str, handler_name: str, fn: Fn) -> None:
        outbox.handler(event_name, name=handler_name)(fn)
        added.append(event_name)

    yield add
    for name in added:
        outbox._handlers.pop(name, None)


def tuned(settings: Settings, **changes: Any) -> Settings:
    return settings.model_copy(update=changes)


async def record(maker: async_sessionmaker[AsyncSession], name: str, n: int = 1) -> list[int]:
    async with maker() as s:
        ids = [(await record_event(s, name, {"n": i}, region_code=REGION)).id for i in range(n)]
        await s.commit()
    return ids


async def deliveries(maker: async_sessionmaker[AsyncSession], name: str) -> list[OutboxDelivery]:
    async with maker() as s:
        return list(
            (
                await s.execute(
                    select(OutboxDelivery)
                    .join(OutboxEvent, OutboxEvent.id == OutboxDelivery.event_id)
                    .where(OutboxEvent.name == name)
                    .order_by(OutboxDelivery.id)
                )
            )
            .scalars()
            .all()
        )


async def drain(
    maker: async_sessionmaker[AsyncSession], settings: Settings, worker: str = "w"
) -> int:
    total = 0
    while n := await run_once(maker, settings, worker_id=worker):
        total += n
    return total


# --- 1, 2: transactional recording, once per handler -------------------------------


async def test_event_of_rolled_back_transaction_is_never_delivered(
    sessionmaker_, settings, subscribe
):
    name, calls = unique(), []

    async def h(session: AsyncSession, event: OutboxEvent) -> None:
        calls.append(event.id)

    subscribe(name, f"{name}.h", h)
    async with sessionmaker_() as s:
        await record_event(s, name, {"x": 1}, region_code=REGION)
        await s.rollback()
    assert await drain(sessionmaker_, settings) == 0
    assert calls == []
    assert await deliveries(sessionmaker_, name) == []


async def test_committed_event_is_delivered_once_to_each_handler(
    sessionmaker_, settings, subscribe
):
    name = unique()
    calls: dict[str, list[int]] = {"a": [], "b": []}

    def make(key: str) -> Fn:
        async def h(session: AsyncSession, event: OutboxEvent) -> None:
            assert event.name == name and event.payload == {"n": 0}
            assert event.region_code == REGION
            calls[key].append(event.id)

        return h

    subscribe(name, f"{name}.a", make("a"))
    subscribe(name, f"{name}.b", make("b"))
    [event_id] = await record(sessionmaker_, name)

    assert await drain(sessionmaker_, settings) == 2
    assert await drain(sessionmaker_, settings) == 0  # nothing left, nothing repeated
    assert calls == {"a": [event_id], "b": [event_id]}
    rows = await deliveries(sessionmaker_, name)
    assert [(r.status, r.attempts, r.locked_by) for r in rows] == [("done", 1, None)] * 2
    assert all(r.done_at is not None for r in rows)


async def test_handler_effects_commit_with_the_done_mark(sessionmaker_, settings, subscribe):
    """A handler's writes and the done mark are one transaction: a failure after
    the handler wrote leaves no trace of the write."""
    name, target = unique(), unique("Test.target")
    fail = [True]

    async def h(session: AsyncSession, event: OutboxEvent) -> None:
        await record_event(session, target, {"from": event.id}, region_code=REGION)
        if fail[0]:
            raise RuntimeError("after writing")

    subscribe(name, f"{name}.h", h)
    await record(sessionmaker_, name)
    with freeze(now()):
        await run_once(sessionmaker_, settings, worker_id="w")
    async with sessionmaker_() as s:
        count = select(func.count()).select_from(OutboxEvent).where(OutboxEvent.name == target)
        assert (await s.execute(count)).scalar_one() == 0
    fail[0] = False
    with freeze(now() + dt.timedelta(hours=2)):
        assert await run_once(sessionmaker_, settings, worker_id="w") == 1
    async with sessionmaker_() as s:
        assert (await s.execute(count)).scalar_one() == 1


# --- 3, 4: retries, backoff, parking, the admin view -------------------------------


async def test_failing_handler_is_retried_with_backoff_until_it_succeeds(
    sessionmaker_, settings, subscribe
):
    settings = tuned(settings, outbox_backoff_seconds=10.0, outbox_max_attempts=5)
    name, calls = unique(), []

    async def flaky(session: AsyncSession, event: OutboxEvent) -> None:
        calls.append(now())
        if len(calls) <= 2:
            raise ConnectionError(f"下游系统不可用 (try {len(calls)})")

    subscribe(name, f"{name}.flaky", flaky)
    t0 = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)
    with freeze(t0):
        await record(sessionmaker_, name)
        assert await run_once(sessionmaker_, settings, worker_id="w") == 1
    [d] = await deliveries(sessionmaker_, name)
    assert (d.status, d.attempts) == ("pending", 1)
    assert d.last_error == "ConnectionError: 下游系统不可用 (try 1)"
    first_delay = (d.available_at - t0).total_seconds()
    assert 10.0 <= first_delay <= 11.0  # backoff, with at most 10% jitter

    with freeze(t0 + dt.timedelta(seconds=9)):  # not yet due
        assert await run_once(sessionmaker_, settings, worker_id="w") == 0
    t1 = t0 + dt.timedelta(seconds=12)
    with freeze(t1):
        assert await run_once(sessionmaker_, settings, worker_id="w") == 1
    [d] = await deliveries(sessionmaker_, name)
    assert (d.status, d.attempts) == ("pending", 2)
    assert 20.0 <= (d.available_at - t1).total_seconds() <= 22.0  # doubled

    with freeze(t1 + dt.timedelta(seconds=19)):
        assert await run_once(sessionmaker_, settings, worker_id="w") == 0
    with freeze(t1 + dt.timedelta(seconds=23)):
        assert await run_once(sessionmaker_, settings, worker_id="w") == 1
    [d] = await deliveries(sessionmaker_, name)
    assert (d.status, d.attempts, d.locked_until) == ("done", 3, None)
    assert len(calls) == 3


async def test_always_failing_handler_is_parked_and_shown_to_admins(
    sessionmaker_, settings, subscribe
):
    settings = tuned(settings, outbox_backoff_seconds=1.0, outbox_max_attempts=3)
    name, broken = unique(), [True]
    raw_id = "110101199003071234"

    async def h(session: AsyncSession, event: OutboxEvent) -> None:
        if broken[0]:
            raise ValueError(f"申请人 {raw_id} 的数据不完整")

    subscribe(name, f"{name}.h", h)
    t = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)
    with freeze(t):
        await record(sessionmaker_, name)
    for _ in range(5):
        with freeze(t):
            await run_once(sessionmaker_, settings, worker_id="w")
        t += dt.timedelta(hours=1)
    [d] = await deliveries(sessionmaker_, name)
    assert (d.status, d.attempts, d.locked_by) == ("failed", 3, None)

    async with sessionmaker_() as s:
        counts = await count_deliveries_by_status(s, ADMIN)
        failed = await get_failed_deliveries(s, ADMIN)
    assert (counts.failed, counts.pending, counts.in_progress) == (1, 0, 0)
    assert [(f.id, f.event_name, f.handler, f.attempts) for f in failed] == [
        (d.id, name, f"{name}.h", 3)
    ]
    # The error is visible, its type and message, with the identity number masked.
    assert failed[0].last_error == "ValueError: 申请人 110101********1234 的数据不完整"
    assert raw_id not in failed[0].last_error

    # Outside the admin's region, or without the role: nothing.
    other = Actor(
        kind="staff",
        account_id=2,
        display_name="x",
        region_code="440000000000",
        via="session",
        roles=frozenset({"platform_admin"}),
    )
    clerk = Actor(
        kind="staff",
        account_id=3,
        display_name="y",
        region_code="370000000000",
        via="session",
        roles=frozenset({"clerk"}),
    )
    async with sessionmaker_() as s:
        assert await get_failed_deliveries(s, other) == []
        with pytest.raises(NotFound):
            await retry_failed_delivery(s, other, delivery_id=d.id)
        with pytest.raises(PermissionDenied):
            await get_failed_deliveries(s, clerk)

    # The administrator fixes the cause and retries: audited, delivered.
    broken[0] = False
    async with sessionmaker_() as s:
        row = await retry_failed_delivery(s, ADMIN, delivery_id=d.id)
        assert (row.status, row.attempts) == ("pending", 0)
        await s.commit()
    async with sessionmaker_() as s:
        with pytest.raises(Conflict):
            await retry_failed_delivery(s, ADMIN, delivery_id=d.id)
        entry = (
            await s.execute(
                select(AuditEntry).where(AuditEntry.action == "outbox.delivery_retried")
            )
        ).scalar_one()
    assert (entry.actor, entry.target_id, entry.details["previous_attempts"]) == (
        "account:1",
        str(d.id),
        3,
    )
    assert await drain(sessionmaker_, settings) == 1
    [d] = await deliveries(sessionmaker_, name)
    assert (d.status, d.attempts) == ("done", 1)


async def test_a_permanent_error_is_parked_at_once(sessionmaker_, settings, subscribe):
    """A handler that says retrying cannot help (``PermanentError``: the data
    must change first) is parked after its first attempt, with its message."""
    from tongban.core.worker import PermanentError

    settings = tuned(settings, outbox_backoff_seconds=1.0, outbox_max_attempts=8)
    name = unique()

    async def h(session: AsyncSession, event: OutboxEvent) -> None:
        raise PermanentError("营业执照的持证主体应为法人，办件不是以企业名义申请的")

    subscribe(name, f"{name}.h", h)
    await record(sessionmaker_, name)
    await run_once(sessionmaker_, settings, worker_id="w")
    [d] = await deliveries(sessionmaker_, name)
    assert (d.status, d.attempts, d.locked_by) == ("failed", 1, None)
    assert d.last_error.startswith("PermanentError: 营业执照的持证主体应为法人")


async def test_delivery_whose_handler_is_gone_is_parked_with_a_clear_message(
    sessionmaker_, settings, subscribe
):
    name = unique()

    async def h(session: AsyncSession, event: OutboxEvent) -> None:  # pragma: no cover
        raise AssertionError

    subscribe(name, f"{name}.h", h)
    await record(sessionmaker_, name)
    outbox._handlers.pop(name)  # the handler was removed in a later release
    assert await drain(sessionmaker_, settings) == 1
    [d] = await deliveries(sessionmaker_, name)
    assert d.status == "failed"
    assert f"handler not registered in this worker: {name}.h" in d.last_error


async def test_worker_whose_lease_lapsed_cannot_commit(sessionmaker_, settings, subscribe):
    """Fencing: a slow worker whose lease expired rolls its work back."""
    name, calls = unique(), []

    async def h(session: AsyncSession, event: OutboxEvent) -> None:
        calls.append(worker_id_var.get())

    subscribe(name, f"{name}.h", h)
    await record(sessionmaker_, name)
    t = now()
    with freeze(t):
        [slow] = await claim(sessionmaker_, settings, worker_id="slow")
        assert await run_once(sessionmaker_, settings, worker_id="fast") == 0  # leased
    with freeze(t + dt.timedelta(seconds=settings.leader_lease_seconds + 1)):
        assert await run_once(sessionmaker_, settings, worker_id="fast") == 1
        from tongban.core.worker import _handle, _load_events

        events = await _load_events(sessionmaker_, {slow.event_id})
        outcome = await _handle(
            sessionmaker_, settings, slow, events[slow.event_id], worker_id="slow"
        )
    assert outcome == "lost"
    [d] = await deliveries(sessionmaker_, name)
    assert (d.status, d.attempts, d.locked_by) == ("done", 2, None)
    assert d.last_error == LEASE_EXPIRED  # the first claim never finished


async def test_a_handler_that_kills_its_worker_is_parked_after_max_attempts(
    sessionmaker_, settings, subscribe
):
    settings = tuned(settings, outbox_max_attempts=2)
    name = unique()

    async def h(session: AsyncSession, event: OutboxEvent) -> None:  # pragma: no cover
        raise AssertionError("never reached: the worker dies before")

    subscribe(name, f"{name}.h", h)
    await record(sessionmaker_, name)
    t = now()
    for i in range(2):  # two workers claim it and die
        with freeze(t + dt.timedelta(minutes=i)):
            assert len(await claim(sessionmaker_, settings, worker_id=f"dies-{i}")) == 1
    with freeze(t + dt.timedelta(minutes=5)):
        assert await run_once(sessionmaker_, settings, worker_id="w") == 1
    [d] = await deliveries(sessionmaker_, name)
    assert (d.status, d.attempts, d.last_error) == ("failed", 3, LEASE_EXPIRED)


# --- 5, 6: real processes ------------------------------------------------------------

WORKER_SCRIPT = r"""
import asyncio, json, os, sys
from sqlalchemy import text
from tongban.core.outbox import handler
from tongban.core.settings import Settings
from tongban.core.worker import worker_id_var, worker_main

cfg = json.loads(sys.argv[1])

@handler(cfg["event"], name=cfg["handler"])
async def effect(session, event):
    with open(cfg["started_log"], "a") as f:
        f.write(f"{event.id}\n")
    await session.execute(
        text(f"INSERT INTO {cfg['table']} (event_id, worker) VALUES (:e, :w)"),
        {"e": event.id, "w": worker_id_var.get()},
    )
    await asyncio.sleep(cfg["sleep"])

async def main():
    # Say "ready" at the worker's first pause: its signal handlers are installed by then.
    asyncio.get_running_loop().call_soon(lambda: print("ready", flush=True))
    await worker_main(Settings(**cfg["settings"]))

asyncio.run(main())
"""


@pytest.fixture
async def effects(sessionmaker_) -> AsyncIterator[Table]:
    """A table of handler effects, one row per committed handler call; a second
    call for the same event violates the unique constraint (and fails loudly)."""
    md = MetaData()
    table = Table(
        f"test_effect_{uuid.uuid4().hex[:8]}",
        md,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column(
            "event_id", BigInteger().with_variant(Integer(), "sqlite"), nullable=False, unique=True
        ),
        Column("worker", String(100), nullable=False),
    )
    engine = sessionmaker_.kw["bind"]
    async with engine.begin() as conn:
        await conn.run_sync(md.create_all)
    yield table
    async with engine.begin() as conn:
        await conn.run_sync(md.drop_all)


def start_worker(
    tmp_path: Path, settings: Settings, table: Table, name: str, *, sleep: float
) -> subprocess.Popen[str]:
    script = tmp_path / "worker_proc.py"
    script.write_text(WORKER_SCRIPT)
    cfg = {
        "event": name,
        "handler": f"{name}.effect",
        "table": table.name,
        "sleep": sleep,
        "started_log": str(tmp_path / "started.log"),
        "settings": {
            "data_dir": str(settings.data_dir),
            "database_url": settings.database_url,
            "embedded_worker": False,
            "log_json": False,
            "log_level": "WARNING",
            "leader_lease_seconds": settings.leader_lease_seconds,
            "outbox_batch_size": settings.outbox_batch_size,
            "outbox_poll_seconds": settings.outbox_poll_seconds,
            "secret_key": "test",
        },
    }
    proc = subprocess.Popen(  # noqa: S603 -- our own interpreter and script
        [sys.executable, str(script), json.dumps(cfg)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read() if proc.stderr else ""
    return proc


def effect_handler(table: Table) -> Fn:
    """The same handler, in this process (record_event needs the registration)."""

    async def effect(session: AsyncSession, event: OutboxEvent) -> None:
        await session.execute(insert(table).values(event_id=event.id, worker=worker_id_var.get()))

    return effect


async def wait_until(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def status_counts(maker: async_sessionmaker[AsyncSession], name: str) -> dict[str, int]:
    async with maker() as s:
        rows = await s.execute(
            select(OutboxDelivery.status, func.count())
            .join(OutboxEvent, OutboxEvent.id == OutboxDelivery.event_id)
            .where(OutboxEvent.name == name)
            .group_by(OutboxDelivery.status)
        )
        return dict(rows.all())


async def test_killing_the_worker_mid_run_loses_nothing(
    sessionmaker_, settings, subscribe, effects, tmp_path
):
    settings = tuned(
        settings, leader_lease_seconds=5, outbox_batch_size=10, outbox_poll_seconds=0.05
    )
    name, n = unique(), 40
    subscribe(name, f"{name}.effect", effect_handler(effects))
    event_ids = await record(sessionmaker_, name, n)

    proc = start_worker(tmp_path, settings, effects, name, sleep=0.2)
    started_log = tmp_path / "started.log"

    async def mid_handler() -> bool:
        """Some events handled, and one handler running (started, not committed)."""
        if (await status_counts(sessionmaker_, name)).get("done", 0) < 10:
            return False
        started = {int(x) for x in started_log.read_text().split()}
        async with sessionmaker_() as s:
            committed = set((await s.execute(select(effects.c.event_id))).scalars())
        return bool(started - committed)

    try:
        await wait_until(mid_handler, 60, "the worker to be in the middle of a handler")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL

    started = {int(x) for x in started_log.read_text().split()}
    async with sessionmaker_() as s:
        committed = set((await s.execute(select(effects.c.event_id))).scalars())
        held = (
            (
                await s.execute(
                    select(OutboxDelivery.event_id).where(
                        OutboxDelivery.handler == f"{name}.effect",
                        OutboxDelivery.status == "pending",
                        OutboxDelivery.locked_until > now(),
                    )
                )
            )
            .scalars()
            .all()
        )
    assert 10 <= len(committed) < n
    assert started - committed, "the kill landed while a handler was running"
    assert held, "the killed worker held claimed deliveries"

    # Before the leases expire another worker leaves the held deliveries alone …
    await drain(sessionmaker_, settings, "rescuer")
    pending = await deliveries(sessionmaker_, name)
    assert {d.event_id for d in pending if d.status == "pending"} == set(held)
    # … and takes them over once they have.
    with freeze(now() + dt.timedelta(seconds=settings.leader_lease_seconds + 1)):
        assert await drain(sessionmaker_, settings, "rescuer") == len(held)

    rows = await deliveries(sessionmaker_, name)
    assert {d.status for d in rows} == {"done"}
    async with sessionmaker_() as s:
        effect_rows = (await s.execute(select(effects.c.event_id, effects.c.worker))).all()
    assert sorted(e for e, _ in effect_rows) == sorted(event_ids)  # every event, once
    assert {e for e, w in effect_rows if w == "rescuer"} >= set(held)
    retried = {d.event_id: d for d in rows if d.event_id in set(held)}
    assert all(d.attempts == 2 and d.last_error == LEASE_EXPIRED for d in retried.values())


@pytest.mark.parametrize("mode", ["tasks", "processes"])
async def test_two_workers_handle_every_delivery_exactly_once(
    sessionmaker_, settings, subscribe, effects, tmp_path, mode
):
    """Two asyncio tasks with their own engines, or two processes (SQLite's own
    file lock and busy_timeout, PostgreSQL's SKIP LOCKED across connections)."""
    settings = tuned(settings, outbox_batch_size=10, outbox_poll_seconds=0.05)
    name, n = unique(), 200
    subscribe(name, f"{name}.effect", effect_handler(effects))

    engines, stops, tasks, procs = [], [], [], []
    if mode == "tasks":
        for i in range(2):
            engines.append(create_engine(settings))
            stops.append(asyncio.Event())
            worker = run_worker(
                make_sessionmaker(engines[i]),
                settings,
                stop=stops[i],
                embedded=False,
                worker_id=f"task-{i}",
            )
            tasks.append(asyncio.create_task(worker))
    else:
        procs = [start_worker(tmp_path, settings, effects, name, sleep=0.0) for _ in range(2)]

    async def all_done() -> bool:
        assert not any(t.done() for t in tasks), "a worker ended"
        assert all(p.poll() is None for p in procs), "a worker ended"
        return (await status_counts(sessionmaker_, name)).get("done", 0) == n

    try:
        event_ids = await record(sessionmaker_, name, n)
        await wait_until(all_done, 120, "all deliveries")
    finally:
        for stop in stops:
            stop.set()
        for p in procs:
            p.send_signal(signal.SIGTERM)
        await asyncio.wait_for(asyncio.gather(*tasks), 20)
        for e in engines:
            await e.dispose()
        codes = [p.wait(timeout=20) for p in procs]
    assert codes == [0] * len(procs), [p.stderr.read() for p in procs if p.stderr]

    rows = await deliveries(sessionmaker_, name)
    assert [(d.status, d.attempts, d.last_error) for d in rows] == [("done", 1, None)] * n
    async with sessionmaker_() as s:
        effect_rows = (await s.execute(select(effects.c.event_id, effects.c.worker))).all()
    assert sorted(e for e, _ in effect_rows) == sorted(event_ids)
    workers = {w.split("/")[0] for _, w in effect_rows}  # a worker's lanes are <id>/<n>
    assert len(workers) == 2, f"both workers should have taken part: {workers}"


async def test_stopping_gives_back_unhandled_claims(sessionmaker_, settings, subscribe):
    """A clean stop mid-batch releases the rest of the batch at once."""
    name, stop = unique(), asyncio.Event()

    async def h(session: AsyncSession, event: OutboxEvent) -> None:
        stop.set()  # stop after the first delivery of the batch

    subscribe(name, f"{name}.h", h)
    await record(sessionmaker_, name, 5)
    assert await run_once(sessionmaker_, settings, worker_id="w", stop=stop) == 1
    rows = await deliveries(sessionmaker_, name)
    assert (
        sorted((d.status, d.attempts, d.locked_by) for d in rows)
        == [("done", 1, None)] + [("pending", 0, None)] * 4
    )
    assert await drain(sessionmaker_, settings, "other") == 4


async def test_worker_loop_survives_database_errors(
    sessionmaker_, settings, subscribe, monkeypatch
):
    settings = tuned(settings, outbox_poll_seconds=0.01)
    name, calls = unique(), []

    async def h(session: AsyncSession, event: OutboxEvent) -> None:
        calls.append(event.id)

    subscribe(name, f"{name}.h", h)
    from tongban.core import worker

    real_claim, failures = worker.claim, [3]

    async def broken_claim(*a: Any, **kw: Any) -> Any:
        if failures[0]:
            failures[0] -= 1
            raise OSError("database unavailable")
        return await real_claim(*a, **kw)

    monkeypatch.setattr(worker, "claim", broken_claim)
    await record(sessionmaker_, name)
    stop = asyncio.Event()
    task = asyncio.create_task(run_worker(sessionmaker_, settings, stop=stop, embedded=True))

    async def delivered() -> bool:
        return bool(calls)

    await wait_until(delivered, 10, "delivery after errors")
    stop.set()
    await asyncio.wait_for(task, 10)
    assert failures == [0] and len(calls) == 1


async def test_counts_show_queue_state(sessionmaker_, settings, subscribe):
    name = unique()

    async def h(session: AsyncSession, event: OutboxEvent) -> None:
        return None

    subscribe(name, f"{name}.h", h)
    t = now()
    with freeze(t):
        await record(sessionmaker_, name, 3)
    async with sessionmaker_() as s:
        await s.execute(
            update(OutboxDelivery)
            .where(OutboxDelivery.handler == f"{name}.h")
            .values(available_at=t - dt.timedelta(minutes=5))
        )
        await s.commit()
    with freeze(t):
        await claim(sessionmaker_, settings, worker_id="w", limit=1)
        async with sessionmaker_() as s:
            c = await count_deliveries_by_status(s, ADMIN)
    assert (c.pending, c.in_progress, c.done, c.failed) == (3, 1, 0, 0)
    assert c.oldest_due_at == t - dt.timedelta(minutes=5)


async def test_leases_of_a_long_batch_are_renewed(sessionmaker_, settings, subscribe):
    """While a slow handler runs, the rest of its batch stays leased (renewed
    every third of the lease), so no other worker takes it over meanwhile."""
    settings = tuned(settings, leader_lease_seconds=5)
    name, seen = unique(), []

    async def h(session: AsyncSession, event: OutboxEvent) -> None:
        if event.payload["n"] == 0:
            await asyncio.sleep(2.2)  # longer than a third of the lease
        else:
            until = (
                await session.execute(
                    select(OutboxDelivery.locked_until).where(OutboxDelivery.event_id == event.id)
                )
            ).scalar_one()
            seen.append(until)

    subscribe(name, f"{name}.h", h)
    await record(sessionmaker_, name, 2)
    claimed_at = now()
    assert await run_once(sessionmaker_, settings, worker_id="w") == 2
    [until] = seen
    assert until > claimed_at + dt.timedelta(seconds=6)  # renewed after ~1.7 s, for 5 s more
