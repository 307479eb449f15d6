"""Scheduled work of the licences domain (run by the leader worker) and the
reminder SMS it leads to (an outbox handler, run by any worker)."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from tongban.core.outbox import OutboxEvent, handler
from tongban.core.scheduler import scheduled
from tongban.licences import expiry

log = logging.getLogger("tongban.licences")


@scheduled("licences.expiry_reminders", every="hourly :07")
async def expiry_reminders(session: AsyncSession) -> None:
    """主动提醒: licences due a reminder before expiry, at most ``expiry.BATCH`` per run,
    in daytime only (the SMS follows at once); the next runs take the rest."""
    if not expiry.in_sms_hours():
        return
    run = await expiry.send_reminders(session)
    if run.reminded:
        log.info(
            "licence expiry reminders",
            extra={"fields": {"reminded": run.reminded, "renewals": run.renewals}},
        )


@handler(expiry.EVENT, name="licences.expiry_sms")
async def expiry_sms(session: AsyncSession, event: OutboxEvent) -> None:
    await expiry.send_sms(session, event.payload)
