"""Event delivery for administrators (事件投递监控): counts, failed deliveries, retry.

Only platform administrators, and only for deliveries whose region lies in
their own region's subtree. A retry writes an audit record. Services flush;
the request commits.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from tongban.core import audit, scope
from tongban.core.clock import now
from tongban.core.db import lock_for_update
from tongban.core.errors import Conflict, NotFound, PermissionDenied
from tongban.core.outbox import OutboxDelivery, OutboxEvent

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from tongban.identity.access import Actor

ADMIN_ROLE = "platform_admin"
STATUSES = ("pending", "done", "failed")


@dataclass(frozen=True)
class DeliveryCounts:
    pending: int
    done: int
    failed: int
    in_progress: int  # pending and leased to a worker right now
    oldest_due_at: dt.datetime | None  # earliest pending delivery already due: the queue's lag


@dataclass(frozen=True)
class FailedDelivery:
    id: int
    event_id: int
    event_name: str
    handler: str
    region_code: str
    attempts: int
    last_error: str | None
    event_created_at: dt.datetime
    parked_at: dt.datetime


def _require_admin(actor: Actor) -> None:
    if actor.kind != "staff" or ADMIN_ROLE not in actor.roles:
        raise PermissionDenied()


async def count_deliveries_by_status(session: AsyncSession, actor: Actor) -> DeliveryCounts:
    """Count the deliveries in the actor's region by status, with the queue's lag."""
    _require_admin(actor)
    in_scope = scope.in_subtree(OutboxDelivery.region_code, actor.region_code)
    by_status = dict(
        (
            await session.execute(
                select(OutboxDelivery.status, func.count())
                .where(in_scope)
                .group_by(OutboxDelivery.status)
            )
        ).all()
    )
    at = now()
    pending = (OutboxDelivery.status == "pending", in_scope)
    in_progress = (
        await session.execute(
            select(func.count()).where(*pending, OutboxDelivery.locked_until > at)
        )
    ).scalar_one()
    oldest = (
        await session.execute(
            select(func.min(OutboxDelivery.available_at)).where(
                *pending, OutboxDelivery.available_at <= at
            )
        )
    ).scalar_one()
    return DeliveryCounts(
        pending=by_status.get("pending", 0),
        done=by_status.get("done", 0),
        failed=by_status.get("failed", 0),
        in_progress=in_progress,
        oldest_due_at=oldest,
    )


async def get_failed_deliveries(
    session: AsyncSession, actor: Actor, *, before_id: int | None = None, limit: int = 50
) -> list[FailedDelivery]:
    """Failed (parked) deliveries in the actor's region, newest first, paged by id."""
    _require_admin(actor)
    stmt = (
        select(
            OutboxDelivery.id,
            OutboxDelivery.event_id,
            OutboxEvent.name,
            OutboxDelivery.handler,
            OutboxDelivery.region_code,
            OutboxDelivery.attempts,
            OutboxDelivery.last_error,
            OutboxEvent.created_at,
            OutboxDelivery.available_at,
        )
        .join(OutboxEvent, OutboxEvent.id == OutboxDelivery.event_id)
        .where(
            OutboxDelivery.status == "failed",
            scope.in_subtree(OutboxDelivery.region_code, actor.region_code),
        )
        .order_by(OutboxDelivery.id.desc())
        .limit(max(1, min(limit, 200)))
    )
    if before_id is not None:
        stmt = stmt.where(OutboxDelivery.id < before_id)
    return [FailedDelivery(*row) for row in (await session.execute(stmt)).all()]


async def retry_failed_delivery(
    session: AsyncSession, actor: Actor, *, delivery_id: int
) -> OutboxDelivery:
    """Put a failed delivery back in the queue with a fresh set of attempts (audited)."""
    _require_admin(actor)
    row = (
        await lock_for_update(
            session,
            select(OutboxDelivery).where(
                OutboxDelivery.id == delivery_id,
                scope.in_subtree(OutboxDelivery.region_code, actor.region_code),
            ),
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound()
    if row.status != "failed":
        raise Conflict("只能重试处理失败的投递", code="delivery_not_failed")
    event_name = (
        await session.execute(select(OutboxEvent.name).where(OutboxEvent.id == row.event_id))
    ).scalar_one()
    previous_attempts = row.attempts
    row.status = "pending"
    row.attempts = 0
    row.available_at = now()
    row.locked_by = None
    row.locked_until = None
    await session.flush()
    await audit.record(
        session,
        actor=actor.ref,
        action="outbox.delivery_retried",
        target_type="outbox_delivery",
        target_id=row.id,
        region_code=row.region_code,
        details={
            "event_id": row.event_id,
            "event_name": event_name,
            "handler": row.handler,
            "previous_attempts": previous_attempts,
        },
    )
    return row
