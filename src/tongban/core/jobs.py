"""Scheduled jobs of the platform core (run by the leader worker)."""

from __future__ import annotations

import datetime as dt
import logging
import time

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from tongban.core.clock import now
from tongban.core.outbox import OutboxDelivery
from tongban.core.scheduler import scheduled
from tongban.core.settings import get_settings

log = logging.getLogger("tongban.outbox")

PURGE_BATCH = 5000
PURGE_SECONDS = 20.0  # a run stops after this long; the next run goes on


async def purge_deliveries(
    session: AsyncSession,
    *,
    retention_days: int,
    batch: int = PURGE_BATCH,
    budget_seconds: float = PURGE_SECONDS,
) -> int:
    """Delete delivered (``done``) deliveries finished more than
    ``retention_days`` ago, ``batch`` rows per transaction (on SQLite a long
    delete would hold the write lock), for at most ``budget_seconds``.
    Returns how many were deleted. Pending and failed deliveries stay: they
    are work still to do or to look at (``/admin`` outbox)."""
    if retention_days <= 0:
        return 0
    cutoff = now() - dt.timedelta(days=retention_days)
    d = OutboxDelivery
    # available_at <= done_at: the range is read from ix_outbox_delivery_due
    ids = (
        select(d.id)
        .where(d.status == "done", d.available_at < cutoff, d.done_at < cutoff)
        .limit(batch)
        .scalar_subquery()
    )
    stmt = delete(d).where(d.id.in_(ids)).execution_options(synchronize_session=False)
    total, started = 0, time.monotonic()
    while True:
        n = (await session.execute(stmt)).rowcount or 0
        await session.commit()
        total += n
        if n < batch or time.monotonic() - started > budget_seconds:
            return total


@scheduled("core.outbox_purge", every="daily 03:40")
async def outbox_purge(session: AsyncSession) -> None:
    deleted = await purge_deliveries(session, retention_days=get_settings().outbox_retention_days)
    log.info("outbox purge", extra={"fields": {"deleted": deleted}})
