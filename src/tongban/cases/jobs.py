"""Scheduled jobs of the cases domain (run by the leader worker)."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy.ext.asyncio import AsyncSession

from tongban.cases import supervision
from tongban.core.scheduler import scheduled

log = logging.getLogger("tongban.cases")


@scheduled("cases.supervision_sweep", every=dt.timedelta(minutes=10))
async def supervision_sweep(session: AsyncSession) -> None:
    changed = await supervision.sweep(session)
    log.info("supervision sweep", extra={"changed": changed})
