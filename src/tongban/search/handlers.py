"""Reactions to other domains' events: a published or retired implementation
changes what the item provider returns, so the index version moves."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tongban.core.outbox import handler
from tongban.search.service import mark_changed


@handler("catalogue.published")
async def reindex_after_publish(session: AsyncSession, event: Any) -> None:
    await mark_changed(session)
