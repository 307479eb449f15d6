"""Run Alembic migrations from code (CLI, tests, the bench harness)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(slug)s")
    if url:
        cfg.set_main_option("sqlalchemy.url", url)
    return cfg


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    cfg = alembic_config()
    async with engine.begin() as conn:

        def _do(sync_conn: object) -> None:
            cfg.attributes["connection"] = sync_conn
            command.upgrade(cfg, revision)

        await conn.run_sync(_do)


async def current_and_head(engine: AsyncEngine) -> tuple[str | None, str | None]:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    async with engine.connect() as conn:
        cur = await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())
    return cur, head
