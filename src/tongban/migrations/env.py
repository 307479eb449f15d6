"""Alembic environment: async engine, batch mode on SQLite (ALTER TABLE there
is limited), the URL from settings unless the caller passes a connection."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context

from tongban.models import metadata

config = context.config


def _run(connection: Any) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    from tongban.core.db import create_engine

    engine = create_engine(url=config.get_main_option("sqlalchemy.url") or None)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_run)
    finally:
        await engine.dispose()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    asyncio.run(_run_async())
