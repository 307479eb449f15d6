"""Test fixtures: a real database (SQLite, or PostgreSQL when
``TONGBAN_TEST_DATABASE_URL`` is set), migrated once by Alembic, then a clean
state for every test.

- SQLite: the migrated database (with the bundled region tree) is a template
  file; each test gets its own copy.
- PostgreSQL: a database of its own for the run, created on the configured
  server and dropped afterwards; tables that grow with use are truncated after
  each test (reference tables — regions — stay).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.testclient import TestClient

from tongban.core.db import create_engine, make_sessionmaker
from tongban.core.settings import Settings
from tongban.models import metadata

PG_URL = os.environ.get("TONGBAN_TEST_DATABASE_URL", "").strip()
REFERENCE_TABLES = {"region", "alembic_version"}


def _pg_admin_url() -> str:
    return make_url(PG_URL).set(drivername="postgresql").render_as_string(hide_password=False)


async def _pg_exec(url: str, sql: str) -> None:
    import asyncpg

    u = make_url(url)
    conn = await asyncpg.connect(
        user=u.username, password=u.password, host=u.host, port=u.port, database=u.database
    )
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _prepare(url: str, data_dir: Path) -> None:
    from tongban.core.migrate import upgrade

    settings = Settings(data_dir=data_dir, database_url=url, embedded_worker=False)
    engine = create_engine(settings)
    try:
        await upgrade(engine)
        try:
            from tongban.regions.service import load_bundled_regions
        except ImportError:  # the regions package is still being written
            return
        maker = make_sessionmaker(engine)
        async with maker() as s:
            await load_bundled_regions(s)
            await s.commit()
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def database_kind() -> str:
    return "postgresql" if PG_URL else "sqlite"


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of the migrated database (SQLite template file or PostgreSQL test database)."""
    base = tmp_path_factory.mktemp("db")
    if PG_URL:
        name = f"tongban_test_{uuid.uuid4().hex[:10]}"
        admin = _pg_admin_url()
        asyncio.run(_pg_exec(admin, f'CREATE DATABASE "{name}"'))
        url = make_url(admin).set(database=name).render_as_string(hide_password=False)
        try:
            asyncio.run(_prepare(url, base))
            yield url
        finally:
            asyncio.run(_pg_exec(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    else:
        path = base / "template.db"
        url = f"sqlite:///{path}"
        asyncio.run(_prepare(url, base))
        con = sqlite3.connect(path)
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.execute("PRAGMA journal_mode=DELETE")
        con.close()
        yield url


def _truncate_sql() -> str:
    names = [t.name for t in metadata.sorted_tables if t.name not in REFERENCE_TABLES]
    return "TRUNCATE " + ", ".join(f'"{n}"' for n in names) + " RESTART IDENTITY CASCADE"


@pytest.fixture
def settings(template_db: str, tmp_path: Path) -> Iterator[Settings]:
    """Settings pointing at a clean database for this test."""
    if PG_URL:
        url = template_db
    else:
        path = tmp_path / "tongban.db"
        shutil.copyfile(make_url(template_db).database, path)
        url = f"sqlite:///{path}"
    s = Settings(
        data_dir=tmp_path,
        database_url=url,
        embedded_worker=False,
        log_json=False,
        log_level="WARNING",
        secret_key="test-secret-key-not-for-production",
        propagate_errors=True,  # a test sees the exception behind a 500
    )
    yield s
    if PG_URL:
        asyncio.run(
            _pg_exec(
                make_url(template_db)
                .set(drivername="postgresql")
                .render_as_string(hide_password=False),
                _truncate_sql(),
            )
        )


@pytest.fixture
def app(settings: Settings):
    from tongban.web.app import create_app

    return create_app(settings)


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def general(settings: Settings) -> Iterator[TestClient]:
    """The application without ``web.app.HotRoutes``: every route as FastAPI
    serves it, the reference a hot route's answers are compared with."""
    from tongban.web.app import HotRoutes, create_app

    app = create_app(settings)
    app.user_middleware = [m for m in app.user_middleware if m.cls is not HotRoutes]
    with TestClient(app, base_url="http://testserver") as c:
        yield c


@pytest.fixture
async def session(settings: Settings) -> AsyncIterator[AsyncSession]:
    """A session for service-level tests (commit explicitly to make data visible to the app)."""
    engine = create_engine(settings)
    maker = make_sessionmaker(engine)
    async with maker() as s:
        yield s
    await engine.dispose()


@pytest.fixture
async def sessionmaker_(settings: Settings):
    """An async sessionmaker bound to this test's database."""
    engine = create_engine(settings)
    yield make_sessionmaker(engine)
    await engine.dispose()
