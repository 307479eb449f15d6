"""Fixtures for the region tests.

On PostgreSQL the test database keeps the ``region`` table between tests (a
reference table, see tests/conftest.py), so tests that import townships or
villages, or touch the bundled tree, put it back afterwards.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import delete, select

from tongban.regions.models import Department, Region
from tongban.regions.service import load_bundled_regions


@pytest.fixture
async def clean_regions(sessionmaker_, database_kind: str) -> AsyncIterator[None]:
    """Restore the bundled tree after the test (PostgreSQL; SQLite copies a fresh file per test)."""
    yield
    if database_kind != "postgresql":
        return
    async with sessionmaker_() as s:
        imported = select(Region.code).where(Region.level >= 4)
        await s.execute(delete(Department).where(Department.region_code.in_(imported)))
        await s.execute(delete(Region).where(Region.level >= 4))
        await load_bundled_regions(s)
        await s.commit()
