"""The daily outbox purge (``core.jobs``): delivered deliveries past the
retention are deleted in batches; recent, pending and failed ones and every
event stay; retention 0 keeps everything (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, insert, select

from tongban.core import jobs
from tongban.core.clock import now
from tongban.core.outbox import OutboxDelivery, OutboxEvent
from tongban.core.scheduler import registered_jobs


async def _seed(session) -> dict[str, set[int]]:
    t = now()
    old, recent = t - dt.timedelta(days=40), t - dt.timedelta(days=5)
    event_id = (
        await session.execute(
            insert(OutboxEvent).returning(OutboxEvent.id),
            [
                {
                    "name": "test.purge",
                    "payload": {},
                    "region_code": "370102000000",
                    "created_at": old,
                }
            ],
        )
    ).scalar_one()
    rows = []
    kinds = []
    for _ in range(23):
        kinds.append("old_done")
        rows.append({"status": "done", "available_at": old, "done_at": old})
    for status, at, done, kind in [
        ("done", recent, recent, "recent_done"),
        ("done", old, recent, "late_done"),  # waited long, delivered recently
        ("pending", old, None, "pending"),
        ("failed", old, None, "failed"),
    ]:
        kinds.append(kind)
        rows.append({"status": status, "available_at": at, "done_at": done})
    ids = (
        (
            await session.execute(
                insert(OutboxDelivery).returning(OutboxDelivery.id, sort_by_parameter_order=True),
                [
                    {**r, "event_id": event_id, "handler": f"h{n}", "region_code": "370102000000"}
                    for n, r in enumerate(rows)
                ],
            )
        )
        .scalars()
        .all()
    )
    await session.commit()
    out: dict[str, set[int]] = {}
    for kind, i in zip(kinds, ids, strict=True):
        out.setdefault(kind, set()).add(i)
    return out


async def _left(session) -> set[int]:
    return set((await session.execute(select(OutboxDelivery.id))).scalars())


async def test_purge_deletes_only_old_delivered_rows(session) -> None:
    seeded = await _seed(session)
    everything = set().union(*seeded.values())
    assert await jobs.purge_deliveries(session, retention_days=0) == 0
    assert await _left(session) == everything

    deleted = await jobs.purge_deliveries(session, retention_days=30, batch=10)  # three batches
    assert deleted == 23
    assert await _left(session) == everything - seeded["old_done"]
    assert (await session.execute(select(func.count()).select_from(OutboxEvent))).scalar_one() == 1
    assert await jobs.purge_deliveries(session, retention_days=30) == 0


async def test_purge_stops_after_its_time_budget(session) -> None:
    seeded = await _seed(session)
    assert await jobs.purge_deliveries(session, retention_days=30, batch=5, budget_seconds=0) == 5
    assert len(await _left(session) & seeded["old_done"]) == 18


def test_the_job_is_registered_daily() -> None:
    job = next(j for j in registered_jobs() if j.name == "core.outbox_purge")
    assert job.schedule.hour == 3 and job.schedule.interval is None
